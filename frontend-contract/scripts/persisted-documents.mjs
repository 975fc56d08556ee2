// Writes persisted-documents.json: every operation of this contract as Apollo Client sends it
// (after its cache has added `__typename` to the selections), keyed by the sha256 that
// Apollo's PersistedQueryLink sends as `extensions.persistedQuery.sha256Hash`. The BFF in
// production executes these documents and no others (trusted documents).
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { ApolloClient, ApolloLink, InMemoryCache } from "@apollo/client";
import { print } from "@apollo/client/utilities";
import { Observable } from "rxjs";

import { CONTRACT_DIR, loadOperations, possibleTypes } from "../lib/contract.mjs";

const MANIFEST_FILE = join(CONTRACT_DIR, "persisted-documents.json");

function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

/** The document Apollo Client puts on the wire for `operation`, as the links receive it. */
async function sentBody(operation) {
  let body = null;
  const capture = new ApolloLink((request) => {
    body = print(request.query);
    return new Observable((observer) => observer.error(new Error("captured, not sent")));
  });
  const client = new ApolloClient({ link: capture, cache: new InMemoryCache({ possibleTypes }) });
  try {
    const options = { fetchPolicy: "no-cache", errorPolicy: "none" };
    await (operation.kind === "mutation"
      ? client.mutate({ mutation: operation.document, ...options })
      : client.query({ query: operation.document, ...options }));
  } catch {
    // The capturing link always fails the request: only the body matters.
  } finally {
    client.stop();
  }
  if (body === null) throw new Error(`${operation.name}: Apollo Client sent nothing`);
  return body;
}

/** Apollo's persisted query manifest format (version 1), operations sorted by name. */
async function manifest() {
  const operations = [];
  for (const operation of loadOperations()) {
    const body = await sentBody(operation);
    operations.push({ id: sha256(body), name: operation.name, type: operation.kind, body });
  }
  return { format: "apollo-persisted-query-manifest", version: 1, operations };
}

const written = await manifest();
writeFileSync(MANIFEST_FILE, `${JSON.stringify(written, null, 2)}\n`);
console.log(`wrote ${written.operations.length} operations to persisted-documents.json`);
