// The API keys page: each key with the models it may call (chips), its status and expiry;
// Create key (a dialog offering only subscribed models, showing the secret once) and Revoke.
import { useMutation, useQuery } from "@apollo/client/react";
import { useState } from "react";

import { type ApiKeyRowFragment, ApiKeyRevokeDocument, MyApiKeysDocument } from "../../../src/generated/graphql";
import { Failure, RequestFailure } from "../errors";
import { CreateKeyDialog } from "./CreateKeyDialog";

const STATUS: Record<ApiKeyRowFragment["status"], string> = {
  ACTIVE: "Active",
  PENDING: "Being created",
  REVOKED: "Revoked",
  EXPIRED: "Expired",
};

export const formatDate = (value: unknown) =>
  typeof value === "string" ? new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";

export function ApiKeysPage() {
  const { data, loading, error } = useQuery(MyApiKeysDocument);
  const [creating, setCreating] = useState(false);
  return (
    <>
      <div className="page-title">
        <h1>API keys</h1>
        <button type="button" onClick={() => setCreating(true)}>
          Create key
        </button>
      </div>
      {creating && <CreateKeyDialog onClose={() => setCreating(false)} />}
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
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.apiKeys.map((key) => (
              <KeyRow key={key.id} apiKey={key} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function KeyRow({ apiKey }: { apiKey: ApiKeyRowFragment }) {
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
      <td>{formatDate(apiKey.createdAt)}</td>
      <td>{apiKey.expiresAt ? formatDate(apiKey.expiresAt) : "Never"}</td>
      <td>{apiKey.status === "ACTIVE" && <Revoke apiKey={apiKey} />}</td>
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
