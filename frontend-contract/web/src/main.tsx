import { ApolloProvider } from "@apollo/client/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import { createClient } from "./client";
import { Router } from "./router";

const root = document.getElementById("root");
if (root === null) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <ApolloProvider client={createClient()}>
      <Router>
        <App />
      </Router>
    </ApolloProvider>
  </StrictMode>,
);
