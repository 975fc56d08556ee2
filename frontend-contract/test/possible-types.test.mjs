// Why the smoke insists on possibleTypes: on a result union like the BFF's mutations return,
// Apollo Client without them hands the app a result with the error's fields missing.
import assert from "node:assert/strict";
import { test } from "node:test";

import { InMemoryCache } from "@apollo/client";
import { SchemaLink } from "@apollo/client/link/schema";
import { buildSchema, execute, parse } from "graphql";

import { lostByApollo, runWithApollo } from "../lib/contract.mjs";

const schema = buildSchema(`
  enum ErrorCode { NOT_FOUND }
  interface UserError { code: ErrorCode! message: String! }
  type NotFoundError implements UserError { code: ErrorCode! message: String! }
  type ApiKeyRevokeSuccess { revokedId: ID! }
  union ApiKeyRevokeResult = ApiKeyRevokeSuccess | NotFoundError
  type Query { ok: Boolean }
  type Mutation { apiKeyRevoke(id: ID!): ApiKeyRevokeResult! }
`);
const rootValue = {
  apiKeyRevoke: () => ({ __typename: "NotFoundError", code: "NOT_FOUND", message: "No such key" }),
};
const document = parse(`
  mutation ApiKeyRevoke {
    apiKeyRevoke(id: "k1") {
      __typename
      ... on ApiKeyRevokeSuccess { revokedId }
      ... on UserError { code message }
    }
  }
`);
const answered = execute({ schema, document, rootValue }).data;

async function revokeWith(cache) {
  const link = new SchemaLink({ schema, rootValue });
  return runWithApollo({ link, cache, document, kind: "mutation", variables: {} });
}

test("without possibleTypes Apollo drops the UserError fields of a union member", async () => {
  const result = await revokeWith(new InMemoryCache());

  assert.notDeepEqual(lostByApollo(answered, result.data), []);
});

test("with possibleTypes the app gets the error code and message", async () => {
  const cache = new InMemoryCache({
    possibleTypes: {
      ApiKeyRevokeResult: ["ApiKeyRevokeSuccess", "NotFoundError"],
      UserError: ["NotFoundError"],
    },
  });

  const result = await revokeWith(cache);

  assert.deepEqual(lostByApollo(answered, result.data), []);
  assert.deepEqual(result.data.apiKeyRevoke, {
    __typename: "NotFoundError",
    code: "NOT_FOUND",
    message: "No such key",
  });
});
