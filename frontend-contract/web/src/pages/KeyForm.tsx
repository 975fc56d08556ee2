// The form of Create key and Edit key: a name, some of the caller's subscribed models (active
// subscriptions only), and optional limits and expiry; and the secret shown once afterwards.
import { useQuery } from "@apollo/client/react";
import { type FormEvent, type ReactNode, useState } from "react";

import { type ApiKeyRowFragment, MySubscriptionsDocument } from "../../../src/generated/graphql";
import { Failure, RequestFailure } from "../errors";

/** What the form asks for; when editing, a field left as it was is null (not changed). */
export type KeyInput = {
  name: string | null;
  modelIds: string[];
  expiresAt: string | null;
  maxBudget: number | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
};

/** A key's expiry as the date input shows it (the browser's day). */
const dateOf = (value: unknown) => {
  if (typeof value !== "string") return "";
  const day = new Date(value);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
};

const initialValues = (key: ApiKeyRowFragment | undefined) => ({
  name: key?.name ?? "",
  expiresOn: dateOf(key?.expiresAt),
  maxBudget: key?.maxBudget?.toString() ?? "",
  rpmLimit: key?.rpmLimit?.toString() ?? "",
  tpmLimit: key?.tpmLimit?.toString() ?? "",
});

export function KeyForm({
  apiKey,
  submitLabel,
  busy,
  invalidField,
  onCancel,
  onSubmit,
  children,
}: {
  /** The key being edited; none when creating one. */
  apiKey?: ApiKeyRowFragment;
  submitLabel: string;
  busy: boolean;
  invalidField: string | null | undefined;
  onCancel: () => void;
  onSubmit: (input: KeyInput) => void;
  children: ReactNode;
}) {
  const { data, loading, error } = useQuery(MySubscriptionsDocument);
  const subscribed = (data?.subscriptions ?? []).filter((subscription) => subscription.status === "ACTIVE");
  const onKey = new Set(apiKey?.modelAccess.map((model) => model.id));
  const initial = initialValues(apiKey);
  const [noModel, setNoModel] = useState(false);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    // Editing sends only what changed: an untouched field must not move (e.g. the expiry's time).
    const changed = (field: keyof typeof initial) => {
      const value = String(form.get(field) ?? "").trim();
      return value === "" || (apiKey && value === initial[field]) ? null : value;
    };
    const number = (field: keyof typeof initial) => {
      const value = changed(field);
      return value === null ? null : Number(value);
    };
    const expiresOn = changed("expiresOn");
    const modelIds = form.getAll("model").map(String);
    setNoModel(modelIds.length === 0);
    if (modelIds.length === 0) return;
    onSubmit({
      name: apiKey ? changed("name") : String(form.get("name") ?? ""),
      modelIds,
      // The end of the chosen day, in the browser's time zone.
      expiresAt: expiresOn === null ? null : new Date(`${expiresOn}T23:59:59`).toISOString(),
      maxBudget: number("maxBudget"),
      rpmLimit: number("rpmLimit"),
      tpmLimit: number("tpmLimit"),
    });
  };
  const invalid = (field: string) => invalidField === field || undefined;
  return (
    <form onSubmit={submit} className="stacked">
      {children}
      <label>
        Name
        <input
          name="name"
          required
          maxLength={255}
          defaultValue={initial.name}
          aria-invalid={invalid("name")}
          autoFocus
        />
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
            <input
              type="checkbox"
              name="model"
              value={subscription.modelId}
              defaultChecked={onKey.has(subscription.modelId)}
            />{" "}
            {subscription.model.name}
          </label>
        ))}
        {noModel && <p className="hint">Choose at least one model.</p>}
      </fieldset>
      <fieldset>
        <legend>Limits and expiry (optional)</legend>
        <p className="hint">
          {apiKey
            ? "Change a value to change it; a limit or expiry cannot be removed here."
            : "Left empty, the service's defaults apply."}
        </p>
        <label>
          Expires on
          <input
            name="expiresOn"
            type="date"
            defaultValue={initial.expiresOn}
            aria-invalid={invalid("expiresAt")}
          />
        </label>
        <label>
          Budget (US dollars)
          <input
            name="maxBudget"
            type="number"
            min={0}
            step="0.01"
            defaultValue={initial.maxBudget}
            aria-invalid={invalid("maxBudget")}
          />
        </label>
        <label>
          Requests per minute
          <input
            name="rpmLimit"
            type="number"
            min={1}
            step={1}
            defaultValue={initial.rpmLimit}
            aria-invalid={invalid("rpmLimit")}
          />
        </label>
        <label>
          Tokens per minute
          <input
            name="tpmLimit"
            type="number"
            min={1}
            step={1}
            defaultValue={initial.tpmLimit}
            aria-invalid={invalid("tpmLimit")}
          />
        </label>
      </fieldset>
      <div className="buttons">
        <button type="submit" disabled={busy || subscribed.length === 0}>
          {submitLabel}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A secret shown once: selectable, with Copy; it is never shown again. */
export function Secret({ secret, onDone, children }: { secret: string; onDone: () => void; children: ReactNode }) {
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const copy = () =>
    navigator.clipboard.writeText(secret).then(
      () => setCopied("yes"),
      () => setCopied("no"),
    );
  return (
    <div className="stacked">
      {children}
      <label>
        Secret key
        <input className="secret" readOnly value={secret} onFocus={(event) => event.currentTarget.select()} />
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

type KeyRefusal = { code: string; modelIds?: readonly string[] };

/** The refusal in a mutation's result, if it is one (a UserError has a `code`). */
export const failureOf = <T extends object>(result: T | undefined): Extract<T, { code: unknown }> | null =>
  result && "code" in result ? (result as Extract<T, { code: unknown }>) : null;

/** Why a key was not created, changed or rotated, in the contract's words. */
export function KeyFailure({ error, failure }: { error: unknown; failure: KeyRefusal | null }) {
  return (
    <>
      {error ? <RequestFailure error={error} /> : null}
      {failure && <Failure code={failure.code} />}
      {failure?.modelIds && <p>Not subscribed: {failure.modelIds.join(", ")}</p>}
    </>
  );
}
