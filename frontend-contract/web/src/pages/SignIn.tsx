// Sign-in: the identity provider through `/auth/login?redirect=<page>`, which brings the
// person back to the page they came from; a refused sign-in comes back with `?loginError=CODE`.
// Where the service offers the development sign-in (`litemaas-bff dev`), a form for it too.
import { type FormEvent, useEffect, useState } from "react";

import type { CurrentUserFragment } from "../../../src/generated/graphql";
import { Failure } from "../errors";
import { PAGES, Redirect, useRouter } from "../router";

export const signInPath = (returnTo: string) =>
  `${PAGES.signIn}?${new URLSearchParams({ redirect: returnTo })}`;

/** Only a path of this site is followed back after signing in. */
function returnTarget(search: URLSearchParams): string {
  const target = search.get("redirect") ?? PAGES.catalogue;
  return target.startsWith("/") && !target.startsWith("//") && !target.includes("\\")
    ? target
    : PAGES.catalogue;
}

export function SignInPage({ me }: { me: CurrentUserFragment | null }) {
  const { location } = useRouter();
  const returnTo = returnTarget(location.search);
  const loginError = location.search.get("loginError");
  if (me) return <Redirect to={returnTo} />;
  return (
    <>
      <h1>Sign in</h1>
      {loginError && <Failure code={loginError} />}
      <p>Sign in with your organisation&apos;s account to subscribe to models and manage your API keys.</p>
      <a className="button" href={`/auth/login?${new URLSearchParams({ redirect: returnTo })}`}>
        Sign in with your organisation
      </a>
      <DevelopmentSignIn returnTo={returnTo} />
    </>
  );
}

/** The development sign-in, shown only where the service has it (it answers 404 elsewhere). */
function DevelopmentSignIn({ returnTo }: { returnTo: string }) {
  const [offered, setOffered] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    // An empty body signs nobody in: the service answers 400 when it offers the form, 404 when not.
    void post({}).then((response) => setOffered(response.status === 400), () => setOffered(false));
  }, []);
  if (!offered) return null;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setFailure(null);
    try {
      const response = await post({
        username: form.get("username"),
        email: form.get("email"),
        groups: form.get("admin") ? ["litemaas-admins"] : ["litemaas-users"],
      });
      if (response.ok) {
        // A full load: every query runs again as the signed-in person.
        window.location.assign(returnTo);
        return;
      }
      const body = await response.json().catch(() => null);
      setFailure(typeof body?.error?.code === "string" ? body.error.code : "INTERNAL_SERVER_ERROR");
    } catch {
      setFailure("INTERNAL_SERVER_ERROR");
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="panel" aria-labelledby="dev-sign-in">
      <h2 id="dev-sign-in">Development sign-in</h2>
      <p>This service runs for development: sign in as anyone.</p>
      {failure && <Failure code={failure} />}
      <form onSubmit={(event) => void submit(event)} className="stacked">
        <label>
          User name
          <input name="username" required autoComplete="username" />
        </label>
        <label>
          E-mail address
          <input name="email" type="email" required autoComplete="email" />
        </label>
        <label className="inline">
          <input name="admin" type="checkbox" /> Administrator
        </label>
        <button type="submit" disabled={busy}>
          Sign in for development
        </button>
      </form>
    </section>
  );
}

const post = (body: object) =>
  fetch("/auth/dev-login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
