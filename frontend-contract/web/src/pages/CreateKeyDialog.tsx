// Create key: a name and some of the caller's subscribed models (active subscriptions only);
// on success the secret is shown once, with a copy button, and never again.
import { useMutation } from "@apollo/client/react";

import { ApiKeyCreateDocument, MyApiKeysDocument } from "../../../src/generated/graphql";
import { Dialog } from "../dialog";
import { KeyFailure, KeyForm, Secret, failureOf } from "./KeyForm";

export function CreateKeyDialog({ onClose }: { onClose: () => void }) {
  const [create, { data, loading, error }] = useMutation(ApiKeyCreateDocument, {
    refetchQueries: [MyApiKeysDocument],
  });
  const result = data?.apiKeyCreate;
  return (
    <Dialog title="Create key" onClose={onClose}>
      {(close) =>
        result?.__typename === "ApiKeyCreateSuccess" ? (
          <Secret secret={result.secret} onDone={close}>
            <p>
              Your key <strong>{result.apiKey.name}</strong> is ready. Copy it now: it is shown only this
              once.
            </p>
          </Secret>
        ) : (
          <KeyForm
            submitLabel="Create"
            busy={loading}
            invalidField={result?.__typename === "ValidationError" ? result.field : null}
            onCancel={close}
            onSubmit={(input) => void create({ variables: { input: { ...input, name: input.name ?? "" } } })}
          >
            <KeyFailure error={error} failure={failureOf(result)} />
          </KeyForm>
        )
      }
    </Dialog>
  );
}
