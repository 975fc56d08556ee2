// Every failure a person can meet, in the contract's plain words (error-messages.json).
import { CombinedGraphQLErrors, ServerError, ServerParseError } from "@apollo/client/errors";

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
  if (ServerError.is(error) || ServerParseError.is(error)) {
    // The service refused the request before GraphQL ran (413, 415, a proxy's 502...).
    try {
      const code = JSON.parse(ServerError.is(error) ? error.bodyText : "")?.error?.code;
      return typeof code === "string" ? code : FALLBACK;
    } catch {
      return FALLBACK;
    }
  }
  return FALLBACK;
}
