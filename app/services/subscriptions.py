"""Subscriptions: which models a user may put on API keys."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import reader
from app.db.models import (
    ApiKey,
    ApiKeyModel,
    ApiKeyStatus,
    Model,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from app.db.reader import Row, as_text
from app.failures import Failure, FailureCode, from_litellm_error, not_found
from app.litellm.errors import LiteLLMError, LiteLLMNotFound
from app.resources import Resources
from app.services import api_keys, audit, inputs, users

log = logging.getLogger(__name__)
LIVE_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)


@dataclass(slots=True)
class ListedSubscription:
    """A subscription as its owner's list shows it."""

    id: uuid.UUID
    model_id: str
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None


_subscriptions = SQLModel.metadata.tables["subscriptions"]
_users = SQLModel.metadata.tables["users"]
_LISTED = sa.select(
    _subscriptions.c.id,
    _subscriptions.c.model_id,
    as_text(_subscriptions.c.status),
    _subscriptions.c.created_at,
    _subscriptions.c.updated_at,
    _subscriptions.c.cancelled_at,
).order_by(_subscriptions.c.created_at.desc())
_OF_USER = reader.statement(
    "subscriptions.of_user", _LISTED.where(_subscriptions.c.user_id == sa.bindparam("user_id"))
)
# The same, only while the session is current (its user active, its generation not ended):
# a public page that shows the caller's subscriptions checks the session in this statement.
_OF_SESSION = reader.statement(
    "subscriptions.of_session",
    _LISTED.join_from(_subscriptions, _users, _users.c.id == _subscriptions.c.user_id).where(
        _subscriptions.c.user_id == sa.bindparam("user_id"),
        _users.c.session_generation == sa.bindparam("generation"),
        _users.c.is_active,
    ),
)


def _listed(row: Row) -> ListedSubscription:
    return ListedSubscription(
        id=row[0],
        model_id=row[1],
        status=SubscriptionStatus(row[2]),
        created_at=row[3],
        updated_at=row[4],
        cancelled_at=row[5],
    )


async def list_for_user(*, resources: Resources, user_id: uuid.UUID) -> list[ListedSubscription]:
    """The user's subscriptions, newest first."""
    return [_listed(row) for row in await resources.reader.all(_OF_USER, {"user_id": user_id})]


async def by_model_for_session(
    *, resources: Resources, user_id: uuid.UUID, generation: int, model_ids: Sequence[str]
) -> dict[str, ListedSubscription]:
    """The session user's subscription to each of these models, where there is one; none at
    all when the session has ended or the user is deactivated.

    One subscription per model at most, so a user has few: one statement reads them all.
    """
    wanted = set(model_ids)
    rows = await resources.reader.all(_OF_SESSION, {"user_id": user_id, "generation": generation})
    return {s.model_id: s for s in map(_listed, rows) if s.model_id in wanted}


async def create(
    *, resources: Resources, user_id: uuid.UUID, model_id: str
) -> Subscription | Failure:
    """Subscribe the user to a model: ACTIVE, or PENDING approval for a restricted model.

    Failures: VALIDATION_FAILED, NOT_FOUND, ALREADY_SUBSCRIBED, LITELLM_UNAVAILABLE,
    USER_NOT_FOUND_LITELLM.
    """
    invalid = inputs.check_text(model_id, field="modelId", what="A model id")
    if invalid is not None:
        return invalid
    async with resources.sessions() as session:
        model = await session.get(Model, model_id)
    if model is None or not model.available:
        return not_found(f"Model {model_id!r}")
    sync_failure = await users.ensure_litellm_user(resources=resources, user_id=user_id)
    if sync_failure is not None:
        return sync_failure
    status = SubscriptionStatus.PENDING if model.restricted_access else SubscriptionStatus.ACTIVE
    async with resources.sessions() as session:
        subscription = (
            await session.exec(
                select(Subscription)
                .where(col(Subscription.user_id) == user_id)
                .where(col(Subscription.model_id) == model_id)
                .with_for_update()
            )
        ).one_or_none()
        if subscription is not None and subscription.status in LIVE_STATUSES:
            return _already_subscribed(model_id)
        now = utcnow()
        if subscription is None:
            subscription = Subscription(user_id=user_id, model_id=model_id)
            session.add(subscription)
        subscription.status = status
        subscription.cancelled_at = None
        subscription.updated_at = now
        audit.record(
            session,
            actor_id=user_id,
            action="subscription.create",
            resource_type="subscription",
            resource_id=str(subscription.id),
            details={"model_id": model_id, "status": status.value},
        )
        try:
            await session.commit()
        except IntegrityError:
            return _already_subscribed(model_id)  # a concurrent request created it first
    return subscription


async def cancel(
    *, resources: Resources, user_id: uuid.UUID, subscription_id: uuid.UUID
) -> Subscription | Failure:
    """Cancel; first remove the model from the user's keys in LiteLLM (keys left empty are revoked).

    Failures: NOT_FOUND, LITELLM_UNAVAILABLE (then nothing has changed).
    """
    async with resources.sessions() as session:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None or subscription.user_id != user_id:
            return not_found("Subscription")
        if subscription.status not in LIVE_STATUSES:
            return subscription
        model_id = subscription.model_id
        keys = await _active_keys_with_model(session=session, user_id=user_id, model_id=model_id)

    to_revoke = await _remove_model_from_litellm_keys(
        resources=resources, keys=keys, model_id=model_id
    )
    if isinstance(to_revoke, Failure):
        return to_revoke

    now = utcnow()
    async with resources.sessions() as session:
        subscription = await session.get(Subscription, subscription_id)
        assert subscription is not None
        subscription.status = SubscriptionStatus.CANCELLED
        subscription.cancelled_at = now
        subscription.updated_at = now
        if keys:
            await session.exec(
                delete(ApiKeyModel)
                .where(col(ApiKeyModel.api_key_id).in_([k.key_id for k in keys]))
                .where(col(ApiKeyModel.model_id) == model_id)
            )
        await api_keys.mark_revoked(session, to_revoke)
        audit.record(
            session,
            actor_id=user_id,
            action="subscription.cancel",
            resource_type="subscription",
            resource_id=str(subscription_id),
            details={"model_id": model_id, "keys_changed": [str(k.key_id) for k in keys]},
        )
        await session.commit()
    return subscription


@dataclass(frozen=True, slots=True)
class _KeyModels:
    key_id: uuid.UUID
    token: str
    models: tuple[str, ...]


async def _active_keys_with_model(
    *, session: AsyncSession, user_id: uuid.UUID, model_id: str
) -> list[_KeyModels]:
    """The user's active keys that carry the model, each with all of its models."""
    with_model = (
        select(ApiKeyModel.api_key_id)
        .join(ApiKey, col(ApiKey.id) == col(ApiKeyModel.api_key_id))
        .where(col(ApiKey.user_id) == user_id)
        .where(col(ApiKey.status) == ApiKeyStatus.ACTIVE)
        .where(col(ApiKeyModel.model_id) == model_id)
    )
    rows = await session.exec(
        select(ApiKey.id, ApiKey.secret_sha256, ApiKeyModel.model_id)
        .join(ApiKeyModel, col(ApiKeyModel.api_key_id) == col(ApiKey.id))
        .where(col(ApiKey.id).in_(with_model))
        .order_by(col(ApiKey.id), col(ApiKeyModel.model_id))
    )
    keys: dict[uuid.UUID, _KeyModels] = {}
    for key_id, token, linked_model in rows.all():
        assert token is not None, "an active key always has its token"
        known = keys.get(key_id)
        models = (*known.models, linked_model) if known else (linked_model,)
        keys[key_id] = _KeyModels(key_id, token, models)
    return list(keys.values())


async def _remove_model_from_litellm_keys(
    *, resources: Resources, keys: Sequence[_KeyModels], model_id: str
) -> set[uuid.UUID] | Failure:
    """Narrow keys that keep other models, then delete the emptied ones in one call.

    Returns the keys to revoke locally (emptied, or already missing in LiteLLM). Any failure
    undoes the narrowing already done, so LiteLLM is left as it was.
    """
    litellm = resources.litellm
    narrowed: list[_KeyModels] = []
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
