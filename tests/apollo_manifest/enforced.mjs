// Apollo Client 3 against a gateway that runs only the documents of its manifest; driven by
// tests/test_trusted_documents.py, which reads the JSON report this prints as its last line.
//
//   node enforced.mjs GRAPHQL_URL MANIFEST DOCUMENT.graphql...
//
// Each document is queried twice, as the README's workflow sets Apollo Client up: with the ids of
// the deployed manifest (generatePersistedQueryIdsFromManifest: the operation's id alone, found by
// its name), and as text through a plain HttpLink (what GraphQLWsLink sends too), its definitions
// in the order the file writes them. Anonymous queries: the public catalogue needs no token.

import { readFileSync } from "node:fs";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";

const [url, manifestPath, ...documents] = process.argv.slice(2);
if (!url || !manifestPath || documents.length === 0) {
  console.error("usage: node enforced.mjs GRAPHQL_URL MANIFEST DOCUMENT.graphql...");
  process.exit(2);
}

/** Every request the HTTP link sends, with what it sent and what came back. */
const requests = [];
async function recordingFetch(input, init) {
  const body = JSON.parse(init.body);
  const response = await fetch(input, init);
  const answer = await response.clone().json();
  requests.push({
    sentQuery: typeof body.query === "string",
    sha256Hash: body.extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    codes: (answer.errors ?? []).map((error) => error.extensions?.code ?? null),
    hasData: answer.data != null,
  });
  return response;
}
const http = new HttpLink({ uri: url, fetch: recordingFetch });
const byId = new ApolloClient({
  link: createPersistedQueryLink(
    generatePersistedQueryIdsFromManifest({ loadManifest: () => JSON.parse(readFileSync(manifestPath, "utf-8")) }),
  ).concat(http),
  cache: new InMemoryCache(),
});
const asText = new ApolloClient({ link: http, cache: new InMemoryCache() });

async function run(client, query) {
  const start = requests.length;
  try {
    await client.query({ query, fetchPolicy: "no-cache" });
  } catch {
    // The refusal is in the recorded request.
  }
  return requests.slice(start);
}

const report = {};
for (const path of documents) {
  const query = gql(readFileSync(path, "utf-8"));
  const name = query.definitions.find((d) => d.kind === "OperationDefinition").name.value;
  report[name] = { byId: await run(byId, query), asText: await run(asText, query) };
}
console.log(JSON.stringify(report));
