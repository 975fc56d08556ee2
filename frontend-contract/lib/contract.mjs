// The frontend contract as the React app meets it: operations with their fragments, their
// scenarios, and Apollo Client 4 running them. tests/frontend_contract/contract.py reads the
// same files and applies the same rules from pytest; keep the two in step.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { Kind, parse, visit } from "graphql";

export const CONTRACT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const OPERATIONS_DIR = join(CONTRACT_DIR, "operations");
const FRAGMENTS_DIR = join(CONTRACT_DIR, "fragments");

export const possibleTypes = JSON.parse(
  readFileSync(join(CONTRACT_DIR, "src", "generated", "possible-types.json"), "utf8"),
).possibleTypes;

function graphqlFiles(dir) {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".graphql"))
    .sort();
}

function loadFragments() {
  const fragments = new Map();
  for (const file of graphqlFiles(FRAGMENTS_DIR)) {
    const [definition] = parse(readFileSync(join(FRAGMENTS_DIR, file), "utf8")).definitions;
    fragments.set(definition.name.value, definition);
  }
  return fragments;
}

function spreadNames(node) {
  const names = new Set();
  visit(node, { FragmentSpread: (spread) => void names.add(spread.name.value) });
  return names;
}

/** Every operation as `{ name, kind, document, scenarios }`, its fragments appended. */
export function loadOperations() {
  const fragments = loadFragments();
  return graphqlFiles(OPERATIONS_DIR).map((file) => {
    const path = join(OPERATIONS_DIR, file);
    const [operation] = parse(readFileSync(path, "utf8")).definitions;
    const used = new Set();
    const pending = [operation];
    while (pending.length > 0) {
      for (const name of spreadNames(pending.pop())) {
        if (!used.has(name)) {
          used.add(name);
          pending.push(fragments.get(name));
        }
      }
    }
    const definitions = [operation, ...[...used].sort().map((name) => fragments.get(name))];
    const fixture = JSON.parse(readFileSync(path.replace(/\.graphql$/, ".json"), "utf8"));
    return {
      name: basename(file, ".graphql"),
      kind: operation.operation,
      document: { kind: Kind.DOCUMENT, definitions },
      scenarios: fixture.scenarios,
    };
  });
}

/**
 * The link chain of the React app: documents go by their sha256 (Apollo's persisted queries,
 * which the service in production requires), then over HTTP. `fetch` sees every request.
 */
export function frontendLink({ uri, headers, fetch: fetchFn = fetch }) {
  const sha256 = (text) => createHash("sha256").update(text).digest("hex");
  return new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri, headers, fetch: fetchFn }));
}

/** Why requests that carried a whole document show the service did not know its hash. */
export function unregisteredDocuments(bodies) {
  return bodies.some((body) => typeof body?.query === "string")
    ? [
        "the service did not know the operation's sha256 (Apollo retried with the document): " +
          "run `npm run generate` to update persisted-documents.json",
      ]
    : [];
}

/**
 * Why the smoke's hash check could not fail: an operation the manifest lacks must come back
 * from the service at `baseUrl` (development) as PERSISTED_QUERY_NOT_FOUND, after which
 * Apollo resends it with its document, which `unregisteredDocuments` then reports.
 */
export async function unregisteredOperationProblems(baseUrl) {
  const sent = [];
  const result = await runWithApollo({
    link: frontendLink({ uri: `${baseUrl}/graphql`, fetch: recording(sent) }),
    cache: new InMemoryCache({ possibleTypes }),
    document: parse("query NotRegistered { __typename }"),
    kind: "query",
    variables: {},
  });
  const problems = [];
  if (result.data?.__typename !== "Query") problems.push(`answered ${JSON.stringify(result)}`);
  if (unregisteredDocuments(sent).length === 0) {
    problems.push(`Apollo did not fall back to the document: sent ${JSON.stringify(sent)}`);
  }
  return problems;
}

/** Where `actual` differs from `expected`; objects in `actual` may hold more keys. */
export function mismatches(expected, actual, path = "$") {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    }
    return Object.entries(expected).flatMap(([key, value]) =>
      key in actual ? mismatches(value, actual[key], `${path}.${key}`) : [`${path}.${key}: missing`],
    );
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return [`${path}: expected ${expected.length} items, got ${JSON.stringify(actual)}`];
    }
    return expected.flatMap((item, index) => mismatches(item, actual[index], `${path}[${index}]`));
  }
  return expected === actual
    ? []
    : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

/** Runs a document the way the React app does: Apollo Client with the generated possibleTypes. */
export async function runWithApollo({ link, cache, document, kind, variables }) {
  const client = new ApolloClient({ link, cache });
  try {
    const result =
      kind === "mutation"
        ? await client.mutate({ mutation: document, variables, errorPolicy: "all" })
        : await client.query({
            query: document,
            variables,
            fetchPolicy: "network-only",
            errorPolicy: "all",
          });
    if (result.error && !CombinedGraphQLErrors.is(result.error)) throw result.error;
    return {
      data: result.data ?? null,
      ...(result.error ? { errors: result.error.errors } : {}),
    };
  } finally {
    client.stop();
  }
}

// `{{name}}` in a string stands for the value a set-up step captured as `name`.
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** `value` with each `{{name}}` in its strings replaced by the value captured as `name`. */
export function fill(value, captured) {
  if (typeof value === "string") return value.replace(PLACEHOLDER, (_, name) => captured[name]);
  if (Array.isArray(value)) return value.map((item) => fill(item, captured));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fill(item, captured)]));
  }
  return value;
}

/** The strings at `paths` (name -> dotted path) in a step's `data`: `{ captured, problems }`. */
export function capture(data, paths) {
  const captured = {};
  const problems = [];
  for (const [name, path] of Object.entries(paths)) {
    let value = data;
    for (const key of path.split(".")) {
      value = value !== null && typeof value === "object" && !Array.isArray(value) ? value[key] : undefined;
    }
    if (typeof value === "string") captured[name] = value;
    else problems.push(`cannot capture ${name}: no string at ${path}`);
  }
  return { captured, problems };
}

/** Why a set-up step's answer is no success: top-level errors, or a UserError as result. */
export function setUpProblems(result, userErrorTypes = possibleTypes.UserError) {
  const problems = result.errors ? [`errors: ${JSON.stringify(result.errors)}`] : [];
  for (const [name, value] of Object.entries(result.data ?? {})) {
    if (value !== null && typeof value === "object" && userErrorTypes.includes(value.__typename)) {
      problems.push(`${name}: ${value.__typename} ${JSON.stringify(value.message)}`);
    }
  }
  return problems;
}

/** Sets (PATCH with `faults`) or clears (no `faults`) the LiteLLM emulator's faults. */
export async function emulatorFaults(emulator, faults) {
  const response = await fetch(`${emulator.url}/_emulator/faults`, {
    method: faults ? "PATCH" : "DELETE",
    headers: { authorization: `Bearer ${emulator.masterKey}`, "content-type": "application/json" },
    body: faults ? JSON.stringify(faults) : undefined,
  });
  return response.ok ? [] : [`the emulator answered ${response.status}: ${await response.text()}`];
}

/** `fetch`, keeping each request's JSON body in `sent`. */
function recording(sent) {
  return (input, init) => {
    sent.push(typeof init?.body === "string" ? JSON.parse(init.body) : null);
    return fetch(input, init);
  };
}

/** A scenario's set-up steps, in the browser whose `headers` carry the session cookie. */
async function runSteps({ baseUrl, headers, steps, operations, emulator }) {
  const captured = {};
  for (const [index, step] of steps.entries()) {
    const where = `set-up step ${index + 1}`;
    if (step.emulatorFaults) {
      const problems = emulator
        ? await emulatorFaults(emulator, step.emulatorFaults)
        : ["the LiteLLM emulator is not running"];
      if (problems.length > 0) return { captured, problems: problems.map((p) => `${where}: ${p}`) };
      continue;
    }
    const operation = operations.get(step.operation);
    const sent = [];
    const result = await runWithApollo({
      link: frontendLink({ uri: `${baseUrl}/graphql`, headers, fetch: recording(sent) }),
      cache: new InMemoryCache({ possibleTypes }),
      document: operation.document,
      kind: operation.kind,
      variables: fill(step.variables ?? {}, captured),
    });
    const found = capture(result.data, step.capture ?? {});
    const problems = [...unregisteredDocuments(sent), ...setUpProblems(result), ...found.problems];
    if (problems.length > 0) {
      return { captured, problems: problems.map((p) => `${where} (${step.operation}): ${p}`) };
    }
    Object.assign(captured, found.captured);
  }
  return { captured, problems: [] };
}

/**
 * One scenario against the service at `baseUrl`: `{ problems, apollo }`, no problems = passed.
 * `operations` (by name) run the set-up steps; `emulator` (`{ url, masterKey }`) takes faults.
 */
export async function checkScenario({ baseUrl, operation, scenario, operations, emulator }) {
  const headers = {};
  if (scenario.signIn) {
    const login = await fetch(`${baseUrl}/auth/dev-login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(scenario.signIn),
    });
    if (!login.ok) {
      return { problems: [`dev login answered ${login.status}: ${await login.text()}`], apollo: null };
    }
    headers.cookie = login.headers.getSetCookie().map((cookie) => cookie.split(";")[0]).join("; ");
  }
  const setUp = await runSteps({ baseUrl, headers, steps: scenario.steps ?? [], operations, emulator });
  if (setUp.problems.length > 0) return { problems: setUp.problems, apollo: null };
  const { captured } = setUp;
  // The body as it came over the wire, to compare with what Apollo hands the app.
  let raw = null;
  const sent = [];
  const recordingFetch = async (input, init) => {
    const response = await recording(sent)(input, init);
    raw = await response.clone().json();
    return response;
  };
  const apollo = await runWithApollo({
    link: frontendLink({
      uri: `${baseUrl}/graphql`,
      headers: { ...headers, ...fill(scenario.headers ?? {}, captured) },
      fetch: recordingFetch,
    }),
    cache: new InMemoryCache({ possibleTypes }),
    document: operation.document,
    kind: operation.kind,
    variables: fill(scenario.variables ?? {}, captured),
  });

  if (raw === null) return { problems: ["Apollo sent no request"], apollo };
  const problems = unregisteredDocuments(sent);
  if (!("errors" in scenario.expect) && (raw.errors || apollo.errors)) {
    problems.push(`unexpected errors: ${JSON.stringify(raw.errors ?? apollo.errors)}`);
  }
  problems.push(...mismatches(fill(scenario.expect, captured), apollo));
  problems.push(...lostByApollo(raw.data, apollo.data));
  return { problems, apollo };
}

/**
 * What the service answered but the app does not get: Apollo's cache silently drops the
 * fields of union members it cannot match to a fragment (possibleTypes missing or stale).
 */
export function lostByApollo(answered, received) {
  return mismatches(answered, received).map((problem) => `Apollo lost ${problem}`);
}
