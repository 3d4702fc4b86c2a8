// The README's read-your-writes link for Apollo Client, taken from the README as written and run
// against a gateway with a read replica; driven by tests/test_replicas.py, which reads the JSON
// report this prints as its last line.
//
//   node read_after.mjs README_PATH GRAPHQL_URL PURCHASE_VARIABLES_JSON   (PURCHASEGRAPH_TOKEN: a buyer's token)
//
// A purchase, then a read of what it bought: the report says which X-Read-After each request sent
// (none on the purchase, the purchase's position on the read), the position the purchase returned,
// and what the read saw.

import { readFileSync } from "node:fs";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";

const [readmePath, url, variables] = process.argv.slice(2);
const token = process.env.PURCHASEGRAPH_TOKEN;
if (!readmePath || !url || !variables || !token) {
  console.error("usage: PURCHASEGRAPH_TOKEN=... node read_after.mjs README_PATH GRAPHQL_URL PURCHASE_VARIABLES_JSON");
  process.exit(2);
}

// The README's ```js block that builds the link: its code, evaluated as it stands.
const blocks = [...readFileSync(readmePath, "utf-8").matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
const linkCode = blocks.find((block) => block.includes("const readYourWrites = new ApolloLink"));
if (!linkCode) {
  console.error("the README has no Apollo link named readYourWrites");
  process.exit(2);
}
const readYourWrites = new Function("ApolloLink", `${linkCode}\nreturn readYourWrites;`)(ApolloLink);

/** The X-Read-After each request carried, in order. */
const sent = [];
async function watchingFetch(input, init) {
  sent.push(new Headers(init.headers).get("X-Read-After"));
  return fetch(input, init);
}

const client = new ApolloClient({
  link: readYourWrites.concat(
    new HttpLink({ uri: url, headers: { Authorization: `Bearer ${token}` }, fetch: watchingFetch }),
  ),
  cache: new InMemoryCache(),
});

const bought = await client.mutate({
  mutation: gql`
    mutation ReadAfterBuy($input: PurchaseSubscriptionInput!) {
      purchaseSubscription(input: $input) { subscription { id } userErrors { code } }
    }
  `,
  variables: JSON.parse(variables),
});
const id = bought.data.purchaseSubscription.subscription.id;
const read = await client.query({
  query: gql`
    query ReadAfterBought($id: ID!) { node(id: $id) { id ... on Subscription { quantity } } }
  `,
  variables: { id },
  fetchPolicy: "network-only",
});
console.log(JSON.stringify({ sent, position: bought.extensions?.readAfter ?? null, bought: id, read: read.data.node }));
