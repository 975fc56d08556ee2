"""Portal accounts: every statement on `users`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import reader
from app.db.engine import SessionFactory
from app.db.models import ApiKey, ApiKeyStatus, SyncStatus, User, utcnow
from app.db.reader import Reader, as_text
from app.db.repositories import audit, named


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


USERS = SQLModel.metadata.tables["users"]
_COLUMNS = (
    USERS.c.id,
    USERS.c.username,
    USERS.c.email,
    USERS.c.full_name,
    USERS.c.oauth_issuer,
    USERS.c.oauth_subject,
    as_text(USERS.c.roles),
    USERS.c.is_active,
    USERS.c.session_generation,
    as_text(USERS.c.sync_status),
    USERS.c.sync_error,
    USERS.c.max_budget,
    USERS.c.tpm_limit,
    USERS.c.rpm_limit,
)
# The session's generation is compared here, in the one read a signed-in request makes, so
# ending sessions costs the hot path nothing; it reads the whole account, so `me` reads
# nothing more.
SIGNED_IN = reader.statement(
    "users.signed_in",
    sa.select(*_COLUMNS).where(
        USERS.c.id == sa.bindparam("user_id"),
        USERS.c.session_generation == sa.bindparam("generation"),
        USERS.c.is_active,
    ),
)


def _read(row: dict[str, Any]) -> UserRead:
    return UserRead(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        full_name=row["full_name"],
        oauth_issuer=row["oauth_issuer"],
        oauth_subject=row["oauth_subject"],
        roles=tuple(orjson.loads(row["roles"])),
        is_active=row["is_active"],
        session_generation=row["session_generation"],
        sync_status=SyncStatus(row["sync_status"]),
        sync_error=row["sync_error"],
        max_budget=row["max_budget"],
        tpm_limit=row["tpm_limit"],
        rpm_limit=row["rpm_limit"],
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
        return _read(found[0]) if found else None

    async def get(self, user_id: uuid.UUID) -> UserRead | None:
        async with self._reads() as session:
            user = await session.get(User, user_id)
        return _from_table(user) if user is not None else None

    async def list_by_username(self, *, limit: int) -> list[UserRead]:
        async with self._reads() as session:
            found = await session.exec(
                select(User).order_by(col(User.username), col(User.id)).limit(limit)
            )
            return [_from_table(user) for user in found.all()]

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

    async def end_sessions(self, user_id: uuid.UUID, *, generation: int | None = None) -> bool:
        """Raise the session generation (with `generation`, only while it is that one);
        whether it was raised."""
        async with self._sessions() as session:
            ended = await _end_sessions(session, user_id, generation)
            await session.commit()
        return ended

    async def set_active(
        self, user_id: uuid.UUID, *, active: bool, actor_id: uuid.UUID | None
    ) -> list[str] | None:
        """Deactivate (ending every session) or reactivate the user, audited; the LiteLLM
        tokens of their active keys, or None when there is no such user."""
        async with self._sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            user.is_active = active
            user.updated_at = utcnow()
            if not active:
                user.session_generation += 1
            audit.record(
                session,
                actor_id=actor_id,
                action="user.activate" if active else "user.deactivate",
                resource_type="user",
                resource_id=str(user_id),
            )
            tokens = (
                await session.exec(
                    select(ApiKey.secret_sha256).where(
                        col(ApiKey.user_id) == user_id,
                        col(ApiKey.status) == ApiKeyStatus.ACTIVE,
                        col(ApiKey.secret_sha256).is_not(None),
                    )
                )
            ).all()
            await session.commit()
        return [token for token in tokens if token is not None]

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
