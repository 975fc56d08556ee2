// The app shell: who is signed in, the navigation, and the page for the current path.
// The approval queue is for the service's `admin` role, as `me.roles` lists it, which may decide,
// and for `admin-readonly`, which may only read it.
import { useMutation, useQuery } from "@apollo/client/react";
import type { ReactNode } from "react";

import {
  type CurrentUserFragment,
  LitellmSyncRetryDocument,
  LoginStateDocument,
} from "../../src/generated/graphql";
import { Failure, RequestFailure } from "./errors";
import { ApiKeysPage } from "./pages/ApiKeys";
import { ApprovalsPage } from "./pages/Approvals";
import { CataloguePage } from "./pages/Catalogue";
import { SignInPage, signInPath } from "./pages/SignIn";
import { SubscriptionsPage } from "./pages/Subscriptions";
import { Link, PAGES, Redirect, here, useRouter } from "./router";

const ADMIN_ROLE = "admin";
const READ_ONLY_ADMIN_ROLE = "admin-readonly";

/** Pages for signed-in people only, and the page for administrators only. */
const SIGNED_IN_PAGES: Record<string, (me: CurrentUserFragment) => ReactNode> = {
  [PAGES.apiKeys]: () => <ApiKeysPage />,
  [PAGES.subscriptions]: () => <SubscriptionsPage />,
  [PAGES.approvals]: (me) =>
    readsQueue(me) ? (
      <ApprovalsPage decides={isAdmin(me)} />
    ) : (
      <>
        <h1>Approval queue</h1>
        <Failure code="FORBIDDEN" />
      </>
    ),
};

const isAdmin = (me: CurrentUserFragment | null) => me?.roles.includes(ADMIN_ROLE) ?? false;
const readsQueue = (me: CurrentUserFragment | null) =>
  isAdmin(me) || (me?.roles.includes(READ_ONLY_ADMIN_ROLE) ?? false);

export function App() {
  const { location } = useRouter();
  const { data, loading, error } = useQuery(LoginStateDocument);
  const me = data?.me ?? null;
  const signedInPage = SIGNED_IN_PAGES[location.path];
  let page;
  if (location.path === PAGES.signIn) page = <SignInPage me={me} />;
  else if (location.path === PAGES.catalogue) page = <CataloguePage me={me} />;
  else if (signedInPage) {
    if (me) page = signedInPage(me);
    else if (!loading && !error) page = <Redirect to={signInPath(here(location))} />;
  } else page = <NotFound />;
  const link = (to: string, label: string) => (
    <Link to={to} current={location.path === to}>
      {label}
    </Link>
  );
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="shell">
        <span className="brand">LiteMaaS</span>
        <nav aria-label="Pages">
          {link(PAGES.catalogue, "Models")}
          {link(PAGES.apiKeys, "API keys")}
          {link(PAGES.subscriptions, "Subscriptions")}
          {readsQueue(me) && link(PAGES.approvals, "Approval queue")}
        </nav>
        <Account me={me} loading={loading} />
      </header>
      {me?.litellmSyncStatus === "ERROR" && <AccountSetup />}
      <main id="main">
        {error && <RequestFailure error={error} />}
        {page}
      </main>
    </>
  );
}

function Account({ me, loading }: { me: CurrentUserFragment | null; loading: boolean }) {
  const { location } = useRouter();
  if (loading && !me) return null;
  if (!me) {
    return location.path === PAGES.signIn ? null : (
      <Link to={signInPath(here(location))}>Sign in</Link>
    );
  }
  return (
    <form className="account" method="post" action="/auth/logout">
      <span>
        Signed in as <strong>{me.fullName ?? me.username}</strong>
      </span>
      <button type="submit" className="secondary">
        Sign out
      </button>
    </form>
  );
}

/** Shown while the caller's LiteLLM account could not be set up; "Try again" retries now. */
function AccountSetup() {
  const [retry, { data, loading, error }] = useMutation(LitellmSyncRetryDocument);
  const result = data?.litellmSyncRetry;
  return (
    <section className="banner" aria-label="Account setup">
      <Failure code="USER_NOT_FOUND_LITELLM" />
      <button type="button" onClick={() => void retry()} disabled={loading}>
        Try again
      </button>
      {error && <RequestFailure error={error} />}
      {result && result.__typename !== "LitellmSyncRetrySuccess" && <Failure code={result.code} />}
    </section>
  );
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is no page here. Go to the <Link to={PAGES.catalogue}>model catalogue</Link>.
      </p>
    </>
  );
}
