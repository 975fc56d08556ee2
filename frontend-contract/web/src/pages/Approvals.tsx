// The administrator's approval queue: pending subscription requests, oldest first. Select some,
// then Approve or Deny them (denying needs a reason, which the history keeps); each request's
// outcome is shown in the contract's words, since some may fail (another administrator may have
// decided one meanwhile). A read-only administrator sees the queue without the means to decide.
import { useMutation, useQuery } from "@apollo/client/react";
import { type FormEvent, useState } from "react";

import {
  type SubscriptionRequestsQuery,
  SubscriptionApproveDocument,
  SubscriptionDenyDocument,
  SubscriptionRequestsDocument,
} from "../../../src/generated/graphql";
import { Failure, RequestFailure } from "../errors";
import { formatDate } from "../format";
import { wordsFor } from "../messages";

type Request = SubscriptionRequestsQuery["subscriptionRequests"]["edges"][number]["node"];
type Decision = "approve" | "deny";
/** What became of each request decided, named as it was listed when decided. */
type Outcome = { request: Request; code: string | null };
type Decided = { decision: Decision; outcomes: Outcome[] } | { decision: Decision; refusal: string };

const DONE: Record<Decision, string> = { approve: "Approved", deny: "Denied" };

const describe = (request: Request) => `${request.user.username}'s request for ${request.model.name}`;

export function ApprovalsPage({ decides }: { decides: boolean }) {
  const { data, loading, error, refetch } = useQuery(SubscriptionRequestsDocument, {
    variables: { status: "PENDING", modelId: null, userId: null, after: null },
  });
  const [approve, approval] = useMutation(SubscriptionApproveDocument);
  const [deny, denial] = useMutation(SubscriptionDenyDocument);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [needsReason, setNeedsReason] = useState(false);
  const [decided, setDecided] = useState<Decided | null>(null);
  const requests = data?.subscriptionRequests.edges.map((edge) => edge.node) ?? [];
  const busy = approval.loading || denial.loading;

  const toggle = (id: string, on: boolean) =>
    setSelected((before) => {
      const after = new Set(before);
      if (on) after.add(id);
      else after.delete(id);
      return after;
    });

  const decide = async (decision: Decision, reasonText: string) => {
    const reason = reasonText.trim() || null;
    setNeedsReason(decision === "deny" && reason === null);
    if (decision === "deny" && reason === null) return;
    const chosen = requests.filter((request) => selected.has(request.id));
    const variables = { ids: chosen.map((request) => request.id), reason };
    let answer;
    try {
      answer =
        decision === "approve"
          ? (await approve({ variables })).data?.subscriptionApprove
          : (await deny({ variables })).data?.subscriptionDeny;
    } catch {
      return; // the request failed as a whole: approval.error or denial.error is shown
    }
    if (!answer) return;
    if (answer.__typename !== "SubscriptionDecisionsSuccess") {
      setDecided({ decision, refusal: answer.code });
      return;
    }
    const byId = new Map(chosen.map((request) => [request.id, request]));
    setDecided({
      decision,
      outcomes: answer.outcomes.flatMap(({ subscriptionId, result }) => {
        const request = byId.get(subscriptionId);
        if (!request) return [];
        return [{ request, code: result.__typename === "SubscriptionChangeSuccess" ? null : result.code }];
      }),
    });
    setSelected(new Set());
    await refetch();
  };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const reason = String(new FormData(event.currentTarget).get("reason") ?? "");
    void decide(submitter?.value === "deny" ? "deny" : "approve", reason);
  };

  return (
    <>
      <h1>Approval queue</h1>
      {error && <RequestFailure error={error} />}
      {approval.error && <RequestFailure error={approval.error} />}
      {denial.error && <RequestFailure error={denial.error} />}
      {decided && <Outcomes decided={decided} />}
      {loading && !data && <p aria-live="polite">Loading the requests…</p>}
      {data && requests.length === 0 && <p>No request is waiting for a decision.</p>}
      {data && requests.length > 0 && (
        <form onSubmit={submit} className="stacked">
          <p>
            {data.subscriptionRequests.totalCount > requests.length
              ? `The oldest ${requests.length} of ${data.subscriptionRequests.totalCount} pending requests.`
              : `${requests.length} pending ${requests.length === 1 ? "request" : "requests"}, oldest first.`}
            {!decides && " Only an administrator may approve or deny them."}
          </p>
          <table className="keys">
            <caption className="visually-hidden">Pending subscription requests, oldest first</caption>
            <thead>
              <tr>
                {decides && (
                  <th scope="col">
                    <label className="inline">
                      <input
                        type="checkbox"
                        checked={requests.every((request) => selected.has(request.id))}
                        onChange={(event) =>
                          setSelected(new Set(event.currentTarget.checked ? requests.map((request) => request.id) : []))
                        }
                      />
                      <span className="visually-hidden">Select every request</span>
                    </label>
                  </th>
                )}
                <th scope="col">User</th>
                <th scope="col">Model</th>
                <th scope="col">Requested</th>
              </tr>
            </thead>
            <tbody>
              {requests.map((request) => (
                <tr key={request.id} data-subscription={request.id}>
                  {decides && (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select ${describe(request)}`}
                        checked={selected.has(request.id)}
                        onChange={(event) => toggle(request.id, event.currentTarget.checked)}
                      />
                    </td>
                  )}
                  <th scope="row">
                    {request.user.username}
                    <span className="hint when">{request.user.email}</span>
                  </th>
                  <td>{request.model.name}</td>
                  <td>{formatDate(request.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {decides && (
            <>
              <label>
                Reason (kept in the request&apos;s history; needed to deny)
                <textarea name="reason" rows={2} maxLength={1000} aria-invalid={needsReason || undefined} />
              </label>
              {needsReason && <p className="hint">Give a reason to deny.</p>}
              <div className="buttons">
                <button type="submit" name="decision" value="approve" disabled={busy || selected.size === 0}>
                  Approve selected
                </button>
                <button
                  type="submit"
                  name="decision"
                  value="deny"
                  className="danger"
                  disabled={busy || selected.size === 0}
                >
                  Deny selected
                </button>
              </div>
            </>
          )}
        </form>
      )}
    </>
  );
}

function Outcomes({ decided }: { decided: Decided }) {
  if ("refusal" in decided) return <Failure code={decided.refusal} />;
  const failed = decided.outcomes.filter((outcome) => outcome.code !== null).length;
  return (
    <section className="panel" aria-labelledby="outcomes-title" aria-live="polite">
      <h2 id="outcomes-title">
        {DONE[decided.decision]} {decided.outcomes.length - failed} of {decided.outcomes.length}
      </h2>
      <ul className="outcomes">
        {decided.outcomes.map(({ request, code }) => {
          const words = code === null ? null : wordsFor(code);
          return (
            <li key={request.id} data-subscription={request.id} data-code={words?.code}>
              <strong>{describe(request)}</strong>:{" "}
              {words ? (
                <span className="failure-message">
                  not {DONE[decided.decision].toLowerCase()}. {words.message} {words.action ?? ""}
                </span>
              ) : (
                `${DONE[decided.decision].toLowerCase()}.`
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
