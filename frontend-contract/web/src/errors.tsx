// A failure in the contract's words: what happened and, when there is one, what to do.
import { codeOf, wordsFor } from "./messages";
import { signInPath } from "./pages/SignIn";
import { here, useRouter } from "./router";

export function Failure({ code }: { code: string }) {
  const { location } = useRouter();
  const words = wordsFor(code);
  return (
    <div className="failure" role="alert" data-code={words.code}>
      <p className="failure-message">{words.message}</p>
      {words.action && <p className="failure-action">{words.action}</p>}
      {words.code === "UNAUTHENTICATED" && (
        // A full load: nothing of the ended session stays in the app's cache.
        <p>
          <a href={signInPath(here(location))}>Sign in</a>
        </p>
      )}
    </div>
  );
}

/** A request that failed as a whole (top-level errors, the service unreachable). */
export function RequestFailure({ error }: { error: unknown }) {
  return <Failure code={codeOf(error)} />;
}
