// Apollo Client 3 against a running purchasegraph, as a frontend would use it; driven by
// tests/test_apollo_client.py, which reads the JSON report this prints as its last line.
//
//   node apollo.mjs GRAPHQL_URL SUBSCRIPTION_ID   (PURCHASEGRAPH_TOKEN: a bearer token of its purchaser)
//
// One run does every check (starting Node costs more than the checks): a query; the same query
// again, answered by the normalised cache with no request; a subscription through GraphQLWsLink
// (graphql-ws over the `ws` package: Node 20 has no WebSocket); a mutation whose result updates the
// cached `Subscription:<id>` entity and delivers an event to that subscription; a mutation refused
// with userErrors; automatic persisted queries (hash alone, PERSISTED_QUERY_NOT_FOUND, the text
// once, then the hash alone is enough). graphql-transport-ws acknowledges no subscribe, so after
// subscribing the script prints {"subscribed": true} and waits for a line on stdin: the test sends
// it once the gateway holds the feed, so the event cannot be missed.

import { createHash, randomUUID } from "node:crypto";
import { createInterface } from "node:readline";

import { ApolloClient, HttpLink, InMemoryCache, gql, split } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { getMainDefinition } from "@apollo/client/utilities/index.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, subscriptionId] = process.argv.slice(2);
const token = process.env.PURCHASEGRAPH_TOKEN;
if (!url || !subscriptionId || !token) {
  console.error("usage: PURCHASEGRAPH_TOKEN=... node apollo.mjs GRAPHQL_URL SUBSCRIPTION_ID");
  process.exit(2);
}
const EVENT_TIMEOUT_MS = 15_000;

/** Every request the HTTP link sends, with the body it sent and what came back. */
const requests = [];
async function recordingFetch(input, init) {
  const body = JSON.parse(init.body);
  const response = await fetch(input, init);
  const answer = await response.clone().json();
  requests.push({
    operationName: body.operationName,
    sentQuery: typeof body.query === "string",
    sha256Hash: body.extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    codes: (answer.errors ?? []).map((error) => error.extensions?.code ?? null),
  });
  return response;
}
const requestsSince = (start) => requests.slice(start);

const headers = { Authorization: `Bearer ${token}` };
const httpLink = new HttpLink({ uri: url, headers, fetch: recordingFetch });
const wsClient = createClient({
  url: url.replace(/^http/, "ws"),
  webSocketImpl: WebSocket,
  // A browser cannot set headers on a websocket: the token travels in connection_init.
  connectionParams: headers,
  retryAttempts: 0,
});
const client = new ApolloClient({
  link: split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(wsClient),
    httpLink,
  ),
  cache: new InMemoryCache(),
});

const MY_SUBSCRIPTIONS = gql`
  query MySubscriptions {
    viewer {
      user { id displayName }
      homeTenant {
        id
        subscriptions(first: 50) {
          edges { node { id status quantity product { id name } } }
        }
      }
    }
  }
`;
const QUANTITY = gql`
  fragment Quantity on Subscription { quantity }
`;
const ADD_LICENSES = gql`
  mutation AddLicenses($subscriptionId: ID!, $quantity: Int!, $key: String!) {
    addLicenses(subscriptionId: $subscriptionId, quantity: $quantity, idempotencyKey: $key) {
      subscription { id quantity }
      userErrors { code field message }
    }
  }
`;
const REMOVE_LICENSES = gql`
  mutation RemoveLicenses($subscriptionId: ID!, $quantity: Int!) {
    removeLicenses(subscriptionId: $subscriptionId, quantity: $quantity) {
      subscription { id quantity }
      userErrors { code field message }
    }
  }
`;
const MY_EVENTS = gql`
  subscription MySubscriptionEvents {
    mySubscriptionEvents { eventId action subscription { id quantity } }
  }
`;
const CATALOGUE = gql`
  query PersistedCatalogue($market: String!) {
    products(market: $market) { id productId name }
  }
`;

const report = {};

// -- A query, then the same query from the normalised cache ------------------------------------
let start = requests.length;
const first = await client.query({ query: MY_SUBSCRIPTIONS });
const listed = first.data.viewer.homeTenant.subscriptions.edges.map((edge) => edge.node);
const subscription = listed.find((node) => node.id === subscriptionId);
report.query = {
  requests: requestsSince(start),
  user: first.data.viewer.user.displayName,
  subscriptionIds: listed.map((node) => node.id),
  quantity: subscription?.quantity ?? null,
};
start = requests.length;
const again = await client.query({ query: MY_SUBSCRIPTIONS }); // fetchPolicy cache-first, the default
report.cache = {
  requests: requestsSince(start),
  sameData: JSON.stringify(again.data) === JSON.stringify(first.data),
  cacheKey: client.cache.identify({ __typename: "Subscription", id: subscriptionId }),
};

// -- Subscribe; the gateway's feed must exist before the mutation ------------------------------
let resolveEvent;
let rejectEvent;
const eventArrived = new Promise((resolve, reject) => {
  resolveEvent = resolve;
  rejectEvent = reject;
});
const feed = client.subscribe({ query: MY_EVENTS }).subscribe({
  next: (result) => resolveEvent(result),
  error: (error) => rejectEvent(error),
});
console.log(JSON.stringify({ subscribed: true }));
const stdin = createInterface({ input: process.stdin });
await new Promise((resolve) => stdin.once("line", resolve));
stdin.close();

// -- A mutation whose result updates the cached entity, and the event it causes ----------------
start = requests.length;
const added = await client.mutate({
  mutation: ADD_LICENSES,
  variables: { subscriptionId, quantity: 1, key: randomUUID() },
});
const mutationRequests = requestsSince(start);
start = requests.length;
const reread = await client.query({ query: MY_SUBSCRIPTIONS });
report.mutation = {
  requests: mutationRequests,
  userErrors: added.data.addLicenses.userErrors,
  quantity: added.data.addLicenses.subscription?.quantity ?? null,
  cachedEntity: client.readFragment({ id: report.cache.cacheKey, fragment: QUANTITY }),
  rereadRequests: requestsSince(start),
  rereadQuantity: reread.data.viewer.homeTenant.subscriptions.edges
    .map((edge) => edge.node)
    .find((node) => node.id === subscriptionId)?.quantity ?? null,
};
const timeout = setTimeout(() => rejectEvent(new Error("no event within 15 s")), EVENT_TIMEOUT_MS);
try {
  const event = await eventArrived;
  report.subscription = { event: event.data?.mySubscriptionEvents ?? null, errors: event.errors ?? null };
} catch (error) {
  report.subscription = { event: null, errors: [String(error?.message ?? error)] };
} finally {
  clearTimeout(timeout);
  feed.unsubscribe();
}

// -- A mutation refused with userErrors: data, not an exception --------------------------------
start = requests.length;
const refused = await client.mutate({
  mutation: REMOVE_LICENSES,
  variables: { subscriptionId, quantity: report.mutation.quantity - 1 },
});
report.userErrors = {
  requests: requestsSince(start),
  payload: refused.data.removeLicenses,
  cachedEntity: client.readFragment({ id: report.cache.cacheKey, fragment: QUANTITY }),
};

// -- Automatic persisted queries --------------------------------------------------------------
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const persistedClient = () =>
  new ApolloClient({ link: createPersistedQueryLink({ sha256 }).concat(httpLink), cache: new InMemoryCache() });
start = requests.length;
const registered = await persistedClient().query({ query: CATALOGUE, variables: { market: "US" } });
report.persisted = { registering: requestsSince(start), products: registered.data.products.length };
start = requests.length;
const byHash = await persistedClient().query({ query: CATALOGUE, variables: { market: "US" } });
report.persisted.byHash = requestsSince(start);
report.persisted.sameData = JSON.stringify(byHash.data) === JSON.stringify(registered.data);

await wsClient.dispose();
console.log(JSON.stringify(report));
