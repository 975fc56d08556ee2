// Create key: a name and some of the caller's subscribed models (active subscriptions only);
// on success the secret is shown once, with a copy button, and never again.
import { useMutation, useQuery } from "@apollo/client/react";
import { type FormEvent, useEffect, useRef, useState } from "react";

import {
  type ApiKeyCreateMutation,
  ApiKeyCreateDocument,
  MyApiKeysDocument,
  MySubscriptionsDocument,
} from "../../../src/generated/graphql";
import { Failure, RequestFailure } from "../errors";

type Created = Extract<ApiKeyCreateMutation["apiKeyCreate"], { __typename: "ApiKeyCreateSuccess" }>;

export function CreateKeyDialog({ onClose }: { onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const [create, { data, loading, error }] = useMutation(ApiKeyCreateDocument, {
    refetchQueries: [MyApiKeysDocument],
  });
  const result = data?.apiKeyCreate;
  return (
    <dialog ref={dialog} aria-labelledby="create-key-title" onClose={onClose}>
      <h2 id="create-key-title">Create key</h2>
      {result?.__typename === "ApiKeyCreateSuccess" ? (
        <Secret created={result} onDone={() => dialog.current?.close()} />
      ) : (
        <KeyForm
          busy={loading}
          invalidField={result?.__typename === "ValidationError" ? result.field : null}
          onCancel={() => dialog.current?.close()}
          onSubmit={(name, modelIds) =>
            void create({
              variables: {
                input: { name, modelIds, expiresAt: null, maxBudget: null, rpmLimit: null, tpmLimit: null },
              },
            })
          }
        >
          {error && <RequestFailure error={error} />}
          {result && (
            <>
              <Failure code={result.code} />
              {result.__typename === "ModelAccessDeniedError" && (
                <p>Not subscribed: {result.modelIds.join(", ")}</p>
              )}
            </>
          )}
        </KeyForm>
      )}
    </dialog>
  );
}

function KeyForm({
  busy,
  invalidField,
  onCancel,
  onSubmit,
  children,
}: {
  busy: boolean;
  invalidField: string | null | undefined;
  onCancel: () => void;
  onSubmit: (name: string, modelIds: string[]) => void;
  children: React.ReactNode;
}) {
  const { data, loading, error } = useQuery(MySubscriptionsDocument);
  const subscribed = (data?.subscriptions ?? []).filter((subscription) => subscription.status === "ACTIVE");
  const [noModel, setNoModel] = useState(false);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const modelIds = form.getAll("model").map(String);
    setNoModel(modelIds.length === 0);
    if (modelIds.length > 0) onSubmit(String(form.get("name") ?? ""), modelIds);
  };
  const invalid = (field: string) => invalidField === field || undefined;
  return (
    <form onSubmit={submit} className="stacked">
      {children}
      <label>
        Name
        <input name="name" required maxLength={255} aria-invalid={invalid("name")} autoFocus />
      </label>
      <fieldset aria-invalid={invalid("modelIds") ?? (noModel || undefined)}>
        <legend>Models this key may call</legend>
        {error && <RequestFailure error={error} />}
        {loading && !data && <p>Loading your subscriptions…</p>}
        {data && subscribed.length === 0 && (
          <p>You have no active subscription: subscribe to a model in the catalogue first.</p>
        )}
        {subscribed.map((subscription) => (
          <label key={subscription.id} className="inline">
            <input type="checkbox" name="model" value={subscription.modelId} /> {subscription.model.name}
          </label>
        ))}
        {noModel && <p className="hint">Choose at least one model.</p>}
      </fieldset>
      <div className="buttons">
        <button type="submit" disabled={busy || subscribed.length === 0}>
          Create
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Secret({ created, onDone }: { created: Created; onDone: () => void }) {
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const copy = () =>
    navigator.clipboard.writeText(created.secret).then(
      () => setCopied("yes"),
      () => setCopied("no"),
    );
  return (
    <div className="stacked">
      <p>
        Your key <strong>{created.apiKey.name}</strong> is ready. Copy it now: it is shown only this once.
      </p>
      <label>
        Secret key
        <input className="secret" readOnly value={created.secret} onFocus={(event) => event.currentTarget.select()} />
      </label>
      <div className="buttons">
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          Done
        </button>
      </div>
      <p aria-live="polite" className="hint">
        {copied === "yes" && "Copied to the clipboard."}
        {copied === "no" && "The browser did not allow copying: select the key and copy it yourself."}
      </p>
    </div>
  );
}
