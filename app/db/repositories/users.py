"""Portal accounts: every statement on `users`."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import reader
from app.db.engine import SessionFactory
from app.db.models import SyncStatus, User, utcnow
from app.db.reader import Reader, as_text
from app.db.repositories import audit, json_list, named, paging
from app.db.repositories.paging import Cursor, Page


@dataclass(frozen=True, slots=True)
class UserRead:
    id: uuid.UUID
    username: str
    email: str
    full_name: str | None
    oauth_issuer: str | None
    oauth_subject: str
    roles: tuple[str, ...]
    is_active: bool
    session_generation: int
    sync_status: SyncStatus
    sync_error: str | None
    max_budget: float
    tpm_limit: int
    rpm_limit: int


@dataclass(frozen=True, slots=True)
class LoginIdentity:
    """Who the identity provider says signed in: the account is (issuer, subject).

    The e-mail address is a contact address only, verified or not: it never finds, links or
    takes over an account. `email_verified` is recorded in the sign-in's audit row.
    """

    provider: str
    issuer: str
    subject: str
    username: str
    email: str
    full_name: str | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)
    email_verified: bool | None = None


@dataclass(frozen=True, slots=True)
class NewAccountLimits:
    """What a new account gets in LiteLLM."""

    max_budget: float
    tpm_limit: int
    rpm_limit: int


@dataclass(frozen=True, slots=True)
class AccountRefused:
    """Nothing but the audit row was written. `code` is the refusal's; `user_id` the account
    refused (if there is one), `holder_id` the other account holding the e-mail address."""

    code: str
    user_id: uuid.UUID | None
    holder_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class UserFilter:
    """Which users a list shows; None matches everyone."""

    search: str | None = None  # in the username, e-mail address or full name, any case
    sync_status: SyncStatus | None = None
    role: str | None = None
    active: bool | None = None


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """What an administrator changes on an account; None leaves a field as it is."""

    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    active: bool | None = None


USERS = SQLModel.metadata.tables["users"]
_FIELDS = (
    "id",
    "username",
    "email",
    "full_name",
    "oauth_issuer",
    "oauth_subject",
    "roles",
    "is_active",
    "session_generation",
    "sync_status",
    "sync_error",
    "max_budget",
    "tpm_limit",
    "rpm_limit",
)


def user_columns(prefix: str = "") -> tuple[sa.ColumnElement[Any], ...]:
    """The columns `user_read` takes, each labelled `prefix` + its name."""
    return tuple(
        (as_text(USERS.c[name]) if name in ("roles", "sync_status") else USERS.c[name]).label(
            prefix + name
        )
        for name in _FIELDS
    )


_COLUMNS = user_columns()
# The session is current: its user active, its generation not ended. Compared in the one read
# a signed-in request makes (this statement or the page's own), so ending sessions costs the
# hot path nothing.
SESSION_CURRENT = sa.and_(
    USERS.c.id == sa.bindparam("user_id"),
    USERS.c.session_generation == sa.bindparam("generation"),
    USERS.c.is_active,
)
# The signed-in user; it reads the whole account, so `me` reads nothing more.
SIGNED_IN = reader.statement("users.signed_in", sa.select(*_COLUMNS).where(SESSION_CURRENT))


@dataclass(frozen=True, slots=True)
class BudgetRead:
    """A user's budget and what LiteLLM last reported they have spent."""

    max_budget: float
    spend: float | None  # None: not synced yet
    budget_reset_at: datetime | None
    spend_synced_at: datetime | None


@dataclass(frozen=True, slots=True)
class SpentByUser:
    user_id: uuid.UUID
    spend: float
    budget_reset_at: datetime | None


# Read only when a page shows the budget: the signed-in read stays as small as it is.
BUDGET = reader.statement(
    "users.budget",
    sa.select(
        USERS.c.max_budget, USERS.c.spend, USERS.c.budget_reset_at, USERS.c.spend_synced_at
    ).where(USERS.c.id == sa.bindparam("user_id")),
)


def user_read(row: dict[str, Any], prefix: str = "") -> UserRead:
    """The user in a row's `user_columns(prefix)`, by column name."""
    return UserRead(
        id=row[prefix + "id"],
        username=row[prefix + "username"],
        email=row[prefix + "email"],
        full_name=row[prefix + "full_name"],
        oauth_issuer=row[prefix + "oauth_issuer"],
        oauth_subject=row[prefix + "oauth_subject"],
        roles=json_list(row[prefix + "roles"]),
        is_active=row[prefix + "is_active"],
        session_generation=row[prefix + "session_generation"],
        sync_status=SyncStatus(row[prefix + "sync_status"]),
        sync_error=row[prefix + "sync_error"],
        max_budget=row[prefix + "max_budget"],
        tpm_limit=row[prefix + "tpm_limit"],
        rpm_limit=row[prefix + "rpm_limit"],
    )


def _from_table(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        email=user.email,
        full_name=user.full_name,
        oauth_issuer=user.oauth_issuer,
        oauth_subject=user.oauth_subject,
        roles=tuple(user.roles),
        is_active=user.is_active,
        session_generation=user.session_generation,
        sync_status=user.sync_status,
        sync_error=user.sync_error,
        max_budget=user.max_budget,
        tpm_limit=user.tpm_limit,
        rpm_limit=user.rpm_limit,
    )


class UserRepository:
    def __init__(self, *, sessions: SessionFactory, reads: SessionFactory, reader: Reader) -> None:
        self._sessions = sessions
        self._reads = reads
        self._reader = reader

    async def signed_in(self, user_id: uuid.UUID, *, generation: int) -> UserRead | None:
        """The user while active and this session generation current; read on every request."""
        rows = await self._reader.all(SIGNED_IN, {"user_id": user_id, "generation": generation})
        found = named(SIGNED_IN, rows)
        return user_read(found[0]) if found else None

    async def get(self, user_id: uuid.UUID) -> UserRead | None:
        async with self._reads() as session:
            user = await session.get(User, user_id)
        return _from_table(user) if user is not None else None

    async def get_many(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, UserRead]:
        """The users with these ids (one statement)."""
        async with self._reads() as session:
            found = await session.exec(select(User).where(col(User.id).in_(user_ids)))
            return {user.id: _from_table(user) for user in found.all()}

    async def page(
        self, found_by: UserFilter, *, first: int, after: Cursor | None
    ) -> Page[UserRead]:
        """A page of the users `found_by` matches, by username, with their number."""
        async with self._reads() as session:
            return await paging.read_page(
                session,
                sa.select(*_COLUMNS),
                table=USERS,
                conditions=_matching(found_by),
                key=USERS.c.username,
                descending=False,
                after=after,
                first=first,
                build=user_read,
            )

    async def update_account(
        self,
        user_id: uuid.UUID,
        changes: AccountChanges,
        *,
        actor_id: uuid.UUID | None,
        reason: str | None,
    ) -> UserRead | None:
        """Apply an administrator's changes, audited with the values before and after; a
        deactivation ends every session. None when there is no such user."""
        async with self._sessions() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                return None
            before = _account_fields(user)
            if changes.max_budget is not None:
                user.max_budget = changes.max_budget
            if changes.tpm_limit is not None:
                user.tpm_limit = changes.tpm_limit
            if changes.rpm_limit is not None:
                user.rpm_limit = changes.rpm_limit
            if changes.active is not None:
                if user.is_active and not changes.active:
                    user.session_generation += 1
                user.is_active = changes.active
            user.updated_at = utcnow()
            audit.record(
                session,
                actor_id=actor_id,
                action="user.update",
                resource_type="user",
                resource_id=str(user_id),
                details={"before": before, "after": _account_fields(user), "reason": reason},
            )
            await session.commit()
            return _from_table(user)

    async def budget(self, user_id: uuid.UUID) -> BudgetRead | None:
        """The user's budget and last synced spend."""
        found = named(BUDGET, await self._reader.all(BUDGET, {"user_id": user_id}))
        if not found:
            return None
        row = found[0]
        return BudgetRead(
            max_budget=row["max_budget"],
            spend=row["spend"],
            budget_reset_at=row["budget_reset_at"],
            spend_synced_at=row["spend_synced_at"],
        )

    async def store_spend(self, spent: Sequence[SpentByUser], *, synced_at: datetime) -> None:
        """Record what LiteLLM reports each user has spent, in one statement."""
        if not spent:
            return
        async with self._sessions() as session:
            connection = await session.connection()
            await connection.execute(
                sa.update(USERS)
                .where(USERS.c.id == sa.bindparam("user"))
                .values(
                    spend=sa.bindparam("amount"),
                    budget_reset_at=sa.bindparam("reset_at"),
                    spend_synced_at=synced_at,
                ),
                [
                    {"user": s.user_id, "amount": s.spend, "reset_at": s.budget_reset_at}
                    for s in spent
                ],
            )
            await session.commit()

    async def inactive_ids(self) -> set[uuid.UUID]:
        """The deactivated users."""
        async with self._sessions() as session:
            found = await session.exec(select(User.id).where(col(User.is_active).is_(False)))
            return set(found.all())

    async def due_for_sync(self, *, limit: int) -> list[uuid.UUID]:
        """Users whose last LiteLLM sync failed and whose backoff has passed."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(User.id)
                .where(col(User.sync_status) == SyncStatus.ERROR)
                .where(or_(col(User.next_sync_at).is_(None), col(User.next_sync_at) <= utcnow()))
                .order_by(col(User.next_sync_at))
                .limit(limit)
            )
            return list(rows.all())

    async def count_sync_errors(self) -> int:
        """Users whose last LiteLLM sync failed (waiting for a retry or not)."""
        async with self._sessions() as session:
            count = await session.exec(
                select(func.count()).where(col(User.sync_status) == SyncStatus.ERROR)
            )
            return int(count.one())

    async def end_sessions(
        self, user_id: uuid.UUID, *, generation: int | None = None
    ) -> UserRead | None:
        """Raise the session generation (with `generation`, only while it is that one); the
        user as it now stands, or None if it was not raised (no such user, or another
        generation)."""
        async with self._sessions() as session:
            ended = await _end_sessions(session, user_id, generation)
            user = await session.get(User, user_id) if ended else None
            read = _from_table(user) if user is not None else None
            await session.commit()
        return read

    async def record(
        self,
        action: str,
        user_id: uuid.UUID,
        *,
        actor_id: uuid.UUID,
        success: bool = True,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Audit something done to the user elsewhere (in LiteLLM)."""
        async with self._sessions() as session:
            audit.record(
                session,
                actor_id=actor_id,
                action=action,
                resource_type="user",
                resource_id=str(user_id),
                success=success,
                details=details,
            )
            await session.commit()

    async def record_sync(
        self,
        user_id: uuid.UUID,
        *,
        error: str | None,
        retry_base: float,
        retry_max: float,
        audit_details: dict[str, Any] | None,
    ) -> None:
        """Record a LiteLLM sync's outcome: synced when `error` is None, else failed, retried
        after a backoff doubling from `retry_base` up to `retry_max` seconds, and audited with
        `audit_details`."""
        async with self._sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise LookupError(f"user {user_id} was deleted during its LiteLLM sync")
            now = utcnow()
            user.updated_at = now
            if error is None:
                user.sync_status = SyncStatus.SYNCED
                user.sync_error = None
                user.sync_attempts = 0
                user.last_synced_at = now
                user.next_sync_at = None
            else:
                user.sync_status = SyncStatus.ERROR
                user.sync_error = error[:1000]
                user.sync_attempts += 1
                backoff = min(retry_base * 2 ** (user.sync_attempts - 1), retry_max)
                user.next_sync_at = now + timedelta(seconds=backoff)
                audit.record(
                    session,
                    actor_id=user.id,
                    action="user.litellm_sync",
                    resource_type="user",
                    resource_id=str(user.id),
                    success=False,
                    details=audit_details,
                )
            await session.commit()

    async def record_login(
        self,
        identity: LoginIdentity,
        *,
        allowed: bool,
        roles: Sequence[str],
        limits: NewAccountLimits,
        audit_details: dict[str, Any],
    ) -> UserRead | AccountRefused:
        """Find the account by (issuer, subject); create or update it, or refuse (audited
        either way). `allowed`: the person's groups let them in."""
        async with self._sessions() as session:
            try:
                return await _apply_login(session, identity, allowed, roles, limits, audit_details)
            except IntegrityError:
                # Two first sign-ins of one person raced to insert; the other one won: update it.
                await session.rollback()
                return await _apply_login(session, identity, allowed, roles, limits, audit_details)


def _account_fields(user: User) -> dict[str, Any]:
    return {
        "max_budget": user.max_budget,
        "tpm_limit": user.tpm_limit,
        "rpm_limit": user.rpm_limit,
        "active": user.is_active,
    }


def _matching(found_by: UserFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if found_by.search:
        pattern = "%" + _escape_like(found_by.search.lower()) + "%"
        conditions.append(
            sa.or_(
                sa.func.lower(USERS.c.username).like(pattern, escape="\\"),
                sa.func.lower(USERS.c.email).like(pattern, escape="\\"),
                sa.func.lower(USERS.c.full_name).like(pattern, escape="\\"),
            )
        )
    if found_by.sync_status is not None:
        conditions.append(USERS.c.sync_status == found_by.sync_status)
    if found_by.role is not None:
        # Roles are a JSON list of names: the name, quoted, is in its text.
        quoted = _escape_like(orjson.dumps(found_by.role).decode())
        conditions.append(sa.cast(USERS.c.roles, sa.Text).like(f"%{quoted}%", escape="\\"))
    if found_by.active is not None:
        conditions.append(USERS.c.is_active.is_(found_by.active))
    return conditions


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _end_sessions(session: AsyncSession, user_id: uuid.UUID, generation: int | None) -> bool:
    statement = (
        sa.update(USERS)
        .where(USERS.c.id == user_id)
        .values(session_generation=USERS.c.session_generation + 1, updated_at=utcnow())
    )
    if generation is not None:
        statement = statement.where(USERS.c.session_generation == generation)
    result = await session.exec(statement)
    return bool(result.rowcount)


async def _apply_login(
    session: AsyncSession,
    identity: LoginIdentity,
    allowed: bool,
    roles: Sequence[str],
    limits: NewAccountLimits,
    audit_details: dict[str, Any],
) -> UserRead | AccountRefused:
    user = await _account_of(session, identity)
    if not allowed:
        if user is not None:
            # Access lost with the groups: the sessions it opened end too.
            await _end_sessions(session, user.id, None)
        return await _refuse(session, AccountRefused("NOT_ALLOWED", _id(user)), audit_details)
    if user is not None and not user.is_active:
        return await _refuse(session, AccountRefused("FORBIDDEN", user.id), audit_details)
    holder = await _other_account_with_email(session, identity, user)
    if holder is not None:
        refused = AccountRefused("ACCOUNT_CONFLICT", _id(user), holder_id=holder)
        return await _refuse(session, refused, audit_details)
    now = utcnow()
    if user is None:
        user = User(
            username=identity.username,
            email=identity.email,
            oauth_provider=identity.provider,
            oauth_issuer=identity.issuer,
            oauth_subject=identity.subject,
            max_budget=limits.max_budget,
            tpm_limit=limits.tpm_limit,
            rpm_limit=limits.rpm_limit,
        )
        session.add(user)
    if not set(roles) >= set(user.roles or ()):
        # A role was lost: sessions opened with it end now (a new one starts after this).
        user.session_generation += 1
    user.username = identity.username
    user.email = identity.email
    user.full_name = identity.full_name or user.full_name
    user.oauth_issuer = identity.issuer
    user.roles = list(roles)
    user.last_login_at = now
    user.updated_at = now
    await session.flush()
    audit.record(
        session,
        actor_id=user.id,
        action="user.login",
        resource_type="user",
        resource_id=str(user.id),
        details=audit_details,
    )
    await session.commit()
    return _from_table(user)


def _id(user: User | None) -> uuid.UUID | None:
    return user.id if user is not None else None


async def _account_of(session: AsyncSession, identity: LoginIdentity) -> User | None:
    """The account of (issuer, subject); else one recorded before issuers were, by the same
    provider with the same subject (it is claimed for this issuer)."""
    found = await session.exec(
        select(User).where(
            col(User.oauth_subject) == identity.subject,
            or_(
                col(User.oauth_issuer) == identity.issuer,
                col(User.oauth_issuer).is_(None) & (col(User.oauth_provider) == identity.provider),
            ),
        )
    )
    accounts = sorted(found.all(), key=lambda u: u.oauth_issuer is None)
    return accounts[0] if accounts else None


async def _other_account_with_email(
    session: AsyncSession, identity: LoginIdentity, user: User | None
) -> uuid.UUID | None:
    """Another account's id holding this e-mail address (compared without case)."""
    statement = select(User.id).where(
        func.lower(col(User.email)) == identity.email.lower(),
        # This identity's own account, committed by a concurrent first sign-in since it was
        # looked for, is not another account: inserting fails and the retry finds it.
        or_(
            col(User.oauth_issuer).is_distinct_from(identity.issuer),
            col(User.oauth_subject) != identity.subject,
        ),
    )
    if user is not None:
        statement = statement.where(col(User.id) != user.id)
    return (await session.exec(statement.limit(1))).first()


async def _refuse(
    session: AsyncSession, refused: AccountRefused, audit_details: dict[str, Any]
) -> AccountRefused:
    details = {"code": refused.code, **audit_details}
    if refused.holder_id is not None:
        details["email_holder_id"] = str(refused.holder_id)
    audit.record(
        session,
        actor_id=refused.user_id,
        action="user.login",
        resource_type="user",
        resource_id=str(refused.user_id) if refused.user_id is not None else None,
        success=False,
        details=details,
    )
    await session.commit()
    return refused
