"""API keys and the models each may call: every statement on `api_keys` and `api_key_models`."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import reader
from app.db.engine import SessionFactory
from app.db.models import (
    ApiKey,
    ApiKeyModel,
    ApiKeyStatus,
    Subscription,
    SubscriptionStatus,
    User,
    utcnow,
)
from app.db.reader import Reader, Row, as_text
from app.db.repositories import audit, columns, named, position
from app.db.repositories.catalogue import FIELDS as MODEL_FIELDS
from app.db.repositories.catalogue import MODELS, ModelRead, model_columns, model_of
from app.db.repositories.users import SESSION_CURRENT

# Keys that count against the per-user limit: in use, or being created.
LIVE_STATUSES = (ApiKeyStatus.ACTIVE, ApiKeyStatus.PENDING)


@dataclass(frozen=True, slots=True)
class ApiKeyRead:
    """A key with the models it may call, sorted by id."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str | None
    # LiteLLM's `token` for the key (the sha256 of its secret); None while it is being created.
    secret_sha256: str | None
    status: ApiKeyStatus
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    max_budget: float | None
    tpm_limit: int | None
    rpm_limit: int | None
    # What LiteLLM reported the key has spent, as of `spend_synced_at` (None: not yet synced).
    spend: float | None
    spend_synced_at: datetime | None
    models: tuple[ModelRead, ...]
    # Those of `models` its owner's subscription to is ACTIVE: what the key may call now.
    reachable: tuple[ModelRead, ...]


@dataclass(frozen=True, slots=True)
class KeyAccess:
    """What the access check needs of the key with a given digest."""

    key_id: uuid.UUID
    status: ApiKeyStatus
    # The earlier of the key's expiry and, for a secret replaced by a rotation, its grace end.
    expires_at: datetime | None
    owner_active: bool
    model_ids: tuple[str, ...]  # sorted


@dataclass(frozen=True, slots=True)
class KeyState:
    """Where a key stands, as the reconciler compares it with LiteLLM."""

    id: uuid.UUID
    user_id: uuid.UUID
    status: ApiKeyStatus
    secret_sha256: str | None
    created_at: datetime
    updated_at: datetime
    # The key's models its owner's subscription to is ACTIVE, sorted: those LiteLLM may let
    # it call (none: it is blocked there).
    reachable: tuple[str, ...]
    # The secret a rotation replaced, valid until `previous_valid_until`.
    previous_secret_sha256: str | None = None
    previous_valid_until: datetime | None = None
    # Since when an update or rotation has been under way in LiteLLM (None: none is).
    changing_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyChange:
    """What an update sets on a key; None leaves a field as it is."""

    name: str | None = None
    model_ids: tuple[str, ...] | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Busy:
    """Another update or rotation of the key is under way."""


@dataclass(frozen=True, slots=True)
class KeyModels:
    """One LiteLLM key of an active row (its secret, or the one a rotation replaced while its
    grace period lasts) and all of the row's models, sorted; `reachable` are those its
    owner's subscription to is ACTIVE: the models LiteLLM lets it call (none: it is blocked)."""

    key_id: uuid.UUID
    token: str
    models: tuple[str, ...]
    reachable: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewKeyRow:
    user_id: uuid.UUID
    name: str
    model_ids: tuple[str, ...]
    expires_at: datetime | None
    max_budget: float | None
    tpm_limit: int | None
    rpm_limit: int | None


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """The key was not written: the owner has no active subscription to these models."""

    model_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AtKeyLimit:
    """The key was not written: the owner already has `live` keys, the limit."""

    live: int


KEYS = SQLModel.metadata.tables["api_keys"]
LINKS = SQLModel.metadata.tables["api_key_models"]
_USERS = SQLModel.metadata.tables["users"]
_SUBSCRIPTIONS = SQLModel.metadata.tables["subscriptions"]
# A model of a key counts only while its owner's subscription to it is ACTIVE (not suspended,
# pending again after a revert, or cancelled).
_LINK_SUBSCRIBED = (
    sa.select(_SUBSCRIPTIONS.c.id)
    .where(
        _SUBSCRIPTIONS.c.user_id == KEYS.c.user_id,
        _SUBSCRIPTIONS.c.model_id == LINKS.c.model_id,
        as_text(_SUBSCRIPTIONS.c.status) == SubscriptionStatus.ACTIVE.value,
    )
    .correlate(KEYS, LINKS)
    .exists()
)
_KEY_COLUMNS = (
    KEYS.c.id,
    KEYS.c.user_id,
    KEYS.c.name,
    KEYS.c.prefix,
    KEYS.c.secret_sha256,
    as_text(KEYS.c.status),
    KEYS.c.expires_at,
    KEYS.c.created_at,
    KEYS.c.revoked_at,
    KEYS.c.max_budget,
    KEYS.c.tpm_limit,
    KEYS.c.rpm_limit,
    KEYS.c.spend,
    KEYS.c.spend_synced_at,
)
# A key's row with one of its models, newest key first (the rows `_keys` reads).
_KEY_ROW = sa.select(
    *_KEY_COLUMNS, *model_columns("model_"), _LINK_SUBSCRIBED.label("reachable")
).order_by(KEYS.c.created_at.desc(), KEYS.c.id, MODELS.c.id)
_WITH_MODELS = _KEY_ROW.select_from(
    KEYS.outerjoin(LINKS, LINKS.c.api_key_id == KEYS.c.id).outerjoin(
        MODELS, MODELS.c.id == LINKS.c.model_id
    )
)
_LISTED = as_text(KEYS.c.status) != ApiKeyStatus.PENDING.value
# A user's keys with their models, one row per key and model (one row with no model for a key
# that has none); keys being created are left out.
LISTING = reader.statement(
    "api_keys.listing",
    _WITH_MODELS.where(KEYS.c.user_id == sa.bindparam("user_id"), _LISTED),
)
# The same rows, only while the session is current (its user active, its generation not
# ended): the keys page checks the session in its one statement. The user's row leads, so a
# current session without keys gives one row with no key, an ended one none at all.
LISTING_OF_SESSION = reader.statement(
    "api_keys.listing_of_session",
    _KEY_ROW.select_from(
        _USERS.outerjoin(KEYS, sa.and_(KEYS.c.user_id == _USERS.c.id, _LISTED))
        .outerjoin(LINKS, LINKS.c.api_key_id == KEYS.c.id)
        .outerjoin(MODELS, MODELS.c.id == LINKS.c.model_id)
    ).where(SESSION_CURRENT),
)
# One key with its models, whatever its status.
ONE = reader.statement("api_keys.one", _WITH_MODELS.where(KEYS.c.id == sa.bindparam("key_id")))
# The owner's account is part of the one statement: a deactivated user's keys stop at once.
# A secret replaced by a rotation is found too, with the end of its grace period.
ACCESS = reader.statement(
    "api_keys.access",
    sa.select(
        KEYS.c.id,
        as_text(KEYS.c.status),
        KEYS.c.expires_at,
        KEYS.c.secret_sha256,
        KEYS.c.previous_valid_until,
        _USERS.c.is_active,
        LINKS.c.model_id,
    )
    .select_from(
        KEYS.join(_USERS, _USERS.c.id == KEYS.c.user_id).outerjoin(
            LINKS, sa.and_(LINKS.c.api_key_id == KEYS.c.id, _LINK_SUBSCRIBED)
        )
    )
    .where(
        sa.or_(
            KEYS.c.secret_sha256 == sa.bindparam("digest"),
            KEYS.c.previous_secret_sha256 == sa.bindparam("digest"),
        )
    ),
)


# The keys page reads `_WITH_MODELS` rows by position (`columns`), the positions found by name
# here: copying its 75 rows of 25 columns into mappings cost more than reading them.
_KEY_FIELDS = tuple(
    f.name for f in dataclasses.fields(ApiKeyRead) if f.name not in ("models", "reachable")
)
_KEY_VALUES = columns(_WITH_MODELS, _KEY_FIELDS)
_MODEL_VALUES = columns(_WITH_MODELS, [f"model_{name}" for name in MODEL_FIELDS])
_KEY_ID = position(_WITH_MODELS, "id")
_MODEL_ID = position(_WITH_MODELS, "model_id")
_REACHABLE = position(_WITH_MODELS, "reachable")
_STATUSES = {status.value: status for status in ApiKeyStatus}


def _keys(rows: Sequence[Row]) -> list[ApiKeyRead]:
    """The keys in rows of `_WITH_MODELS`, each model read once however many keys hold it."""
    keys: list[ApiKeyRead] = []
    models: dict[str, ModelRead] = {}
    current: Row | None = None
    held: list[ModelRead] = []
    reachable: list[ModelRead] = []
    for row in rows:
        if current is None or row[_KEY_ID] != current[_KEY_ID]:
            if current is not None:
                keys.append(_key(current, tuple(held), tuple(reachable)))
            current, held, reachable = row, [], []
        model_id = row[_MODEL_ID]
        if model_id is not None:
            model = models.get(model_id)
            if model is None:
                model = models[model_id] = model_of(_MODEL_VALUES(row))
            held.append(model)
            if row[_REACHABLE]:
                reachable.append(model)
    if current is not None:
        keys.append(_key(current, tuple(held), tuple(reachable)))
    return keys


def _key(row: Row, models: tuple[ModelRead, ...], reachable: tuple[ModelRead, ...]) -> ApiKeyRead:
    (
        id_,
        user_id,
        name,
        prefix,
        secret_sha256,
        status,
        expires_at,
        created_at,
        revoked_at,
        max_budget,
        tpm_limit,
        rpm_limit,
        spend,
        spend_synced_at,
    ) = _KEY_VALUES(row)
    return ApiKeyRead(
        id=id_,
        user_id=user_id,
        name=name,
        prefix=prefix,
        secret_sha256=secret_sha256,
        status=_STATUSES[status],
        expires_at=expires_at,
        created_at=created_at,
        revoked_at=revoked_at,
        max_budget=max_budget,
        tpm_limit=tpm_limit,
        rpm_limit=rpm_limit,
        spend=spend,
        spend_synced_at=spend_synced_at,
        models=models,
        reachable=reachable,
    )


class ApiKeyRepository:
    def __init__(self, *, sessions: SessionFactory, reader: Reader) -> None:
        self._sessions = sessions
        self._reader = reader

    async def list_for_user(self, user_id: uuid.UUID) -> list[ApiKeyRead]:
        """The user's keys (active and revoked), newest first; one statement for any number."""
        return _keys(await self._reader.all(LISTING, {"user_id": user_id}))

    async def list_for_session(
        self, user_id: uuid.UUID, *, generation: int
    ) -> list[ApiKeyRead] | None:
        """The user's keys as `list_for_user` gives them while this session generation is
        current and the user active; None otherwise. One statement checks both."""
        rows = await self._reader.all(
            LISTING_OF_SESSION, {"user_id": user_id, "generation": generation}
        )
        if not rows:
            return None
        return [] if rows[0][_KEY_ID] is None else _keys(rows)

    async def get(self, key_id: uuid.UUID) -> ApiKeyRead | None:
        """The key, whatever its status, with its models."""
        keys = _keys(await self._reader.all(ONE, {"key_id": key_id}))
        return keys[0] if keys else None

    async def access(self, digest: str) -> KeyAccess | None:
        """The key whose secret has this sha256, as the access check needs it."""
        rows = named(ACCESS, await self._reader.all(ACCESS, {"digest": digest}))
        if not rows:
            return None
        first = rows[0]
        expires_at = first["expires_at"]
        if first["secret_sha256"] != digest:  # a replaced secret: valid until its grace ends
            grace_end = first["previous_valid_until"]
            expires_at = grace_end if expires_at is None else min(expires_at, grace_end)
        return KeyAccess(
            key_id=first["id"],
            status=ApiKeyStatus(first["status"]),
            expires_at=expires_at,
            owner_active=first["is_active"],
            model_ids=tuple(sorted(r["model_id"] for r in rows if r["model_id"] is not None)),
        )

    async def active_with_model(self, user_id: uuid.UUID, model_id: str) -> list[KeyModels]:
        """The user's active keys that carry the model, each with all of its models."""
        with_model = (
            select(ApiKeyModel.api_key_id)
            .join(ApiKey, col(ApiKey.id) == col(ApiKeyModel.api_key_id))
            .where(col(ApiKey.user_id) == user_id)
            .where(col(ApiKey.status) == ApiKeyStatus.ACTIVE)
            .where(col(ApiKeyModel.model_id) == model_id)
        )
        return await self._key_models(col(ApiKey.id).in_(with_model))

    async def active_of_user(self, user_id: uuid.UUID) -> list[KeyModels]:
        """The user's active keys, each with all of its models."""
        return await self._key_models(
            sa.and_(col(ApiKey.user_id) == user_id, col(ApiKey.status) == ApiKeyStatus.ACTIVE)
        )

    async def _key_models(self, which: sa.ColumnElement[bool]) -> list[KeyModels]:
        """One per LiteLLM key: a secret a rotation replaced is still a LiteLLM key of the row
        in its grace period, with the same models, and is blocked or narrowed with it."""
        async with self._sessions() as session:
            rows = await session.exec(  # type: ignore[call-overload]
                sa.select(
                    col(ApiKey.id),
                    col(ApiKey.secret_sha256),
                    col(ApiKey.previous_secret_sha256),
                    col(ApiKey.previous_valid_until),
                    col(ApiKeyModel.model_id),
                    col(Subscription.status),
                )
                .join(ApiKeyModel, col(ApiKeyModel.api_key_id) == col(ApiKey.id))
                .outerjoin(
                    Subscription,
                    sa.and_(
                        col(Subscription.user_id) == col(ApiKey.user_id),
                        col(Subscription.model_id) == col(ApiKeyModel.model_id),
                    ),
                )
                .where(which)
                .order_by(col(ApiKey.id), col(ApiKeyModel.model_id))
            )
            found = rows.all()
        now = utcnow()
        keys: dict[str, KeyModels] = {}
        for key_id, current, previous, valid_until, linked_model, status in found:
            assert current is not None, "an active key always has its token"
            tokens = [current]
            if previous is not None and valid_until is not None and valid_until > now:
                tokens.append(previous)
            reachable = status is SubscriptionStatus.ACTIVE
            for token in tokens:
                known = keys.get(token) or KeyModels(key_id, token, (), ())
                keys[token] = KeyModels(
                    key_id,
                    token,
                    (*known.models, linked_model),
                    (*known.reachable, linked_model) if reachable else known.reachable,
                )
        return list(keys.values())

    async def insert_pending(
        self, key: NewKeyRow, *, limit: int
    ) -> uuid.UUID | Unsubscribed | AtKeyLimit:
        """Check the subscriptions and the key limit, then write the PENDING row with its
        models; its id."""
        async with self._sessions() as session:
            # Concurrent creations for one user queue here, so the limit check cannot be raced.
            await session.exec(select(User.id).where(col(User.id) == key.user_id).with_for_update())
            subscribed = set(
                (
                    await session.exec(
                        select(Subscription.model_id)
                        .where(col(Subscription.user_id) == key.user_id)
                        .where(col(Subscription.status) == SubscriptionStatus.ACTIVE)
                        .where(col(Subscription.model_id).in_(key.model_ids))
                    )
                ).all()
            )
            denied = tuple(m for m in key.model_ids if m not in subscribed)
            if denied:
                return Unsubscribed(denied)
            live = (
                await session.exec(
                    select(func.count())
                    .select_from(ApiKey)
                    .where(col(ApiKey.user_id) == key.user_id)
                    .where(col(ApiKey.status).in_(LIVE_STATUSES))
                )
            ).one()
            if live >= limit:
                return AtKeyLimit(live)
            row = ApiKey(
                user_id=key.user_id,
                name=key.name,
                status=ApiKeyStatus.PENDING,
                max_budget=key.max_budget,
                tpm_limit=key.tpm_limit,
                rpm_limit=key.rpm_limit,
                expires_at=key.expires_at,
            )
            session.add(row)
            session.add_all(ApiKeyModel(api_key_id=row.id, model_id=m) for m in key.model_ids)
            await session.commit()
            return row.id

    async def activate(
        self,
        key_id: uuid.UUID,
        *,
        secret_sha256: str,
        prefix: str,
        expires_at: datetime | None,
        models: Collection[str],
    ) -> ApiKeyRead:
        """Mark the pending key ACTIVE with its token (an expiry it has wins over
        `expires_at`), audited; the key with its models."""
        async with self._sessions() as session:
            key = await session.get(ApiKey, key_id)
            assert key is not None
            await _after_subscription_decisions(session, key.user_id)
            key.status = ApiKeyStatus.ACTIVE
            key.secret_sha256 = secret_sha256
            key.prefix = prefix
            key.expires_at = key.expires_at or expires_at
            key.updated_at = utcnow()
            audit.record(
                session,
                actor_id=key.user_id,
                action="api_key.create",
                resource_type="api_key",
                resource_id=str(key.id),
                details={"models": sorted(models)},
            )
            await session.commit()
        return await self._existing(key_id)

    async def begin_change(
        self, key_id: uuid.UUID, *, user_id: uuid.UUID, model_ids: Collection[str] | None
    ) -> ApiKeyRead | Unsubscribed | Busy | None:
        """Mark the user's active key as being changed in LiteLLM, once every model in
        `model_ids` has an active subscription; the key as it was. None: no such active key."""
        async with self._sessions() as session:
            # Queued behind subscription changes of the same user, as creation is.
            await session.exec(select(User.id).where(col(User.id) == user_id).with_for_update())
            key = (
                await session.exec(select(ApiKey).where(col(ApiKey.id) == key_id).with_for_update())
            ).one_or_none()
            if key is None or key.user_id != user_id or key.status is not ApiKeyStatus.ACTIVE:
                return None
            if key.changing_since is not None:
                return Busy()
            if model_ids is not None:
                subscribed = set(
                    (
                        await session.exec(
                            select(Subscription.model_id)
                            .where(col(Subscription.user_id) == user_id)
                            .where(col(Subscription.status) == SubscriptionStatus.ACTIVE)
                            .where(col(Subscription.model_id).in_(model_ids))
                        )
                    ).all()
                )
                denied = tuple(m for m in model_ids if m not in subscribed)
                if denied:
                    return Unsubscribed(denied)
            key.changing_since = utcnow()
            await session.commit()
        return await self._existing(key_id)

    async def end_change(self, key_id: uuid.UUID) -> None:
        """The change of the key is over (applied, undone or repaired) with the row as it is."""
        async with self._sessions() as session:
            await session.exec(
                update(ApiKey).where(col(ApiKey.id) == key_id).values(changing_since=None)
            )
            await session.commit()

    async def apply_change(
        self, key_id: uuid.UUID, change: KeyChange, *, actor_id: uuid.UUID
    ) -> ApiKeyRead:
        """Store what LiteLLM now has for the key and end the change, audited."""
        async with self._sessions() as session:
            key = await session.get(ApiKey, key_id)
            assert key is not None
            await _after_subscription_decisions(session, key.user_id)
            for name in ("name", "max_budget", "tpm_limit", "rpm_limit", "expires_at"):
                value = getattr(change, name)
                if value is not None:
                    setattr(key, name, value)
            if change.model_ids is not None:
                await session.exec(delete(ApiKeyModel).where(col(ApiKeyModel.api_key_id) == key_id))
                session.add_all(
                    ApiKeyModel(api_key_id=key_id, model_id=m) for m in change.model_ids
                )
            key.changing_since = None
            key.updated_at = utcnow()
            audit.record(
                session,
                actor_id=actor_id,
                action="api_key.update",
                resource_type="api_key",
                resource_id=str(key_id),
                details=_change_details(change),
            )
            await session.commit()
        return await self._existing(key_id)

    async def apply_rotation(
        self,
        key_id: uuid.UUID,
        *,
        secret_sha256: str,
        prefix: str,
        previous_valid_until: datetime,
        actor_id: uuid.UUID,
    ) -> ApiKeyRead:
        """Store the key's new secret; the old one stays valid until `previous_valid_until`."""
        async with self._sessions() as session:
            key = await session.get(ApiKey, key_id)
            assert key is not None
            await _after_subscription_decisions(session, key.user_id)
            key.previous_secret_sha256 = key.secret_sha256
            key.previous_valid_until = previous_valid_until
            key.secret_sha256 = secret_sha256
            key.prefix = prefix
            key.changing_since = None
            key.updated_at = utcnow()
            audit.record(
                session,
                actor_id=actor_id,
                action="api_key.rotate",
                resource_type="api_key",
                resource_id=str(key_id),
                details={"grace_until": previous_valid_until.isoformat()},
            )
            await session.commit()
        return await self._existing(key_id)

    async def forget_previous(self, key_id: uuid.UUID, previous_secret_sha256: str) -> None:
        """The secret a rotation replaced is gone from LiteLLM: stop recognising it."""
        async with self._sessions() as session:
            await session.exec(
                update(ApiKey)
                .where(col(ApiKey.id) == key_id)
                .where(col(ApiKey.previous_secret_sha256) == previous_secret_sha256)
                .values(previous_secret_sha256=None, previous_valid_until=None)
            )
            await session.commit()

    async def store_spend(self, spend: dict[str, float], *, synced_at: datetime) -> None:
        """Record what LiteLLM reports each key (by token) has spent, in one statement."""
        if not spend:
            return
        async with self._sessions() as session:
            connection = await session.connection()
            await connection.execute(
                sa.update(KEYS)
                .where(KEYS.c.secret_sha256 == sa.bindparam("token"))
                .values(spend=sa.bindparam("amount"), spend_synced_at=synced_at),
                [{"token": token, "amount": amount} for token, amount in spend.items()],
            )
            await session.commit()

    async def states(self) -> dict[uuid.UUID, KeyState]:
        """Every key, by id."""
        reachable_links = (
            sa.select(LINKS.c.api_key_id, LINKS.c.model_id)
            .select_from(LINKS.join(KEYS, KEYS.c.id == LINKS.c.api_key_id))
            .where(_LINK_SUBSCRIBED)
            .order_by(LINKS.c.api_key_id, LINKS.c.model_id)
        )
        async with self._sessions() as session:
            rows = (await session.exec(select(ApiKey))).all()
            links = (await session.exec(reachable_links)).all()  # type: ignore[call-overload]
        reachable: dict[uuid.UUID, list[str]] = {}
        for key_id, model_id in links:
            reachable.setdefault(key_id, []).append(model_id)
        return {
            k.id: KeyState(
                k.id,
                k.user_id,
                k.status,
                k.secret_sha256,
                k.created_at,
                k.updated_at,
                reachable=tuple(reachable.get(k.id, ())),
                previous_secret_sha256=k.previous_secret_sha256,
                previous_valid_until=k.previous_valid_until,
                changing_since=k.changing_since,
            )
            for k in rows
        }

    async def revoke(
        self,
        key_id: uuid.UUID,
        *,
        actor_id: uuid.UUID,
        action: str = "api_key.revoke",
        success: bool = True,
        details: dict[str, Any] | None = None,
    ) -> ApiKeyRead:
        """Mark the key revoked (if it is active), audited as `action`; the key with its
        models."""
        async with self._sessions() as session:
            await mark_revoked(session, [key_id])
            audit.record(
                session,
                actor_id=actor_id,
                action=action,
                resource_type="api_key",
                resource_id=str(key_id),
                success=success,
                details=details,
            )
            await session.commit()
        return await self._existing(key_id)

    async def record(self, action: str, key_id: uuid.UUID, *, actor_id: uuid.UUID | None) -> None:
        """Audit something done to the key elsewhere (in LiteLLM)."""
        async with self._sessions() as session:
            audit.record(
                session,
                actor_id=actor_id,
                action=action,
                resource_type="api_key",
                resource_id=str(key_id),
            )
            await session.commit()

    async def remove_pending(self, key_id: uuid.UUID, *, action: str) -> bool:
        """Delete a key row that is still PENDING, recording `action`; False if it was not."""
        async with self._sessions() as session:
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

    async def record_access_denied(
        self, key_id: uuid.UUID, *, model_id: str, enforcement: str
    ) -> None:
        """Audit a refused (or, not enforced, a would-be refused) call of `model_id`."""
        async with self._sessions() as session:
            key = await session.get(ApiKey, key_id)
            audit.record(
                session,
                actor_id=key.user_id if key is not None else None,
                action="api_key.access_denied",
                resource_type="api_key",
                resource_id=str(key_id),
                success=False,
                details={"model_id": model_id, "enforcement": enforcement},
            )
            await session.commit()

    async def _existing(self, key_id: uuid.UUID) -> ApiKeyRead:
        key = await self.get(key_id)
        assert key is not None, "keys are deleted only while pending"
        return key


def _change_details(change: KeyChange) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for name in ("name", "max_budget", "tpm_limit", "rpm_limit"):
        value = getattr(change, name)
        if value is not None:
            details[name] = value
    if change.model_ids is not None:
        details["models"] = sorted(change.model_ids)
    if change.expires_at is not None:
        details["expires_at"] = change.expires_at.isoformat()
    return details


async def _after_subscription_decisions(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Wait for the user's subscription decisions under way: each holds its subscription's row
    while it changes the user's keys in LiteLLM. A key written after one sees its outcome in
    the key's `reachable`; one that starts later finds the key as written here."""
    await session.exec(
        select(Subscription.id)
        .where(col(Subscription.user_id) == user_id)
        .with_for_update(read=True)
    )


async def mark_revoked(session: AsyncSession, key_ids: Collection[uuid.UUID]) -> None:
    """Mark these keys revoked where they are still active, in the caller's unit of work (one
    statement; the caller commits)."""
    if not key_ids:
        return
    now = utcnow()
    await session.exec(
        update(ApiKey)
        .where(col(ApiKey.id).in_(key_ids))
        .where(col(ApiKey.status) == ApiKeyStatus.ACTIVE)
        .values(status=ApiKeyStatus.REVOKED, revoked_at=now, updated_at=now)
    )


async def unlink_model(
    session: AsyncSession, key_ids: Collection[uuid.UUID], *, model_id: str
) -> None:
    """Take the model off these keys, in the caller's unit of work (the caller commits)."""
    if not key_ids:
        return
    await session.exec(
        delete(ApiKeyModel)
        .where(col(ApiKeyModel.api_key_id).in_(key_ids))
        .where(col(ApiKeyModel.model_id) == model_id)
    )
