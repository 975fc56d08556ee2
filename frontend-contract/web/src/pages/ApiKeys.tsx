// The API keys page: the caller's budget, then each key with the models it may call (chips),
// its status, spend and expiry; Create key (a dialog offering only subscribed models, showing
// the secret once), Edit, Rotate (the new secret once) and Revoke.
import { useMutation, useQuery } from "@apollo/client/react";
import { useState } from "react";

import {
  type ApiKeyRowFragment,
  ApiKeyRevokeDocument,
  MyApiKeysDocument,
  MyBudgetDocument,
} from "../../../src/generated/graphql";
import { Failure, RequestFailure } from "../errors";
import { formatDate, formatMoney } from "../format";
import { CreateKeyDialog } from "./CreateKeyDialog";
import { EditKeyDialog } from "./EditKeyDialog";
import { RotateKeyDialog } from "./RotateKeyDialog";

const STATUS: Record<ApiKeyRowFragment["status"], string> = {
  ACTIVE: "Active",
  PENDING: "Being created",
  REVOKED: "Revoked",
  EXPIRED: "Expired",
};

type Open = { dialog: "edit" | "rotate"; apiKey: ApiKeyRowFragment } | null;

export function ApiKeysPage() {
  const { data, loading, error } = useQuery(MyApiKeysDocument);
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<Open>(null);
  return (
    <>
      <div className="page-title">
        <h1>API keys</h1>
        <button type="button" onClick={() => setCreating(true)}>
          Create key
        </button>
      </div>
      <Budget />
      {creating && <CreateKeyDialog onClose={() => setCreating(false)} />}
      {open?.dialog === "edit" && <EditKeyDialog apiKey={open.apiKey} onClose={() => setOpen(null)} />}
      {open?.dialog === "rotate" && <RotateKeyDialog apiKey={open.apiKey} onClose={() => setOpen(null)} />}
      {error && <RequestFailure error={error} />}
      {loading && !data && <p aria-live="polite">Loading your keys…</p>}
      {data && data.apiKeys.length === 0 && <p>You have no API key yet.</p>}
      {data && data.apiKeys.length > 0 && (
        <table className="keys">
          <caption className="visually-hidden">Your API keys, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Models</th>
              <th scope="col">Status</th>
              <th scope="col">Spend</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.apiKeys.map((key) => (
              <KeyRow key={key.id} apiKey={key} onOpen={setOpen} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** What the caller has spent of their budget, as last read from LiteLLM. */
function Budget() {
  // Not cached: after a session ended elsewhere its `me: null` would overwrite the shell's
  // `me`, sending the person to sign in without a word; the keys query says why instead.
  const { data, error } = useQuery(MyBudgetDocument, { fetchPolicy: "no-cache" });
  const budget = data?.me?.budget;
  if (error) return <RequestFailure error={error} />;
  if (!data) return null;
  return (
    <section className="budget" aria-labelledby="budget-title">
      <h2 id="budget-title">Your budget</h2>
      {!budget ? (
        <p>No budget is set for you.</p>
      ) : (
        <p>
          {budget.spend === null
            ? `${formatMoney(budget.maxBudget)}; what you have spent is not known yet.`
            : `${formatMoney(budget.spend)} spent of ${formatMoney(budget.maxBudget)}` +
              (budget.syncedAt ? ` (as of ${formatDate(budget.syncedAt)})` : "") +
              "."}
          {budget.resetAt ? ` It starts again on ${formatDate(budget.resetAt)}.` : ""}
        </p>
      )}
    </section>
  );
}

/** A key's spend (with its budget, if it has one) and how old that figure is. */
function Spend({ apiKey }: { apiKey: ApiKeyRowFragment }) {
  const budget = apiKey.maxBudget === null ? null : formatMoney(apiKey.maxBudget);
  if (apiKey.spend === null) return <>{budget ? `Not known yet (budget ${budget})` : "Not known yet"}</>;
  return (
    <>
      {formatMoney(apiKey.spend)}
      {budget && ` of ${budget}`}
      {apiKey.spendSyncedAt && <span className="hint when">as of {formatDate(apiKey.spendSyncedAt)}</span>}
    </>
  );
}

function KeyRow({ apiKey, onOpen }: { apiKey: ApiKeyRowFragment; onOpen: (open: Open) => void }) {
  return (
    <tr data-key={apiKey.id}>
      <th scope="row">{apiKey.name}</th>
      <td>{apiKey.prefix ? <code>{apiKey.prefix}…</code> : null}</td>
      <td>
        <ul className="chips" aria-label={`Models of ${apiKey.name}`}>
          {apiKey.modelAccess.map((model) => (
            <li key={model.id} className="chip" title={model.available ? undefined : "No longer served"}>
              {model.name}
            </li>
          ))}
        </ul>
      </td>
      <td>
        <span className={`status status-${apiKey.status.toLowerCase()}`}>{STATUS[apiKey.status]}</span>
        {apiKey.revokedAt ? <span className="when"> {formatDate(apiKey.revokedAt)}</span> : null}
      </td>
      <td>
        <Spend apiKey={apiKey} />
      </td>
      <td>{formatDate(apiKey.createdAt)}</td>
      <td>{apiKey.expiresAt ? formatDate(apiKey.expiresAt) : "Never"}</td>
      <td>
        {apiKey.status === "ACTIVE" && (
          <div className="actions">
            <button type="button" className="secondary" onClick={() => onOpen({ dialog: "edit", apiKey })}>
              Edit<span className="visually-hidden"> {apiKey.name}</span>
            </button>
            <button type="button" className="secondary" onClick={() => onOpen({ dialog: "rotate", apiKey })}>
              Rotate<span className="visually-hidden"> {apiKey.name}</span>
            </button>
            <Revoke apiKey={apiKey} />
          </div>
        )}
      </td>
    </tr>
  );
}

/** Revoke asks once more; the answer's ApiKeyRow updates the cached row. */
function Revoke({ apiKey }: { apiKey: ApiKeyRowFragment }) {
  const [confirming, setConfirming] = useState(false);
  const [revoke, { data, loading, error }] = useMutation(ApiKeyRevokeDocument, {
    variables: { id: apiKey.id },
  });
  const result = data?.apiKeyRevoke;
  return (
    <div className="actions">
      {confirming ? (
        <>
          <span>Revoke {apiKey.name}? Programs using it stop working.</span>
          <button type="button" className="danger" onClick={() => void revoke()} disabled={loading}>
            Revoke now
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </>
      ) : (
        <button type="button" className="secondary" onClick={() => setConfirming(true)}>
          Revoke<span className="visually-hidden"> {apiKey.name}</span>
        </button>
      )}
      {error && <RequestFailure error={error} />}
      {result && result.__typename !== "ApiKeyRevokeSuccess" && <Failure code={result.code} />}
    </div>
  );
}
