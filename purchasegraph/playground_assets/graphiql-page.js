// Mounts GraphiQL on the page GET /graphql serves (purchasegraph/graphiql.py), as Strawberry's own
// GraphiQL page does (MIT, strawberry/static/graphiql.html), minus its CDN and its CSRF cookie (this
// API takes bearer tokens only):
// - presets from the URL: `q` (the query), `variables`, `headers` (the headers editor's JSON text),
//   read with decodeURIComponent, so a space must be sent as %20; edits are written back to the URL;
// - queries and mutations POST to /graphql with the headers editor's headers; subscriptions go over
//   a websocket on the same URL (graphql-transport-ws), and GraphiQL's fetcher sends the same
//   headers as connection_init's payload, which is where the gateway reads the bearer token;
// - the explorer plugin, the editor tools open, headers persisted per tab.
"use strict";

(function () {
  // A parameter that is not valid percent-encoding (a link cut short or mangled) is left out: it
  // would throw, and the page would stay on "Loading..." with none of the others applied.
  function decoded(text) {
    try {
      return decodeURIComponent(text);
    } catch (error) {
      return null;
    }
  }
  const parameters = {};
  for (const entry of window.location.search.slice(1).split("&")) {
    const eq = entry.indexOf("=");
    const name = eq >= 0 ? decoded(entry.slice(0, eq)) : null;
    const value = eq >= 0 ? decoded(entry.slice(eq + 1)) : null;
    if (name !== null && value !== null) {
      parameters[name] = value;
    }
  }

  function updateURL(data) {
    Object.assign(parameters, data);
    const search = Object.keys(parameters)
      .filter((key) => Boolean(parameters[key]))
      .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]))
      .join("&");
    history.replaceState(null, "", "?" + search);
  }

  const url = window.location.href.split("?")[0];
  const websocketUrl = new URL(url);
  websocketUrl.protocol = websocketUrl.protocol === "https:" ? "wss:" : "ws:";
  websocketUrl.hash = "";

  const fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: websocketUrl.toString() });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  function Playground() {
    const [query, setQuery] = React.useState(parameters.q);
    const [variables, setVariables] = React.useState(parameters.variables);
    const [headers, setHeaders] = React.useState(parameters.headers);
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      query: query,
      variables: variables,
      headers: headers,
      onEditQuery: (text) => {
        setQuery(text);
        updateURL({ q: text });
      },
      onEditVariables: (text) => {
        setVariables(text);
        updateURL({ variables: text });
      },
      onEditHeaders: setHeaders,
      defaultEditorToolsVisibility: true,
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Playground));
})();
