"""Subscriptions: which models a user may put on API keys."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from app.db.models import SubscriptionStatus as SubscriptionStatus  # what callers filter by
from app.db.repositories.api_keys import ApiKeyRepository, KeyModels
from app.db.repositories.catalogue import CatalogueRepository, ModelRead
from app.db.repositories.subscriptions import (
    LIVE_STATUSES,
    AlreadySubscribed,
    StatusRefused,
    SubscriptionRepository,
)
from app.db.repositories.subscriptions import RequestFilter as RequestFilter  # what callers pass
from app.db.repositories.subscriptions import (
    StatusChangeRead as StatusChangeRead,  # what callers receive
)
from app.db.repositories.subscriptions import (
    SubscriptionRead as SubscriptionRead,  # what callers receive
)
from app.db.repositories.subscriptions import (
    SubscriptionRequest as SubscriptionRequest,  # what callers receive
)
from app.db.repositories.users import UserRepository
from app.failures import (
    Failure,
    FailureCode,
    from_litellm_error,
    invalid_transition,
    not_found,
    validation,
)
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMError, LiteLLMNotFound
from app.services import api_keys, inputs
from app.services.api_keys import EnsureLiteLLMUser
from app.services.paging import Page, page_request

# An administrator's reason for a decision, kept in the history and the audit trail.
MAX_REASON_LENGTH = 1000
# Ids one bulk decision may name.
MAX_BULK_IDS = 100

log = logging.getLogger(__name__)


async def list_for_user(
    *, subscriptions: SubscriptionRepository, user_id: uuid.UUID
) -> list[tuple[SubscriptionRead, ModelRead]]:
    """The user's subscriptions, newest first, each with its model (one statement)."""
    return await subscriptions.list_for_user(user_id)


async def list_for_session(
    *, subscriptions: SubscriptionRepository, user_id: uuid.UUID, generation: int
) -> list[tuple[SubscriptionRead, ModelRead]] | None:
    """The subscriptions as `list_for_user` gives them while the session is current (its user
    active, its generation not ended); None once it is not. One statement checks the session and
    reads the subscriptions with their models."""
    return await subscriptions.list_with_models_for_session(user_id, generation=generation)


async def by_model_for_session(
    *,
    subscriptions: SubscriptionRepository,
    user_id: uuid.UUID,
    generation: int,
    model_ids: Sequence[str],
) -> dict[str, SubscriptionRead]:
    """The session user's subscription to each of these models, where there is one; none at
    all when the session has ended or the user is deactivated.

    One subscription per model at most, so a user has few: one statement reads them all.
    """
    wanted = set(model_ids)
    found = await subscriptions.list_for_session(user_id, generation=generation)
    return {s.model_id: s for s in found if s.model_id in wanted}


async def catalogue_for_session(
    *,
    subscriptions: SubscriptionRepository,
    user_id: uuid.UUID,
    generation: int,
    include_unavailable: bool = False,
) -> list[tuple[ModelRead, SubscriptionRead | None]]:
    """The catalogue, by id, as `catalog.list_models` gives it, each model with the session
    user's subscription to it (as `by_model_for_session`): one statement for both."""
    found = await subscriptions.catalogue_for_session(user_id, generation=generation)
    return found if include_unavailable else [(m, s) for m, s in found if m.available]


async def create(
    *,
    subscriptions: SubscriptionRepository,
    models: CatalogueRepository,
    ensure_litellm_user: EnsureLiteLLMUser,
    user_id: uuid.UUID,
    model_id: str,
) -> SubscriptionRead | Failure:
    """Subscribe the user to a model: ACTIVE, or PENDING approval for a restricted model.

    Failures: VALIDATION_FAILED, NOT_FOUND, ALREADY_SUBSCRIBED, LITELLM_UNAVAILABLE,
    USER_NOT_FOUND_LITELLM.
    """
    invalid = inputs.check_text(model_id, field="modelId", what="A model id")
    if invalid is not None:
        return invalid
    model = await models.get(model_id)
    if model is None or not model.available:
        return not_found(f"Model {model_id!r}")
    sync_failure = await ensure_litellm_user(user_id)
    if sync_failure is not None:
        return sync_failure
    status = SubscriptionStatus.PENDING if model.restricted_access else SubscriptionStatus.ACTIVE
    subscription = await subscriptions.subscribe(user_id, model_id, status=status)
    if isinstance(subscription, AlreadySubscribed):
        return _already_subscribed(model_id)
    return subscription


@dataclass(frozen=True, slots=True)
class SubscribedWithKey:
    """The subscription stands; `key` is the key made for it, or why it could not be made."""

    subscription: SubscriptionRead
    key: api_keys.CreatedApiKey | Failure


async def create_with_key(
    *,
    subscriptions: SubscriptionRepository,
    models: CatalogueRepository,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    ensure_litellm_user: EnsureLiteLLMUser,
    max_active_keys: int,
    policy: api_keys.KeyPolicy,
    user_id: uuid.UUID,
    model_id: str,
    key: api_keys.NewApiKey,
) -> SubscribedWithKey | Failure:
    """Subscribe to a model and make a key for it in one step. If the key cannot be made
    (a restricted model's subscription awaits approval, a limit, LiteLLM) the subscription
    stands and the key's failure is returned beside it: never a half-made key.

    Failures (then nothing was made): those of `create`.
    """
    subscription = await create(
        subscriptions=subscriptions,
        models=models,
        ensure_litellm_user=ensure_litellm_user,
        user_id=user_id,
        model_id=model_id,
    )
    if isinstance(subscription, Failure):
        return subscription
    created = await api_keys.create(
        keys=keys,
        litellm=litellm,
        ensure_litellm_user=ensure_litellm_user,
        max_active_keys=max_active_keys,
        policy=policy,
        user_id=user_id,
        request=replace(key, model_ids=(model_id,)),
    )
    return SubscribedWithKey(subscription=subscription, key=created)


async def cancel(
    *,
    subscriptions: SubscriptionRepository,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    user_id: uuid.UUID,
    subscription_id: uuid.UUID,
) -> SubscriptionRead | Failure:
    """Cancel; first remove the model from the user's keys in LiteLLM (keys left empty are revoked).

    Failures: NOT_FOUND, LITELLM_UNAVAILABLE (then nothing has changed).
    """
    subscription = await subscriptions.get(subscription_id)
    if subscription is None or subscription.user_id != user_id:
        return not_found("Subscription")
    if subscription.status is SubscriptionStatus.SUSPENDED:
        return invalid_transition("The subscription", "suspended", "cancelled")
    if subscription.status not in LIVE_STATUSES:
        return subscription
    model_id = subscription.model_id
    with_model = await keys.active_with_model(user_id, model_id)

    to_revoke = await _remove_model_from_litellm_keys(
        litellm=litellm, keys=with_model, model_id=model_id
    )
    if isinstance(to_revoke, Failure):
        return to_revoke
    return await subscriptions.cancel(
        subscription_id,
        actor_id=user_id,
        keys_changed=[k.key_id for k in with_model],
        keys_revoked=to_revoke,
    )


async def _remove_model_from_litellm_keys(
    *, litellm: LiteLLMClient, keys: Sequence[KeyModels], model_id: str
) -> set[uuid.UUID] | Failure:
    """Narrow keys that keep other models (block those left with none they may call), then
    delete the emptied ones in one call.

    Returns the keys to revoke locally (emptied, or already missing in LiteLLM). Any failure
    undoes the changes already made, so LiteLLM is left as it was.
    """
    emptied = [k for k in keys if k.models == (model_id,)]
    to_revoke = {k.key_id for k in emptied}
    undo = _Undo(litellm)
    try:
        for key in keys:
            if key in emptied:
                continue
            try:
                await undo.withdraw(key, model_id, owner_active=True)
            except LiteLLMNotFound:
                log.warning("key %s is missing in LiteLLM; revoking it", key.key_id)
                to_revoke.add(key.key_id)
        if emptied:
            with contextlib.suppress(LiteLLMNotFound):  # already gone: the outcome we want
                await litellm.key_delete(keys=[k.token for k in emptied])
    except LiteLLMError as exc:
        log.warning("cancelling %r: LiteLLM failed (%s); undoing key changes", model_id, exc)
        await undo.run()
        return from_litellm_error(exc, action="update your API keys")
    return to_revoke


class _Undo:
    """Changes a step makes to keys in LiteLLM, with how to take each back."""

    def __init__(self, litellm: LiteLLMClient) -> None:
        self.litellm = litellm
        self._steps: list[tuple[uuid.UUID, Callable[[], Awaitable[None]]]] = []

    async def withdraw(self, key: KeyModels, model_id: str, *, owner_active: bool) -> None:
        """The key stops reaching the model: narrowed to its other models, or blocked when it
        has none left it may call (LiteLLM reads an empty list as every model)."""
        others = [m for m in key.reachable if m != model_id]
        if others:
            await self.litellm.key_set_models(key=key.token, models=others)
            previous = list(key.reachable)
            if previous:
                self._later(
                    key, lambda: self.litellm.key_set_models(key=key.token, models=previous)
                )
        elif owner_active and key.reachable:
            # Blocked already when its owner is deactivated, or nothing was reachable before.
            await self.litellm.key_block(key.token)
            self._later(key, lambda: self.litellm.key_unblock(key.token))

    async def restore(self, key: KeyModels, model_id: str, *, owner_active: bool) -> None:
        """The key reaches the model again, and is unblocked if it reached none before."""
        models = sorted({*key.reachable, model_id})
        await self.litellm.key_set_models(key=key.token, models=models)
        previous = list(key.reachable)
        if previous:
            self._later(key, lambda: self.litellm.key_set_models(key=key.token, models=previous))
        if owner_active and not key.reachable:
            await self.litellm.key_unblock(key.token)
            self._later(key, lambda: self.litellm.key_block(key.token))

    def _later(self, key: KeyModels, step: Callable[[], Awaitable[None]]) -> None:
        self._steps.append((key.key_id, step))

    async def run(self) -> None:
        """Take back every change, newest first; what cannot be is logged for the reconciler."""
        for key_id, step in reversed(self._steps):
            try:
                await step()
            except LiteLLMError:
                log.exception("could not restore key %s in LiteLLM", key_id)
        self._steps.clear()


@dataclass(frozen=True, slots=True)
class Decision:
    """An administrator's change of a subscription's status."""

    action: str
    allowed_from: tuple[SubscriptionStatus, ...]
    to: SubscriptionStatus
    verb: str


APPROVE = Decision(
    "subscription.approve", (SubscriptionStatus.PENDING,), SubscriptionStatus.ACTIVE, "approved"
)
DENY = Decision(
    "subscription.deny", (SubscriptionStatus.PENDING,), SubscriptionStatus.DENIED, "denied"
)
REVERT = Decision(
    "subscription.revert",
    (SubscriptionStatus.ACTIVE, SubscriptionStatus.DENIED),
    SubscriptionStatus.PENDING,
    "reverted to pending",
)
SUSPEND = Decision(
    "subscription.suspend", (SubscriptionStatus.ACTIVE,), SubscriptionStatus.SUSPENDED, "suspended"
)
REACTIVATE = Decision(
    "subscription.reactivate",
    (SubscriptionStatus.SUSPENDED,),
    SubscriptionStatus.ACTIVE,
    "reactivated",
)


@dataclass(frozen=True, slots=True)
class Deciding:
    """What a decision reads and changes."""

    subscriptions: SubscriptionRepository
    keys: ApiKeyRepository
    users: UserRepository
    litellm: LiteLLMClient


async def decide(
    deciding: Deciding,
    decision: Decision,
    *,
    subscription_id: uuid.UUID,
    actor_id: uuid.UUID,
    reason: str | None,
) -> SubscriptionRead | Failure:
    """Move a subscription as `decision` says, recorded in its history and the audit trail.

    A subscription that leaves ACTIVE first leaves its owner's keys in LiteLLM (a key left with
    no model it may call is blocked); one that becomes ACTIVE first comes back to them.
    Failures: NOT_FOUND, INVALID_STATE_TRANSITION, VALIDATION_FAILED (reason),
    LITELLM_UNAVAILABLE (then nothing has changed on either side).
    """
    if reason is not None:
        invalid = inputs.check_text(
            reason, field="reason", what="A reason", max_length=MAX_REASON_LENGTH
        )
        if invalid is not None:
            return invalid

    async def in_litellm(subscription: SubscriptionRead) -> Failure | None:
        leaving = subscription.status is SubscriptionStatus.ACTIVE
        entering = decision.to is SubscriptionStatus.ACTIVE
        if not (leaving or entering):
            return None
        keys = await deciding.keys.active_with_model(subscription.user_id, subscription.model_id)
        if not keys:
            return None
        owner = await deciding.users.get(subscription.user_id)
        owner_active = owner is not None and owner.is_active
        undo = _Undo(deciding.litellm)
        try:
            for key in keys:
                with contextlib.suppress(LiteLLMNotFound):  # the reconciler revokes it
                    if leaving:
                        await undo.withdraw(key, subscription.model_id, owner_active=owner_active)
                    else:
                        await undo.restore(key, subscription.model_id, owner_active=owner_active)
        except LiteLLMError as exc:
            log.warning("%s: LiteLLM failed (%s); undoing key changes", decision.action, exc)
            await undo.run()
            return from_litellm_error(exc, action="update the user's API keys")
        return None

    result = await deciding.subscriptions.change_status(
        subscription_id,
        allowed_from=decision.allowed_from,
        to=decision.to,
        actor_id=actor_id,
        reason=reason,
        action=decision.action,
        first=in_litellm,
    )
    if result is None:
        return not_found("Subscription")
    if isinstance(result, StatusRefused):
        return invalid_transition("The subscription", result.current.status.value, decision.verb)
    return result


async def decide_many(
    deciding: Deciding,
    decision: Decision,
    *,
    subscription_ids: Sequence[str],
    actor_id: uuid.UUID,
    reason: str | None,
) -> list[SubscriptionRead | Failure] | Failure:
    """`decide` for each id, in order: one outcome each, whatever the others' are.

    Failures: VALIDATION_FAILED (no ids, or more than MAX_BULK_IDS).
    """
    if not 1 <= len(subscription_ids) <= MAX_BULK_IDS:
        return validation(f"Name 1 to {MAX_BULK_IDS} subscriptions", field="ids")
    outcomes: list[SubscriptionRead | Failure] = []
    for raw in subscription_ids:
        try:
            subscription_id = uuid.UUID(raw)
        except ValueError:
            outcomes.append(not_found("Subscription"))
            continue
        outcomes.append(
            await decide(
                deciding,
                decision,
                subscription_id=subscription_id,
                actor_id=actor_id,
                reason=reason,
            )
        )
    return outcomes


async def requests_page(
    *, subscriptions: SubscriptionRepository, found_by: RequestFilter, first: int, after: str | None
) -> Page[SubscriptionRequest] | Failure:
    """A page of the subscriptions `found_by` matches, oldest first, each with its model and
    user. Failures: VALIDATION_FAILED (`first`, `after`, `modelId`)."""
    if found_by.model_id is not None:
        invalid = inputs.check_text(found_by.model_id, field="modelId", what="A model id")
        if invalid is not None:
            return invalid
    request = page_request(first, after, timestamp=True)
    if isinstance(request, Failure):
        return request
    size, cursor = request
    return await subscriptions.requests_page(found_by, first=size, after=cursor)


async def history(
    *, subscriptions: SubscriptionRepository, subscription_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[StatusChangeRead]]:
    """Each subscription's status changes, oldest first, in one statement."""
    return await subscriptions.history(subscription_ids)


def _already_subscribed(model_id: str) -> Failure:
    return Failure(
        FailureCode.ALREADY_SUBSCRIBED,
        f"You are already subscribed to {model_id}",
        model_ids=(model_id,),
    )
