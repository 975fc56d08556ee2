// Apollo Client as the contract prescribes: union members typed through possibleTypes, and
// every operation sent by the id it is registered under in persisted-documents.json (trusted
// documents), never as a document: production runs registered operations only.
import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { type DocumentNode, Kind } from "graphql";

import generated from "../../src/generated/possible-types.json";
import manifest from "../../persisted-documents.json";

const REGISTERED = new Map(manifest.operations.map((operation) => [operation.name, operation.id]));

/** The registered id of an operation of this contract (an operation it lacks is a bug here). */
export function registeredId(document: DocumentNode): string {
  const operation = document.definitions.find(
    (definition) => definition.kind === Kind.OPERATION_DEFINITION,
  );
  const name = operation?.kind === Kind.OPERATION_DEFINITION ? operation.name?.value : undefined;
  const id = name === undefined ? undefined : REGISTERED.get(name);
  if (id === undefined) throw new Error(`operation ${name ?? "(anonymous)"} is not registered`);
  return id;
}

export function createClient(): ApolloClient {
  const persisted = new PersistedQueryLink({
    generateHash: registeredId,
    // An unknown id is answered PERSISTED_QUERY_NOT_FOUND, which the page explains; sending
    // the document instead would only work where arbitrary documents run (development).
    retry: () => false,
    disable: () => false,
  });
  return new ApolloClient({
    link: persisted.concat(new HttpLink({ uri: "/graphql", credentials: "same-origin" })),
    cache: new InMemoryCache({ possibleTypes: generated.possibleTypes }),
    defaultOptions: { watchQuery: { fetchPolicy: "cache-and-network" } },
  });
}
