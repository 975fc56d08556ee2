// The subscriptions page: the caller's subscriptions, newest first, with their status; Cancel
// (asked once more) for an active or pending one. Cancelling takes the model off the caller's
// keys (a key left with no model is revoked), so the keys are fetched again afterwards.
import { useMutation, useQuery } from "@apollo/client/react";
import { useState } from "react";

import {
  type MySubscriptionsQuery,
  MyApiKeysDocument,
  MySubscriptionsDocument,
  SubscriptionCancelDocument,
} from "../../../src/generated/graphql";
import { Failure, RequestFailure } from "../errors";
import { formatDate } from "../format";
import { Link, PAGES } from "../router";
import { SUBSCRIPTION_STATE } from "./Catalogue";

type Subscription = MySubscriptionsQuery["subscriptions"][number];

const CANCELLABLE = new Set(["ACTIVE", "PENDING"]);

export function SubscriptionsPage() {
  const { data, loading, error } = useQuery(MySubscriptionsDocument);
  return (
    <>
      <h1>Subscriptions</h1>
      {error && <RequestFailure error={error} />}
      {loading && !data && <p aria-live="polite">Loading your subscriptions…</p>}
      {data && data.subscriptions.length === 0 && (
        <p>
          You have no subscription yet: subscribe to a model in the <Link to={PAGES.catalogue}>catalogue</Link>.
        </p>
      )}
      {data && data.subscriptions.length > 0 && (
        <table className="keys">
          <caption className="visually-hidden">Your subscriptions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Status</th>
              <th scope="col">Requested</th>
              <th scope="col">Last change</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.subscriptions.map((subscription) => (
              <SubscriptionRow key={subscription.id} subscription={subscription} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function SubscriptionRow({ subscription }: { subscription: Subscription }) {
  const status = subscription.status;
  return (
    <tr data-subscription={subscription.id}>
      <th scope="row">{subscription.model.name}</th>
      <td>
        <span className={`status status-${status.toLowerCase()}`}>{SUBSCRIPTION_STATE[status]}</span>
      </td>
      <td>{formatDate(subscription.createdAt)}</td>
      <td>{formatDate(subscription.cancelledAt ?? subscription.updatedAt)}</td>
      <td>{CANCELLABLE.has(status) && <Cancel subscription={subscription} />}</td>
    </tr>
  );
}

function Cancel({ subscription }: { subscription: Subscription }) {
  const [confirming, setConfirming] = useState(false);
  const [cancel, { data, loading, error }] = useMutation(SubscriptionCancelDocument, {
    variables: { id: subscription.id },
    refetchQueries: [MyApiKeysDocument],
  });
  const result = data?.subscriptionCancel;
  const model = subscription.model.name;
  return (
    <div className="actions">
      {confirming ? (
        <>
          <span>
            Cancel your subscription to {model}? Your keys lose this model; a key left with no model is revoked.
          </span>
          <button type="button" className="danger" onClick={() => void cancel()} disabled={loading}>
            Yes, cancel
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </>
      ) : (
        <button type="button" className="secondary" onClick={() => setConfirming(true)}>
          Cancel<span className="visually-hidden"> the subscription to {model}</span>
        </button>
      )}
      {error && <RequestFailure error={error} />}
      {result && result.__typename !== "SubscriptionCancelSuccess" && <Failure code={result.code} />}
    </div>
  );
}
