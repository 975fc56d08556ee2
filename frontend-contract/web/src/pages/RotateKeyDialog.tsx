// Rotate key: a new secret replaces the key's, shown once with Copy; the old one keeps working
// for the grace period chosen here (the service takes it as asked, up to seven days).
import { useMutation } from "@apollo/client/react";
import { type FormEvent, useState } from "react";

import { type ApiKeyRowFragment, ApiKeyRotateDocument } from "../../../src/generated/graphql";
import { Dialog } from "../dialog";
import { formatDate } from "../format";
import { KeyFailure, Secret, failureOf } from "./KeyForm";

const GRACE_PERIODS = [
  { seconds: 0, label: "Stops at once" },
  { seconds: 3600, label: "Works for one more hour" },
  { seconds: 86400, label: "Works for one more day" },
];

export function RotateKeyDialog({ apiKey, onClose }: { apiKey: ApiKeyRowFragment; onClose: () => void }) {
  const [rotate, { data, loading, error }] = useMutation(ApiKeyRotateDocument);
  const [oldUntil, setOldUntil] = useState<Date | null>(null);
  const result = data?.apiKeyRotate;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const gracePeriodSeconds = Number(new FormData(event.currentTarget).get("grace"));
    setOldUntil(new Date(Date.now() + gracePeriodSeconds * 1000));
    void rotate({ variables: { id: apiKey.id, input: { gracePeriodSeconds } } });
  };
  return (
    <Dialog title={`Rotate ${apiKey.name}`} onClose={onClose}>
      {(close) =>
        result?.__typename === "ApiKeyRotateSuccess" ? (
          <Secret secret={result.secret} onDone={close}>
            <p>
              The new secret of <strong>{result.apiKey.name}</strong>. Copy it now: it is shown only this once.
            </p>
            <p>
              {oldUntil && oldUntil.getTime() > Date.now()
                ? `The old secret keeps working until ${formatDate(oldUntil.toISOString())}.`
                : "The old secret no longer works."}
            </p>
          </Secret>
        ) : (
          <form onSubmit={submit} className="stacked">
            <KeyFailure error={error} failure={failureOf(result)} />
            <p>A new secret replaces this key&apos;s; the key keeps its name, models and limits.</p>
            <fieldset>
              <legend>The old secret</legend>
              {GRACE_PERIODS.map((period) => (
                <label key={period.seconds} className="inline">
                  <input type="radio" name="grace" value={period.seconds} defaultChecked={period.seconds === 0} />{" "}
                  {period.label}
                </label>
              ))}
            </fieldset>
            <div className="buttons">
              <button type="submit" disabled={loading}>
                Rotate
              </button>
              <button type="button" className="secondary" onClick={close}>
                Cancel
              </button>
            </div>
          </form>
        )
      }
    </Dialog>
  );
}
