"""API keys: virtual keys in LiteLLM that may call exactly the models their owner subscribed to.

Creation survives a fault at any step: the local row is written PENDING first, then LiteLLM
makes the key (alias = the row's id), then the row becomes ACTIVE. A failure undoes what was
made; what a crash leaves behind, `app.services.reconcile` repairs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import SQLModel, col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import reader
from app.db.models import (
    ApiKey,
    ApiKeyModel,
    ApiKeyStatus,
    Subscription,
    SubscriptionStatus,
    User,
    utcnow,
)
from app.db.reader import as_text
from app.failures import (
    Failure,
    FailureCode,
    from_litellm_error,
    not_found,
    validation,
)
from app.litellm.client import GeneratedKey
from app.litellm.errors import LiteLLMError, LiteLLMNotFound, LiteLLMUnavailable
from app.resources import Resources
from app.services import audit, catalog, inputs, users
from app.services.catalog import CatalogModel

log = logging.getLogger(__name__)

# Far-future expiry dates are refused: null means a key that does not expire.
MAX_LIFETIME = timedelta(days=36525)
PREFIX_LENGTH = 8
# Metadata on every LiteLLM key the BFF makes: the reconciler touches no other key.
KEY_ID_METADATA = "litemaas_key_id"
# Keys that count against the per-user limit: in use, or being created.
LIVE_STATUSES = (ApiKeyStatus.ACTIVE, ApiKeyStatus.PENDING)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    model_ids: tuple[str, ...]
    expires_at: datetime | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    api_key: ApiKey
    secret: str  # shown to the owner once, never stored or logged

    def __repr__(self) -> str:
        return f"CreatedApiKey(api_key={self.api_key.id})"


def secret_digest(secret: str) -> str:
    """sha256 hex of a key: what the BFF stores, and LiteLLM's `token` for the key."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(slots=True)  # not frozen: built 50 at a time for the API-keys page
class ListedKey:
    """A key as its owner's list shows it, with the models it may call."""

    id: uuid.UUID
    name: str
    prefix: str | None
    status: ApiKeyStatus
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    max_budget: float | None
    tpm_limit: int | None
    rpm_limit: int | None
    models: list[CatalogModel]


_keys = SQLModel.metadata.tables["api_keys"]
_links = SQLModel.metadata.tables["api_key_models"]
_KEY_COLUMNS = (
    _keys.c.id,
    _keys.c.name,
    _keys.c.prefix,
    as_text(_keys.c.status),
    _keys.c.expires_at,
    _keys.c.created_at,
    _keys.c.revoked_at,
    _keys.c.max_budget,
    _keys.c.tpm_limit,
    _keys.c.rpm_limit,
)
# The keys with their models, one row per key and model (one row with no model for a key
# that has none).
_LISTING = reader.statement(
    "api_keys.listing",
    sa.select(*_KEY_COLUMNS, *catalog.MODEL_COLUMNS)
    .select_from(
        _keys.outerjoin(_links, _links.c.api_key_id == _keys.c.id).outerjoin(
            catalog.MODELS, catalog.MODELS.c.id == _links.c.model_id
        )
    )
    .where(
        _keys.c.user_id == sa.bindparam("user_id"),
        as_text(_keys.c.status) != ApiKeyStatus.PENDING.value,
    )
    .order_by(_keys.c.created_at.desc(), _keys.c.id, catalog.MODELS.c.id),
)
_KEY_MODELS = reader.statement(
    "api_keys.key_models",
    sa.select(*catalog.MODEL_COLUMNS)
    .select_from(_links.join(catalog.MODELS, catalog.MODELS.c.id == _links.c.model_id))
    .where(_links.c.api_key_id == sa.bindparam("key_id"))
    .order_by(catalog.MODELS.c.id),
)


async def list_for_user(*, resources: Resources, user_id: uuid.UUID) -> list[ListedKey]:
    """The user's keys (active and revoked), newest first, with their models sorted by id; keys
    being created are not shown. One statement for any number of keys."""
    listed: list[ListedKey] = []
    models: dict[str, CatalogModel] = {}  # each model read once, however many keys hold it
    width = len(_KEY_COLUMNS)
    for row in await resources.reader.all(_LISTING, {"user_id": user_id}):
        if not listed or listed[-1].id != row[0]:
            listed.append(
                ListedKey(
                    id=row[0],
                    name=row[1],
                    prefix=row[2],
                    status=ApiKeyStatus(row[3]),
                    expires_at=row[4],
                    created_at=row[5],
                    revoked_at=row[6],
                    max_budget=row[7],
                    tpm_limit=row[8],
                    rpm_limit=row[9],
                    models=[],
                )
            )
        model_id = row[width]
        if model_id is not None:
            model = models.get(model_id)
            if model is None:
                model = models[model_id] = catalog.model_from_row(row[width:])
            listed[-1].models.append(model)
    return listed


async def get_for_user(
    *, resources: Resources, user_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    """One of the user's keys; None for another user's key (no existence leak)."""
    async with resources.reads() as session:
        key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id or key.status is ApiKeyStatus.PENDING:
        return None
    return key


async def models_for_key(*, resources: Resources, key_id: uuid.UUID) -> list[CatalogModel]:
    """The models the key may call, by id."""
    rows = await resources.reader.all(_KEY_MODELS, {"key_id": key_id})
    return [catalog.model_from_row(row) for row in rows]


async def create(
    *, resources: Resources, user_id: uuid.UUID, request: NewApiKey
) -> CreatedApiKey | Failure:
    """Create a key for exactly the requested models.

    Failures: VALIDATION_FAILED, LITELLM_UNAVAILABLE, USER_NOT_FOUND_LITELLM,
    MODEL_ACCESS_DENIED (a model without an active subscription), KEY_LIMIT_REACHED.
    """
    invalid = _validate(request)
    if invalid is not None:
        return invalid
    sync_failure = await users.ensure_litellm_user(resources=resources, user_id=user_id)
    if sync_failure is not None:
        return sync_failure

    pending = await _insert_pending(resources=resources, user_id=user_id, request=request)
    if isinstance(pending, Failure):
        return pending

    try:
        generated = await resources.litellm.key_generate(
            key_alias=str(pending.id),
            user_id=str(user_id),
            models=request.model_ids,
            max_budget=request.max_budget,
            tpm_limit=request.tpm_limit,
            rpm_limit=request.rpm_limit,
            duration=_duration_until(request.expires_at),
            metadata={KEY_ID_METADATA: str(pending.id), "name": request.name},
        )
    except LiteLLMError as exc:
        await _abandon(resources=resources, key=pending, error=exc)
        return from_litellm_error(exc, action="create the key")

    try:
        key = await _activate(resources=resources, key_id=pending.id, generated=generated)
    except Exception:
        log.exception(
            "storing key %s failed after LiteLLM created it; deleting it there", pending.id
        )
        await _abandon(resources=resources, key=pending, error=None, token=generated.token)
        raise
    return CreatedApiKey(api_key=key, secret=generated.key)


async def revoke(
    *, resources: Resources, user_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | Failure:
    """Delete the key in LiteLLM, then mark it revoked (revoking twice is fine).

    Failures: NOT_FOUND, LITELLM_UNAVAILABLE (then the key still works).
    """
    key = await get_for_user(resources=resources, user_id=user_id, key_id=key_id)
    if key is None:
        return not_found("API key")
    if key.status is ApiKeyStatus.REVOKED:
        return key
    assert key.secret_sha256 is not None, "an active key always has its token"
    try:
        with contextlib.suppress(LiteLLMNotFound):  # already gone there: finish locally
            await resources.litellm.key_delete(keys=[key.secret_sha256])
    except LiteLLMError as exc:
        return from_litellm_error(exc, action="revoke the key")
    async with resources.sessions() as session:
        await mark_revoked(session, [key_id])
        audit.record(
            session,
            actor_id=user_id,
            action="api_key.revoke",
            resource_type="api_key",
            resource_id=str(key_id),
        )
        await session.commit()
        stored = await session.get(ApiKey, key_id)
    assert stored is not None
    return stored


async def mark_revoked(session: AsyncSession, key_ids: Collection[uuid.UUID]) -> None:
    """Mark these keys revoked where they are still active (one statement; the caller commits)."""
    if not key_ids:
        return
    now = utcnow()
    await session.exec(
        update(ApiKey)
        .where(col(ApiKey.id).in_(key_ids))
        .where(col(ApiKey.status) == ApiKeyStatus.ACTIVE)
        .values(status=ApiKeyStatus.REVOKED, revoked_at=now, updated_at=now)
    )


async def remove_pending_row(*, resources: Resources, key_id: uuid.UUID, action: str) -> bool:
    """Delete a key row that is still PENDING, recording `action`; False if it was not pending."""
    async with resources.sessions() as session:
        key = await session.get(ApiKey, key_id)
        if key is None or key.status is not ApiKeyStatus.PENDING:
            return False
        await session.delete(key)
        audit.record(
            session,
            actor_id=key.user_id,
            action=action,
            resource_type="api_key",
            resource_id=str(key_id),
            success=False,
        )
        await session.commit()
    return True


def _validate(request: NewApiKey) -> Failure | None:
    invalid = inputs.check_text(request.name, field="name", what="A key's name")
    if invalid is not None:
        return invalid
    if not request.model_ids:
        return validation("A key needs at least one model", field="modelIds")
    for model_id in request.model_ids:
        invalid = inputs.check_text(model_id, field="modelIds", what="A model id")
        if invalid is not None:
            return invalid
    if len(set(request.model_ids)) != len(request.model_ids):
        return validation("Each model may be listed once", field="modelIds")
    if request.expires_at is not None:
        if request.expires_at.tzinfo is None:
            return validation("expiresAt needs a time zone", field="expiresAt")
        if request.expires_at <= utcnow():
            return validation("expiresAt must be in the future", field="expiresAt")
        if request.expires_at - utcnow() > MAX_LIFETIME:
            return validation(
                f"expiresAt may be at most {MAX_LIFETIME.days} days ahead; "
                "leave it out for a key that does not expire",
                field="expiresAt",
            )
    for field_name, value, maximum in (
        ("maxBudget", request.max_budget, inputs.MAX_BUDGET),
        ("tpmLimit", request.tpm_limit, inputs.MAX_RATE_LIMIT),
        ("rpmLimit", request.rpm_limit, inputs.MAX_RATE_LIMIT),
    ):
        invalid = inputs.check_amount(value, field=field_name, maximum=maximum)
        if invalid is not None:
            return invalid
    return None


async def _insert_pending(
    *, resources: Resources, user_id: uuid.UUID, request: NewApiKey
) -> ApiKey | Failure:
    """Check subscriptions and the key limit, then write the PENDING row with its models."""
    async with resources.sessions() as session:
        # Concurrent creations for one user queue here, so the limit check cannot be raced.
        await session.exec(select(User.id).where(col(User.id) == user_id).with_for_update())
        subscribed = set(
            (
                await session.exec(
                    select(Subscription.model_id)
                    .where(col(Subscription.user_id) == user_id)
                    .where(col(Subscription.status) == SubscriptionStatus.ACTIVE)
                    .where(col(Subscription.model_id).in_(request.model_ids))
                )
            ).all()
        )
        denied = tuple(m for m in request.model_ids if m not in subscribed)
        if denied:
            return Failure(
                FailureCode.MODEL_ACCESS_DENIED,
                "No active subscription for: " + ", ".join(denied),
                model_ids=denied,
            )
        live = (
            await session.exec(
                select(func.count())
                .select_from(ApiKey)
                .where(col(ApiKey.user_id) == user_id)
                .where(col(ApiKey.status).in_(LIVE_STATUSES))
            )
        ).one()
        limit = resources.settings.max_active_keys_per_user
        if live >= limit:
            return Failure(
                FailureCode.KEY_LIMIT_REACHED,
                f"You already have {live} active keys; the limit is {limit}. "
                "Revoke one to create another.",
            )
        key = ApiKey(
            user_id=user_id,
            name=request.name.strip(),
            status=ApiKeyStatus.PENDING,
            max_budget=request.max_budget,
            tpm_limit=request.tpm_limit,
            rpm_limit=request.rpm_limit,
            expires_at=request.expires_at,
        )
        session.add(key)
        session.add_all(ApiKeyModel(api_key_id=key.id, model_id=m) for m in request.model_ids)
        await session.commit()
        return key


async def _activate(*, resources: Resources, key_id: uuid.UUID, generated: GeneratedKey) -> ApiKey:
    async with resources.sessions() as session:
        key = await session.get(ApiKey, key_id)
        assert key is not None
        now = utcnow()
        key.status = ApiKeyStatus.ACTIVE
        key.secret_sha256 = secret_digest(generated.key)
        key.prefix = generated.key[:PREFIX_LENGTH]
        key.expires_at = key.expires_at or generated.expires
        key.updated_at = now
        audit.record(
            session,
            actor_id=key.user_id,
            action="api_key.create",
            resource_type="api_key",
            resource_id=str(key.id),
            details={"models": sorted(generated.models)},
        )
        await session.commit()
        return key


async def _abandon(
    *, resources: Resources, key: ApiKey, error: LiteLLMError | None, token: str | None = None
) -> None:
    """Undo a failed creation: the LiteLLM key if one may exist, then the pending row.

    If LiteLLM cannot be cleaned up now, the row stays PENDING and the reconciler finishes.
    """
    may_exist = token is not None or (isinstance(error, LiteLLMUnavailable) and error.reached)
    if may_exist and not await delete_litellm_key(resources=resources, key=key, token=token):
        log.warning("key %s left pending for the reconciler", key.id)
        return
    await remove_pending_row(resources=resources, key_id=key.id, action="api_key.create_failed")


async def delete_litellm_key(
    *, resources: Resources, key: ApiKey, token: str | None = None
) -> bool:
    """Make sure LiteLLM has no key for this row (found by token, else by alias = row id).

    True when LiteLLM has none left; False when LiteLLM could not be asked.
    """
    litellm = resources.litellm
    try:
        if token is None:
            token = next(
                (
                    k.token
                    for k in await litellm.key_list(user_id=str(key.user_id))
                    if k.key_alias == str(key.id) and not k.deleted
                ),
                None,
            )
        if token is not None:
            with contextlib.suppress(LiteLLMNotFound):
                await litellm.key_delete(keys=[token])
    except LiteLLMError as exc:
        log.warning("could not delete the LiteLLM key of %s: %s", key.id, exc)
        return False
    return True


def _duration_until(expires_at: datetime | None) -> str | None:
    if expires_at is None:
        return None
    return f"{max(1, math.ceil((expires_at - utcnow()).total_seconds()))}s"
