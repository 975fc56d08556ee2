"""Subscriptions: which models a user may put on API keys."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.db.models import SubscriptionStatus
from app.db.repositories.api_keys import ApiKeyRepository, KeyModels
from app.db.repositories.catalogue import CatalogueRepository, ModelRead
from app.db.repositories.subscriptions import (
    LIVE_STATUSES,
    AlreadySubscribed,
    SubscriptionRepository,
)
from app.db.repositories.subscriptions import (
    SubscriptionRead as SubscriptionRead,  # what callers receive
)
from app.failures import Failure, FailureCode, from_litellm_error, not_found
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMError, LiteLLMNotFound
from app.services import api_keys, inputs
from app.services.api_keys import EnsureLiteLLMUser

log = logging.getLogger(__name__)


async def list_for_user(
    *, subscriptions: SubscriptionRepository, user_id: uuid.UUID
) -> list[tuple[SubscriptionRead, ModelRead]]:
    """The user's subscriptions, newest first, each with its model (one statement)."""
    return await subscriptions.list_for_user(user_id)


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
    """Narrow keys that keep other models, then delete the emptied ones in one call.

    Returns the keys to revoke locally (emptied, or already missing in LiteLLM). Any failure
    undoes the narrowing already done, so LiteLLM is left as it was.
    """
    narrowed: list[KeyModels] = []
    emptied = [k for k in keys if k.models == (model_id,)]
    to_revoke = {k.key_id for k in emptied}
    try:
        for key in keys:
            remaining = [m for m in key.models if m != model_id]
            if not remaining:
                continue
            try:
                await litellm.key_update(key=key.token, models=remaining)
            except LiteLLMNotFound:
                log.warning("key %s is missing in LiteLLM; revoking it", key.key_id)
                to_revoke.add(key.key_id)
                continue
            narrowed.append(key)
        if emptied:
            with contextlib.suppress(LiteLLMNotFound):  # already gone: the outcome we want
                await litellm.key_delete(keys=[k.token for k in emptied])
    except LiteLLMError as exc:
        log.warning("cancelling %r: LiteLLM failed (%s); undoing key changes", model_id, exc)
        for key in narrowed:
            try:
                await litellm.key_update(key=key.token, models=list(key.models))
            except LiteLLMError:
                log.exception("could not restore the models of key %s", key.key_id)
        return from_litellm_error(exc, action="update your API keys")
    return to_revoke


def _already_subscribed(model_id: str) -> Failure:
    return Failure(
        FailureCode.ALREADY_SUBSCRIBED,
        f"You are already subscribed to {model_id}",
        model_ids=(model_id,),
    )
