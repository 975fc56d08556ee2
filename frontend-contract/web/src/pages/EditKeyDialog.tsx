// Edit key: its name, its models (active subscriptions only), limits and expiry; the secret
// stays the same. The answer's ApiKeyRow updates the cached row.
import { useMutation } from "@apollo/client/react";

import { type ApiKeyRowFragment, ApiKeyUpdateDocument } from "../../../src/generated/graphql";
import { Dialog } from "../dialog";
import { KeyFailure, KeyForm, failureOf } from "./KeyForm";

export function EditKeyDialog({ apiKey, onClose }: { apiKey: ApiKeyRowFragment; onClose: () => void }) {
  const [update, { data, loading, error }] = useMutation(ApiKeyUpdateDocument);
  const result = data?.apiKeyUpdate;
  return (
    <Dialog title={`Edit ${apiKey.name}`} onClose={onClose}>
      {(close) => (
        <KeyForm
          apiKey={apiKey}
          submitLabel="Save"
          busy={loading}
          invalidField={result?.__typename === "ValidationError" ? result.field : null}
          onCancel={close}
          onSubmit={(input) =>
            void update({ variables: { id: apiKey.id, input } }).then(
              ({ data: answer }) => {
                if (answer?.apiKeyUpdate.__typename === "ApiKeyUpdateSuccess") close();
              },
              () => undefined, // `error` shows why
            )
          }
        >
          <KeyFailure error={error} failure={failureOf(result)} />
        </KeyForm>
      )}
    </Dialog>
  );
}
