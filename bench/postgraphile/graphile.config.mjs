// PostGraphile 5 over purchasegraph's database: Amber preset, schema public, read-mostly
// production settings (no GraphiQL, no watch, no explain).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  throw new Error("DATABASE_URL is not set");
}

/** @type {GraphileConfig.Preset} */
const preset = {
  // The connection filter (the community plugin most PostGraphile APIs add) is what lets the
  // purchaser's graph leave out DISABLED subscriptions: effective_status(s) <> 'disabled'.
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  // purchasegraph has a table named `subscriptions`: its type `Subscription` would clash with
  // the root subscription type, which this plugin registers (realtime is not wanted anyway).
  // PgIndexBehaviorsPlugin hides relations, conditions and orderings that no full index backs;
  // license_assignments has only partial indexes (WHERE removed_at IS NULL), so without this the
  // subscription -> license assignments connection and the removedAt condition do not exist
  // (v4's default, ignoreIndexes, exposed them too).
  disablePlugins: ["SubscriptionPlugin", "PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: databaseUrl,
      schemas: ["public"],
      pubsub: false, // no LISTEN/NOTIFY: there are no subscriptions
      // pg's default pool size, the same as purchasegraph's default (max_size=10).
      poolConfig: { max: Number(process.env.PG_POOL_MAX ?? 10) },
    }),
  ],
  grafserv: {
    port: Number(process.env.PORT ?? 5678),
    graphqlPath: "/graphql",
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    watch: false,
    websockets: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
