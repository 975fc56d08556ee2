// The page is served by the GraphQL endpoint itself, so queries go back to the page's own URL,
// with the session cookie (same origin). A shared link (`/graphql?query=...&variables=...`)
// opens with its query, variables and operation name in the editors.
(function () {
  var endpoint = window.location.origin + window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var params = new URLSearchParams(window.location.search);
  var props = {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
  };
  ["query", "variables", "operationName"].forEach(function (name) {
    if (params.has(name)) props[name] = params.get(name);
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
