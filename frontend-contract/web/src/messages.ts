// Every failure a person can meet, in the contract's plain words (error-messages.json).
import { CombinedGraphQLErrors, ServerError } from "@apollo/client/errors";

import catalogue from "../../error-messages.json";

export type Words = { code: string; message: string; action?: string };

const MESSAGES: Record<string, { message: string; action?: string }> = catalogue;
// A failure that carries no code of the contract (the service unreachable, an answer that is
// not GraphQL) is, for the person, something that went wrong on our side.
const FALLBACK = "INTERNAL_SERVER_ERROR";

export function wordsFor(code: string): Words {
  const known = MESSAGES[code];
  return known ? { code, ...known } : { code: FALLBACK, ...MESSAGES[FALLBACK] };
}

/** The code of a failed request: the first top-level error's `extensions.code`. */
export function codeOf(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    const code = error.errors[0]?.extensions?.code;
    return typeof code === "string" ? code : FALLBACK;
  }
  if (ServerError.is(error)) {
    // The service refused the request before GraphQL ran (413 REQUEST_TOO_LARGE...), or a
    // proxy in front of it answered (502): the body's `error.code`, when it has one.
    try {
      const code = JSON.parse(error.bodyText)?.error?.code;
      return typeof code === "string" ? code : FALLBACK;
    } catch {
      return FALLBACK;
    }
  }
  return FALLBACK;
}
