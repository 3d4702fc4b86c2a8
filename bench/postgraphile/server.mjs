// PostGraphile 5 on node:http. DATABASE_URL (a Unix-socket URL such as
// postgresql://postgres:@/postgres?host=/path/to/dir works: pg reads ?host=) and PORT from the
// environment. Run on Node 20 as: node -r ./polyfill.cjs server.mjs
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import preset from "./graphile.config.mjs";

const port = Number(process.env.PORT ?? 5678);
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 65_000;
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
await pgl.getSchema(); // introspect before saying we are ready
server.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    await pgl.release(); // releases serv (it made it) and the pg pool
    process.exit(0);
  });
}
