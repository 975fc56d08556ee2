"""Portal users: sign-in, roles from SSO groups, and their twin user in LiteLLM."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import SyncStatus, User, utcnow
from app.db.reader import as_text
from app.litellm.errors import LiteLLMConflict, LiteLLMError, LiteLLMNotFound, LiteLLMUnavailable
from app.resources import Resources
from app.services import audit
from app.services.failures import Failure, FailureCode, litellm_unavailable
from app.settings import Settings

log = logging.getLogger(__name__)
BASE_ROLE = "user"
MAX_USERS_PAGE = 500


@dataclass(frozen=True, slots=True)
class LoginIdentity:
    """Who the identity provider says signed in."""

    provider: str
    subject: str
    username: str
    email: str
    full_name: str | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)


def roles_from_groups(groups: Iterable[str], role_groups: Mapping[str, str]) -> list[str]:
    """Portal roles for a set of SSO groups; `user` is always one of them."""
    roles = {BASE_ROLE} | {role_groups[g] for g in groups if g in role_groups}
    return sorted(roles)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The active user behind a session, and their portal roles."""

    id: uuid.UUID
    roles: tuple[str, ...]


_users = SQLModel.metadata.tables["users"]
_SIGNED_IN = sa.select(_users.c.id, as_text(_users.c.roles)).where(
    _users.c.id == sa.bindparam("user_id"), _users.c.is_active
)


async def signed_in(*, resources: Resources, user_id: uuid.UUID) -> SignedIn | None:
    """The session's user if still active (None otherwise); read on every signed-in request."""
    rows = await resources.reader.all(_SIGNED_IN, {"user_id": user_id})
    if not rows:
        return None
    found_id, roles = rows[0]
    return SignedIn(found_id, tuple(orjson.loads(roles)))


async def get(*, resources: Resources, user_id: uuid.UUID) -> User | None:
    async with resources.reads() as session:
        return await session.get(User, user_id)


async def list_by_username(*, resources: Resources, limit: int) -> list[User]:
    """Users ordered by username, at most `limit` (clamped to 1..MAX_USERS_PAGE)."""
    limit = max(1, min(limit, MAX_USERS_PAGE))
    async with resources.reads() as session:
        found = await session.exec(
            select(User).order_by(col(User.username), col(User.id)).limit(limit)
        )
        return list(found.all())


async def sign_in(*, resources: Resources, identity: LoginIdentity) -> User:
    """Record a sign-in and sync the user to LiteLLM; a LiteLLM failure never blocks it."""
    async with resources.sessions() as session:
        user = await _upsert_from_login(
            session=session, settings=resources.settings, identity=identity
        )
    await ensure_litellm_user(resources=resources, user_id=user.id)
    refreshed = await get(resources=resources, user_id=user.id)
    assert refreshed is not None
    return refreshed


async def ensure_litellm_user(*, resources: Resources, user_id: uuid.UUID) -> Failure | None:
    """Make sure LiteLLM knows the user and record the outcome on the user's row.

    Returns None when LiteLLM has the user; else LITELLM_UNAVAILABLE or USER_NOT_FOUND_LITELLM.
    Concurrent calls for one user share one attempt.
    """
    return await resources.user_sync.run(
        user_id, lambda: _sync_litellm_user(resources=resources, user_id=user_id)
    )


async def users_due_for_sync(*, resources: Resources, limit: int) -> list[uuid.UUID]:
    """Users whose last LiteLLM sync failed and whose backoff has passed."""
    async with resources.sessions() as session:
        rows = await session.exec(
            select(User.id)
            .where(col(User.sync_status) == SyncStatus.ERROR)
            .where(or_(col(User.next_sync_at).is_(None), col(User.next_sync_at) <= utcnow()))
            .order_by(col(User.next_sync_at))
            .limit(limit)
        )
        return list(rows.all())


async def _sync_litellm_user(*, resources: Resources, user_id: uuid.UUID) -> Failure | None:
    # No database connection is held while LiteLLM is being asked.
    async with resources.sessions() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise LookupError(f"user {user_id} does not exist")
    failure, reason = await _create_in_litellm_unless_present(resources=resources, user=user)
    async with resources.sessions() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise LookupError(f"user {user_id} was deleted during its LiteLLM sync")
        _record_sync(user, resources.settings, reason)
        if failure is None:
            resources.counters.user_sync_succeeded += 1
        else:
            resources.counters.user_sync_failed += 1
        if failure is not None:
            audit.record(
                session,
                actor_id=user.id,
                action="user.litellm_sync",
                resource_type="user",
                resource_id=str(user.id),
                success=False,
                details={"code": failure.code.value, "reason": reason},
            )
        await session.commit()
    return failure


async def _create_in_litellm_unless_present(
    *, resources: Resources, user: User
) -> tuple[Failure | None, str | None]:
    """(None, None) when LiteLLM has the user; else the failure and a reason for operators."""
    litellm = resources.litellm
    user_id = str(user.id)
    try:
        try:
            await litellm.user_info(user_id)
            return None, None
        except LiteLLMNotFound:
            pass
        try:
            await litellm.user_new(
                user_id=user_id,
                user_email=user.email,
                user_alias=user.full_name or user.username,
                max_budget=user.max_budget,
                tpm_limit=user.tpm_limit,
                rpm_limit=user.rpm_limit,
            )
        except LiteLLMConflict:
            # Created by a concurrent attempt (another replica), or the e-mail is taken by
            # another LiteLLM user: only a read tells which.
            await litellm.user_info(user_id)
    except LiteLLMUnavailable as exc:
        log.warning("LiteLLM user sync for %s failed: %s", user_id, exc)
        return litellm_unavailable(), str(exc)
    except LiteLLMError as exc:
        # LiteLLM's own wording goes to the log only: it is not meant for portal users.
        log.warning("LiteLLM refused user %s: %s (%s)", user_id, exc, exc.detail)
        return (
            Failure(
                FailureCode.USER_NOT_FOUND_LITELLM,
                "Your account could not be set up in LiteLLM yet. Please try again later.",
            ),
            str(exc),
        )
    return None, None


def _record_sync(user: User, settings: Settings, reason: str | None) -> None:
    now = utcnow()
    user.updated_at = now
    if reason is None:
        user.sync_status = SyncStatus.SYNCED
        user.sync_error = None
        user.sync_attempts = 0
        user.last_synced_at = now
        user.next_sync_at = None
        return
    user.sync_status = SyncStatus.ERROR
    user.sync_error = reason[:1000]
    user.sync_attempts += 1
    backoff = min(
        settings.user_sync_retry_base_seconds * 2 ** (user.sync_attempts - 1),
        settings.user_sync_retry_max_seconds,
    )
    user.next_sync_at = now + timedelta(seconds=backoff)


async def _upsert_from_login(
    *, session: AsyncSession, settings: Settings, identity: LoginIdentity
) -> User:
    """Find the user by (provider, subject), else by e-mail; create or update; commit."""
    try:
        return await _apply_login(session=session, settings=settings, identity=identity)
    except IntegrityError:
        # Two first sign-ins of one person raced to insert; the other one won: update it.
        await session.rollback()
        return await _apply_login(session=session, settings=settings, identity=identity)


async def _apply_login(
    *, session: AsyncSession, settings: Settings, identity: LoginIdentity
) -> User:
    matches = (
        await session.exec(
            select(User).where(
                or_(
                    (col(User.oauth_provider) == identity.provider)
                    & (col(User.oauth_subject) == identity.subject),
                    col(User.email) == identity.email,
                )
            )
        )
    ).all()
    same_identity = [
        u
        for u in matches
        if (u.oauth_provider, u.oauth_subject) == (identity.provider, identity.subject)
    ]
    candidates = same_identity or list(matches)
    user = candidates[0] if candidates else None
    now = utcnow()
    if user is None:
        user = User(
            username=identity.username,
            email=identity.email,
            oauth_provider=identity.provider,
            oauth_subject=identity.subject,
            max_budget=settings.default_user_max_budget,
            tpm_limit=settings.default_user_tpm_limit,
            rpm_limit=settings.default_user_rpm_limit,
        )
        session.add(user)
    user.username = identity.username
    user.email = identity.email
    user.full_name = identity.full_name or user.full_name
    user.oauth_provider = identity.provider
    user.oauth_subject = identity.subject
    user.roles = roles_from_groups(identity.groups, settings.role_groups)
    user.last_login_at = now
    user.updated_at = now
    await session.flush()
    audit.record(
        session,
        actor_id=user.id,
        action="user.login",
        resource_type="user",
        resource_id=str(user.id),
        details={"provider": identity.provider},
    )
    await session.commit()
    return user
