// The model catalogue: every served model, with the caller's subscription to it and Subscribe.
// A restricted model's subscription waits for an administrator: it shows as pending approval.
import { useMutation, useQuery } from "@apollo/client/react";

import {
  type CurrentUserFragment,
  type ModelCatalogueQuery,
  ModelCatalogueDocument,
  SubscriptionCreateDocument,
  type SubscriptionStatus,
} from "../../../src/generated/graphql";
import { Failure, RequestFailure } from "../errors";
import { Link, here, useRouter } from "../router";
import { signInPath } from "./SignIn";

type CatalogueModel = ModelCatalogueQuery["models"][number];

/** A subscription's status in words (the subscriptions page shows them too). */
export const SUBSCRIPTION_STATE: Record<SubscriptionStatus, string> = {
  ACTIVE: "Subscribed",
  PENDING: "Pending approval",
  DENIED: "Subscription denied",
  SUSPENDED: "Subscription suspended",
  EXPIRED: "Subscription expired",
  CANCELLED: "Subscription cancelled",
};

export function CataloguePage({ me }: { me: CurrentUserFragment | null }) {
  const { data, loading, error } = useQuery(ModelCatalogueDocument);
  return (
    <>
      <h1>Models</h1>
      {error && <RequestFailure error={error} />}
      {loading && !data && <p aria-live="polite">Loading the catalogue…</p>}
      {data && data.models.length === 0 && <p>No model is served at the moment.</p>}
      <ul className="cards" aria-label="Models">
        {data?.models.map((model) => <ModelCard key={model.id} model={model} me={me} />)}
      </ul>
    </>
  );
}

function ModelCard({ model, me }: { model: CatalogueModel; me: CurrentUserFragment | null }) {
  const headingId = `model-${model.id.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  return (
    <li className="card" aria-labelledby={headingId} data-model={model.id}>
      <h2 id={headingId}>{model.name}</h2>
      <p className="meta">
        {model.provider && <span>{model.provider}</span>}
        {model.contextLength !== null && <span>{model.contextLength.toLocaleString()} tokens of context</span>}
        {model.restrictedAccess && <span className="badge">Needs approval</span>}
      </p>
      {model.description && <p>{model.description}</p>}
      <Subscription model={model} me={me} />
    </li>
  );
}

function Subscription({ model, me }: { model: CatalogueModel; me: CurrentUserFragment | null }) {
  const { location } = useRouter();
  const [subscribe, { data, loading, error }] = useMutation(SubscriptionCreateDocument, {
    variables: { modelId: model.id },
    refetchQueries: [ModelCatalogueDocument],
    awaitRefetchQueries: true,
  });
  const result = data?.subscriptionCreate;
  const status = model.subscription?.status;
  if (!me) {
    return (
      <p>
        <Link to={signInPath(here(location))}>Sign in to subscribe</Link>
      </p>
    );
  }
  return (
    <div className="subscription">
      {status && status !== "CANCELLED" ? (
        <p className={`status status-${status.toLowerCase()}`}>{SUBSCRIPTION_STATE[status]}</p>
      ) : (
        <button type="button" onClick={() => void subscribe()} disabled={loading}>
          Subscribe<span className="visually-hidden"> to {model.name}</span>
        </button>
      )}
      {error && <RequestFailure error={error} />}
      {result && result.__typename !== "SubscriptionCreateSuccess" && <Failure code={result.code} />}
    </div>
  );
}
