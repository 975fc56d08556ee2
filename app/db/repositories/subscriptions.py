"""Subscriptions: every statement on `subscriptions`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from app.db import reader
from app.db.engine import SessionFactory
from app.db.models import Subscription, SubscriptionStatus, utcnow
from app.db.reader import Reader, as_text
from app.db.repositories import api_keys, audit, named
from app.db.repositories.catalogue import MODELS, ModelRead, model_columns, model_read

# A subscription that holds its model: approved, or waiting for approval.
LIVE_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)


@dataclass(frozen=True, slots=True)
class SubscriptionRead:
    id: uuid.UUID
    user_id: uuid.UUID
    model_id: str
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlreadySubscribed:
    """Nothing was written: the user holds a live subscription to the model."""


SUBSCRIPTIONS = SQLModel.metadata.tables["subscriptions"]
_USERS = SQLModel.metadata.tables["users"]
_COLUMNS = sa.select(
    SUBSCRIPTIONS.c.id,
    SUBSCRIPTIONS.c.user_id,
    SUBSCRIPTIONS.c.model_id,
    as_text(SUBSCRIPTIONS.c.status),
    SUBSCRIPTIONS.c.created_at,
    SUBSCRIPTIONS.c.updated_at,
    SUBSCRIPTIONS.c.cancelled_at,
).order_by(SUBSCRIPTIONS.c.created_at.desc())
# A user's subscriptions, newest first, each with its model (never deleted: an inner join). The
# model's columns are prefixed `model__`: `model_id` is the subscription's own column.
OF_USER = reader.statement(
    "subscriptions.of_user",
    _COLUMNS.add_columns(*model_columns("model__"))
    .join_from(SUBSCRIPTIONS, MODELS, MODELS.c.id == SUBSCRIPTIONS.c.model_id)
    .where(SUBSCRIPTIONS.c.user_id == sa.bindparam("user_id")),
)
# The same, only while the session is current (its user active, its generation not ended):
# a public page that shows the caller's subscriptions checks the session in this statement.
OF_SESSION = reader.statement(
    "subscriptions.of_session",
    _COLUMNS.join_from(SUBSCRIPTIONS, _USERS, _USERS.c.id == SUBSCRIPTIONS.c.user_id).where(
        SUBSCRIPTIONS.c.user_id == sa.bindparam("user_id"),
        _USERS.c.session_generation == sa.bindparam("generation"),
        _USERS.c.is_active,
    ),
)

# The catalogue with the session user's subscription to each model (NULLs where there is none,
# and everywhere once the session has ended): the model catalogue page in one statement.
_SESSION_CURRENT = (
    sa.select(_USERS.c.id)
    .where(
        _USERS.c.id == sa.bindparam("user_id"),
        _USERS.c.session_generation == sa.bindparam("generation"),
        _USERS.c.is_active,
    )
    .exists()
)
CATALOGUE_OF_SESSION = reader.statement(
    "subscriptions.catalogue_of_session",
    sa.select(
        *model_columns(),
        SUBSCRIPTIONS.c.id.label("subscription_id"),
        SUBSCRIPTIONS.c.user_id.label("subscription_user_id"),
        as_text(SUBSCRIPTIONS.c.status).label("subscription_status"),
        SUBSCRIPTIONS.c.created_at.label("subscription_created_at"),
        SUBSCRIPTIONS.c.updated_at.label("subscription_updated_at"),
        SUBSCRIPTIONS.c.cancelled_at.label("subscription_cancelled_at"),
    )
    .select_from(
        MODELS.outerjoin(
            SUBSCRIPTIONS,
            sa.and_(
                SUBSCRIPTIONS.c.model_id == MODELS.c.id,
                SUBSCRIPTIONS.c.user_id == sa.bindparam("user_id"),
                _SESSION_CURRENT,
            ),
        )
    )
    .order_by(MODELS.c.id),
)


def _read(row: dict[str, Any]) -> SubscriptionRead:
    return SubscriptionRead(
        id=row["id"],
        user_id=row["user_id"],
        model_id=row["model_id"],
        status=SubscriptionStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        cancelled_at=row["cancelled_at"],
    )


def _of_model(row: dict[str, Any]) -> SubscriptionRead:
    """The subscription in a row of `CATALOGUE_OF_SESSION`."""
    return SubscriptionRead(
        id=row["subscription_id"],
        user_id=row["subscription_user_id"],
        model_id=row["id"],
        status=SubscriptionStatus(row["subscription_status"]),
        created_at=row["subscription_created_at"],
        updated_at=row["subscription_updated_at"],
        cancelled_at=row["subscription_cancelled_at"],
    )


def _from_table(row: Subscription) -> SubscriptionRead:
    return SubscriptionRead(
        id=row.id,
        user_id=row.user_id,
        model_id=row.model_id,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        cancelled_at=row.cancelled_at,
    )


class SubscriptionRepository:
    def __init__(self, *, sessions: SessionFactory, reader: Reader) -> None:
        self._sessions = sessions
        self._reader = reader

    async def list_for_user(self, user_id: uuid.UUID) -> list[tuple[SubscriptionRead, ModelRead]]:
        """The user's subscriptions, newest first, each with its model."""
        rows = await self._reader.all(OF_USER, {"user_id": user_id})
        return [(_read(row), model_read(row, "model__")) for row in named(OF_USER, rows)]

    async def list_for_session(
        self, user_id: uuid.UUID, *, generation: int
    ) -> list[SubscriptionRead]:
        """The user's subscriptions while this session generation is current and the user
        active; none otherwise."""
        rows = await self._reader.all(OF_SESSION, {"user_id": user_id, "generation": generation})
        return [_read(row) for row in named(OF_SESSION, rows)]

    async def catalogue_for_session(
        self, user_id: uuid.UUID, *, generation: int
    ) -> list[tuple[ModelRead, SubscriptionRead | None]]:
        """The catalogue, by id, each model with the user's subscription to it while this
        session generation is current and the user active (None otherwise)."""
        rows = await self._reader.all(
            CATALOGUE_OF_SESSION, {"user_id": user_id, "generation": generation}
        )
        return [
            (model_read(row), _of_model(row) if row["subscription_id"] is not None else None)
            for row in named(CATALOGUE_OF_SESSION, rows)
        ]

    async def get(self, subscription_id: uuid.UUID) -> SubscriptionRead | None:
        async with self._sessions() as session:
            row = await session.get(Subscription, subscription_id)
        return _from_table(row) if row is not None else None

    async def subscribe(
        self, user_id: uuid.UUID, model_id: str, *, status: SubscriptionStatus
    ) -> SubscriptionRead | AlreadySubscribed:
        """Subscribe (again, if an earlier subscription ended) with this status, audited."""
        async with self._sessions() as session:
            subscription = (
                await session.exec(
                    select(Subscription)
                    .where(col(Subscription.user_id) == user_id)
                    .where(col(Subscription.model_id) == model_id)
                    .with_for_update()
                )
            ).one_or_none()
            if subscription is not None and subscription.status in LIVE_STATUSES:
                return AlreadySubscribed()
            if subscription is None:
                subscription = Subscription(user_id=user_id, model_id=model_id)
                session.add(subscription)
            subscription.status = status
            subscription.cancelled_at = None
            subscription.updated_at = utcnow()
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
                return AlreadySubscribed()  # a concurrent request created it first
            return _from_table(subscription)

    async def cancel(
        self,
        subscription_id: uuid.UUID,
        *,
        actor_id: uuid.UUID,
        keys_changed: Collection[uuid.UUID],
        keys_revoked: Collection[uuid.UUID],
    ) -> SubscriptionRead:
        """Mark the subscription cancelled, take its model off `keys_changed` and revoke
        `keys_revoked`, audited, in one transaction."""
        now = utcnow()
        async with self._sessions() as session:
            subscription = await session.get(Subscription, subscription_id)
            assert subscription is not None
            subscription.status = SubscriptionStatus.CANCELLED
            subscription.cancelled_at = now
            subscription.updated_at = now
            await api_keys.unlink_model(session, keys_changed, model_id=subscription.model_id)
            await api_keys.mark_revoked(session, keys_revoked)
            audit.record(
                session,
                actor_id=actor_id,
                action="subscription.cancel",
                resource_type="subscription",
                resource_id=str(subscription_id),
                details={
                    "model_id": subscription.model_id,
                    "keys_changed": [str(k) for k in keys_changed],
                },
            )
            await session.commit()
            return _from_table(subscription)
