"""Portal users: sign-in, roles from SSO groups, and their twin user in LiteLLM."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ApiKey, ApiKeyStatus, SyncStatus, User, utcnow
from app.db.reader import as_text
from app.db.repositories import audit
from app.litellm.errors import LiteLLMConflict, LiteLLMError, LiteLLMNotFound, LiteLLMUnavailable
from app.resources import Resources
from app.services.failures import (
    Failure,
    FailureCode,
    from_litellm_error,
    litellm_unavailable,
    not_found,
)
from app.settings import Settings

log = logging.getLogger(__name__)
BASE_ROLE = "user"
MAX_USERS_PAGE = 500
# The issuer of development logins (migration 0002 writes the same value on older rows).
DEV_ISSUER = "urn:litemaas:dev-login"


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


class SignInRefusal(StrEnum):
    """Why a sign-in the provider vouched for did not sign anyone in."""

    # The e-mail address belongs to another account.
    ACCOUNT_CONFLICT = "ACCOUNT_CONFLICT"
    # None of the person's groups is in LOGIN_ALLOWED_GROUPS.
    NOT_ALLOWED = "NOT_ALLOWED"
    # The account has been deactivated.
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class SignInRefused:
    code: SignInRefusal
    message: str


_REFUSAL_MESSAGES = {
    SignInRefusal.ACCOUNT_CONFLICT: (
        "This e-mail address belongs to another account. Ask a LiteMaaS administrator."
    ),
    SignInRefusal.NOT_ALLOWED: "You are not in a group allowed to use LiteMaaS.",
    SignInRefusal.FORBIDDEN: "This account is disabled.",
}


def roles_from_groups(groups: Iterable[str], role_groups: Mapping[str, str]) -> list[str]:
    """Portal roles for a set of SSO groups; `user` is always one of them."""
    roles = {BASE_ROLE} | {role_groups[g] for g in groups if g in role_groups}
    return sorted(roles)


def may_sign_in(groups: Iterable[str], allowed_groups: Iterable[str]) -> bool:
    """LOGIN_ALLOWED_GROUPS: empty lets everyone in, else one of the groups must be in it."""
    allowed = set(allowed_groups)
    return not allowed or not allowed.isdisjoint(groups)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The active user behind a session, and their portal roles."""

    id: uuid.UUID
    roles: tuple[str, ...]


_users = SQLModel.metadata.tables["users"]
# The session's generation is compared here, in the one read a signed-in request makes, so
# ending sessions costs the hot path nothing.
_SIGNED_IN = sa.select(_users.c.id, as_text(_users.c.roles)).where(
    _users.c.id == sa.bindparam("user_id"),
    _users.c.session_generation == sa.bindparam("generation"),
    _users.c.is_active,
)


async def signed_in(
    *, resources: Resources, user_id: uuid.UUID, generation: int
) -> SignedIn | None:
    """The session's user if still active and the session not ended; read on every request."""
    rows = await resources.reader.all(_SIGNED_IN, {"user_id": user_id, "generation": generation})
    if not rows:
        return None
    found_id, roles = rows[0]
    return SignedIn(found_id, tuple(orjson.loads(roles)))


async def end_sessions(
    *, resources: Resources, user_id: uuid.UUID, generation: int | None = None
) -> bool:
    """End every session of the user; with `generation`, only if that one is still current.

    Returns whether sessions were ended.
    """
    async with resources.sessions() as session:
        ended = await _end_sessions(session, user_id, generation)
        await session.commit()
    return ended


async def _end_sessions(session: AsyncSession, user_id: uuid.UUID, generation: int | None) -> bool:
    statement = (
        sa.update(_users)
        .where(_users.c.id == user_id)
        .values(session_generation=_users.c.session_generation + 1, updated_at=utcnow())
    )
    if generation is not None:
        statement = statement.where(_users.c.session_generation == generation)
    result = await session.exec(statement)
    return bool(result.rowcount)


async def set_active(
    *, resources: Resources, user_id: uuid.UUID, active: bool, actor_id: uuid.UUID | None
) -> Failure | None:
    """Deactivate (or reactivate) a user, and block (or unblock) their keys in LiteLLM.

    The local change comes first and holds whatever LiteLLM does: deactivation ends the user's
    sessions and /authz and `modelAccess` refuse their keys at once. When LiteLLM cannot be
    told, LITELLM_UNAVAILABLE is returned and the reconciler blocks or unblocks the keys once
    it answers again (a key the portal made is blocked in LiteLLM exactly while its owner is
    deactivated). Failures: NOT_FOUND, LITELLM_UNAVAILABLE, VALIDATION_FAILED.
    """
    async with resources.sessions() as session:
        user = await session.get(User, user_id)
        if user is None:
            return not_found("User")
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
    for token in tokens:
        assert token is not None
        failure = await set_key_blocked(resources=resources, token=token, blocked=not active)
        if failure is not None:
            return failure
    return None


async def set_key_blocked(*, resources: Resources, token: str, blocked: bool) -> Failure | None:
    """Block or unblock one key in LiteLLM; a key LiteLLM no longer has needs neither."""
    litellm = resources.litellm
    try:
        await (litellm.key_block(token) if blocked else litellm.key_unblock(token))
    except LiteLLMNotFound:
        return None
    except LiteLLMUnavailable as exc:
        log.warning("LiteLLM unavailable while %s a key: %s", _blocking(blocked), exc)
        return Failure(
            FailureCode.LITELLM_UNAVAILABLE,
            "The account was changed here; LiteLLM is unavailable, so its keys will be "
            f"{'blocked' if blocked else 'unblocked'} there as soon as it answers again.",
        )
    except LiteLLMError as exc:
        log.warning("LiteLLM refused %s a key: %s (%s)", _blocking(blocked), exc, exc.detail)
        return from_litellm_error(exc, action="block the key" if blocked else "unblock the key")
    return None


def _blocking(blocked: bool) -> str:
    return "blocking" if blocked else "unblocking"


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


async def sign_in(*, resources: Resources, identity: LoginIdentity) -> User | SignInRefused:
    """Record a sign-in and sync the user to LiteLLM; a LiteLLM failure never blocks it.

    Refusals: ACCOUNT_CONFLICT, NOT_ALLOWED, FORBIDDEN (deactivated); each is audited.
    """
    async with resources.sessions() as session:
        user = await _upsert_from_login(
            session=session, settings=resources.settings, identity=identity
        )
    if isinstance(user, SignInRefused):
        return user
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
) -> User | SignInRefused:
    """Find the account by (issuer, subject); create or update it, or refuse; commit."""
    try:
        return await _apply_login(session=session, settings=settings, identity=identity)
    except IntegrityError:
        # Two first sign-ins of one person raced to insert; the other one won: update it.
        await session.rollback()
        return await _apply_login(session=session, settings=settings, identity=identity)


async def _apply_login(
    *, session: AsyncSession, settings: Settings, identity: LoginIdentity
) -> User | SignInRefused:
    user = await _account_of(session, identity)
    if not may_sign_in(identity.groups, settings.login_allowed_groups):
        if user is not None:
            # Access lost with the groups: the sessions it opened end too.
            await _end_sessions(session, user.id, None)
        return await _refuse(session, SignInRefusal.NOT_ALLOWED, identity, user)
    if user is not None and not user.is_active:
        return await _refuse(session, SignInRefusal.FORBIDDEN, identity, user)
    holder = await _other_account_with_email(session, identity, user)
    if holder is not None:
        return await _refuse(
            session, SignInRefusal.ACCOUNT_CONFLICT, identity, user, holder_id=holder
        )
    now = utcnow()
    if user is None:
        user = User(
            username=identity.username,
            email=identity.email,
            oauth_provider=identity.provider,
            oauth_issuer=identity.issuer,
            oauth_subject=identity.subject,
            max_budget=settings.default_user_max_budget,
            tpm_limit=settings.default_user_tpm_limit,
            rpm_limit=settings.default_user_rpm_limit,
        )
        session.add(user)
    roles = roles_from_groups(identity.groups, settings.role_groups)
    if not set(roles) >= set(user.roles or ()):
        # A role was lost: sessions opened with it end now (a new one starts after this).
        user.session_generation += 1
    user.username = identity.username
    user.email = identity.email
    user.full_name = identity.full_name or user.full_name
    user.oauth_issuer = identity.issuer
    user.roles = roles
    user.last_login_at = now
    user.updated_at = now
    await session.flush()
    audit.record(
        session,
        actor_id=user.id,
        action="user.login",
        resource_type="user",
        resource_id=str(user.id),
        details=_identity_details(identity),
    )
    await session.commit()
    return user


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
    session: AsyncSession,
    code: SignInRefusal,
    identity: LoginIdentity,
    user: User | None,
    *,
    holder_id: uuid.UUID | None = None,
) -> SignInRefused:
    log.warning(
        "sign-in refused: %s (issuer %r, account %s)",
        code.value,
        identity.issuer,
        user.id if user is not None else None,
    )
    details = {"code": code.value, **_identity_details(identity)}
    if holder_id is not None:
        details["email_holder_id"] = str(holder_id)
    audit.record(
        session,
        actor_id=user.id if user is not None else None,
        action="user.login",
        resource_type="user",
        resource_id=str(user.id) if user is not None else None,
        success=False,
        details=details,
    )
    await session.commit()
    return SignInRefused(code, _REFUSAL_MESSAGES[code])


def _identity_details(identity: LoginIdentity) -> dict[str, object]:
    return {
        "provider": identity.provider,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "email_verified": identity.email_verified,
    }
