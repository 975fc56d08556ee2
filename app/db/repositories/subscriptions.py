"""Subscriptions: every statement on `subscriptions`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import reader
from app.db.engine import SessionFactory
from app.db.models import Subscription, SubscriptionStatus, SubscriptionStatusChange, utcnow
from app.db.reader import Reader, as_text
from app.db.repositories import api_keys, audit, named, paging
from app.db.repositories.catalogue import MODELS, ModelRead, model_columns, model_read
from app.db.repositories.paging import Cursor, Page
from app.db.repositories.users import (
    SESSION_CURRENT,
    USERS,
    UserRead,
    user_columns,
    user_read,
)

# A subscription its owner may cancel: approved, or waiting for approval.
LIVE_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)
# Subscribing again is ALREADY_SUBSCRIBED: a suspended subscription is an administrator's to
# lift, not its owner's to replace.
HELD_STATUSES = (*LIVE_STATUSES, SubscriptionStatus.SUSPENDED)
R = TypeVar("R")


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
class StatusChangeRead:
    """One step of a subscription's history."""

    subscription_id: uuid.UUID
    from_status: SubscriptionStatus | None
    to_status: SubscriptionStatus
    actor_id: uuid.UUID | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """A subscription as the approval queue shows it: with its model and its user."""

    subscription: SubscriptionRead
    model: ModelRead
    user: UserRead


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """Which subscriptions the queue shows; None matches every one."""

    status: SubscriptionStatus | None = None
    model_id: str | None = None
    user_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class StatusRefused:
    """Nothing was written: the subscription is not in a status the change starts from."""

    current: SubscriptionRead


@dataclass(frozen=True, slots=True)
class AlreadySubscribed:
    """Nothing was written: the user holds a live subscription to the model."""


SUBSCRIPTIONS = SQLModel.metadata.tables["subscriptions"]
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
# The same while the session is current (its user active, its generation not ended): the
# subscriptions page checks the session in its one statement. The user's row leads, so a
# current session without subscriptions gives one row with no subscription, an ended one none.
OF_USER_IN_SESSION = reader.statement(
    "subscriptions.of_user_in_session",
    _COLUMNS.add_columns(*model_columns("model__"))
    .select_from(
        USERS.outerjoin(SUBSCRIPTIONS, SUBSCRIPTIONS.c.user_id == USERS.c.id).outerjoin(
            MODELS, MODELS.c.id == SUBSCRIPTIONS.c.model_id
        )
    )
    .where(SESSION_CURRENT),
)
# The caller's subscriptions without their models, only while the session is current: a public
# page that shows the caller's subscriptions checks the session in this statement.
OF_SESSION = reader.statement(
    "subscriptions.of_session",
    _COLUMNS.join_from(SUBSCRIPTIONS, USERS, USERS.c.id == SUBSCRIPTIONS.c.user_id).where(
        SESSION_CURRENT
    ),
)

# The catalogue with the session user's subscription to each model (NULLs where there is none,
# and everywhere once the session has ended): the model catalogue page in one statement.
_SESSION_CURRENT = sa.select(USERS.c.id).where(SESSION_CURRENT).exists()
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


# The approval queue: subscriptions with their models and users (the model's columns prefixed
# `model__`, the user's `user__`).
_REQUESTS = (
    _COLUMNS.order_by(None)
    .add_columns(*model_columns("model__"), *user_columns("user__"))
    .select_from(
        SUBSCRIPTIONS.join(MODELS, MODELS.c.id == SUBSCRIPTIONS.c.model_id).join(
            USERS, USERS.c.id == SUBSCRIPTIONS.c.user_id
        )
    )
)


def _request(row: dict[str, Any]) -> SubscriptionRequest:
    return SubscriptionRequest(_read(row), model_read(row, "model__"), user_read(row, "user__"))


def _request_conditions(found_by: RequestFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if found_by.status is not None:
        conditions.append(SUBSCRIPTIONS.c.status == found_by.status)
    if found_by.model_id is not None:
        conditions.append(SUBSCRIPTIONS.c.model_id == found_by.model_id)
    if found_by.user_id is not None:
        conditions.append(SUBSCRIPTIONS.c.user_id == found_by.user_id)
    return conditions


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

    async def list_with_models_for_session(
        self, user_id: uuid.UUID, *, generation: int
    ) -> list[tuple[SubscriptionRead, ModelRead]] | None:
        """The subscriptions as `list_for_user` gives them while this session generation is
        current and the user active; None otherwise. One statement checks both."""
        rows = named(
            OF_USER_IN_SESSION,
            await self._reader.all(
                OF_USER_IN_SESSION, {"user_id": user_id, "generation": generation}
            ),
        )
        if not rows:
            return None
        if rows[0]["id"] is None:
            return []
        return [(_read(row), model_read(row, "model__")) for row in rows]

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
            if subscription is not None and subscription.status in HELD_STATUSES:
                return AlreadySubscribed()
            if subscription is None:
                subscription = Subscription(user_id=user_id, model_id=model_id)
                session.add(subscription)
                await session.flush()
                previous = None
            else:
                previous = subscription.status
            _record_change(session, subscription.id, previous, status, actor_id=user_id)
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
            _record_change(
                session,
                subscription_id,
                subscription.status,
                SubscriptionStatus.CANCELLED,
                actor_id=actor_id,
            )
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

    async def change_status(
        self,
        subscription_id: uuid.UUID,
        *,
        allowed_from: Collection[SubscriptionStatus],
        to: SubscriptionStatus,
        actor_id: uuid.UUID,
        reason: str | None,
        action: str,
        first: Callable[[SubscriptionRead], Awaitable[R | None]],
    ) -> SubscriptionRead | StatusRefused | R | None:
        """Move the subscription from one of `allowed_from` to `to`, with its history step and
        an audit event; None when there is no such subscription.

        The row stays locked while `first` runs (what must change elsewhere before, e.g. in
        LiteLLM): whatever it returns instead of None is returned, and nothing is written.
        """
        async with self._sessions() as session:
            subscription = (
                await session.exec(
                    select(Subscription)
                    .where(col(Subscription.id) == subscription_id)
                    .with_for_update()
                )
            ).one_or_none()
            if subscription is None:
                return None
            current = _from_table(subscription)
            if subscription.status not in allowed_from:
                return StatusRefused(current)
            refused = await first(current)
            if refused is not None:
                return refused
            now = utcnow()
            _record_change(session, subscription_id, subscription.status, to, actor_id, reason)
            audit.record(
                session,
                actor_id=actor_id,
                action=action,
                resource_type="subscription",
                resource_id=str(subscription_id),
                details={
                    "user_id": str(subscription.user_id),
                    "model_id": subscription.model_id,
                    "before": subscription.status.value,
                    "after": to.value,
                    "reason": reason,
                },
            )
            subscription.status = to
            subscription.updated_at = now
            await session.commit()
            return _from_table(subscription)

    async def requests_page(
        self, found_by: RequestFilter, *, first: int, after: Cursor | None
    ) -> Page[SubscriptionRequest]:
        """A page of the subscriptions `found_by` matches, oldest first, with their number."""
        async with self._sessions() as session:
            return await paging.read_page(
                session,
                _REQUESTS,
                table=SUBSCRIPTIONS,
                conditions=_request_conditions(found_by),
                key=SUBSCRIPTIONS.c.created_at,
                descending=False,
                after=after,
                first=first,
                build=_request,
            )

    async def history(
        self, subscription_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[StatusChangeRead]]:
        """Each subscription's status changes, oldest first (one statement for all of them)."""
        found: dict[uuid.UUID, list[StatusChangeRead]] = {i: [] for i in subscription_ids}
        async with self._sessions() as session:
            rows = await session.exec(
                select(SubscriptionStatusChange)
                .where(col(SubscriptionStatusChange.subscription_id).in_(subscription_ids))
                .order_by(
                    col(SubscriptionStatusChange.created_at), col(SubscriptionStatusChange.id)
                )
            )
            for change in rows.all():
                found[change.subscription_id].append(
                    StatusChangeRead(
                        subscription_id=change.subscription_id,
                        from_status=change.from_status,
                        to_status=change.to_status,
                        actor_id=change.actor_id,
                        reason=change.reason,
                        created_at=change.created_at,
                    )
                )
        return found


def _record_change(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    from_status: SubscriptionStatus | None,
    to_status: SubscriptionStatus,
    actor_id: uuid.UUID | None,
    reason: str | None = None,
) -> None:
    session.add(
        SubscriptionStatusChange(
            subscription_id=subscription_id,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor_id,
            reason=reason,
        )
    )
