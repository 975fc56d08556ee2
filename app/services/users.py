"""Portal users: sign-in, roles from SSO groups, and their twin user in LiteLLM."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.db.repositories.users import AccountRefused, NewAccountLimits, UserRepository
from app.db.repositories.users import LoginIdentity as LoginIdentity  # what callers pass
from app.db.repositories.users import UserRead as UserRead  # what callers receive
from app.failures import (
    Failure,
    FailureCode,
    from_litellm_error,
    litellm_unavailable,
    not_found,
)
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMConflict, LiteLLMError, LiteLLMNotFound, LiteLLMUnavailable
from app.metrics import Metrics
from app.settings import Settings
from app.singleflight import SingleFlight

log = logging.getLogger(__name__)
BASE_ROLE = "user"
MAX_USERS_PAGE = 500
# The issuer of development logins (migration 0002 writes the same value on older rows).
DEV_ISSUER = "urn:litemaas:dev-login"


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
    """The active user behind a session, read whole on every request."""

    user: UserRead

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def roles(self) -> tuple[str, ...]:
        return self.user.roles


async def signed_in(
    *, users: UserRepository, user_id: uuid.UUID, generation: int
) -> SignedIn | None:
    """The session's user if still active and the session not ended; read on every request."""
    user = await users.signed_in(user_id, generation=generation)
    return SignedIn(user) if user is not None else None


async def end_sessions(
    *, users: UserRepository, user_id: uuid.UUID, generation: int | None = None
) -> bool:
    """End every session of the user; with `generation`, only if that one is still current.

    Returns whether sessions were ended.
    """
    return await users.end_sessions(user_id, generation=generation)


async def set_active(
    *,
    users: UserRepository,
    litellm: LiteLLMClient,
    user_id: uuid.UUID,
    active: bool,
    actor_id: uuid.UUID | None,
) -> Failure | None:
    """Deactivate (or reactivate) a user, and block (or unblock) their keys in LiteLLM.

    The local change comes first and holds whatever LiteLLM does: deactivation ends the user's
    sessions and /authz and `modelAccess` refuse their keys at once. When LiteLLM cannot be
    told, LITELLM_UNAVAILABLE is returned and the reconciler blocks or unblocks the keys once
    it answers again (a key the portal made is blocked in LiteLLM exactly while its owner is
    deactivated). Failures: NOT_FOUND, LITELLM_UNAVAILABLE, VALIDATION_FAILED.
    """
    tokens = await users.set_active(user_id, active=active, actor_id=actor_id)
    if tokens is None:
        return not_found("User")
    for token in tokens:
        failure = await set_key_blocked(litellm=litellm, token=token, blocked=not active)
        if failure is not None:
            return failure
    return None


async def set_key_blocked(*, litellm: LiteLLMClient, token: str, blocked: bool) -> Failure | None:
    """Block or unblock one key in LiteLLM; a key LiteLLM no longer has needs neither."""
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


async def get(*, users: UserRepository, user_id: uuid.UUID) -> UserRead | None:
    return await users.get(user_id)


async def list_by_username(*, users: UserRepository, limit: int) -> list[UserRead]:
    """Users ordered by username, at most `limit` (clamped to 1..MAX_USERS_PAGE)."""
    return await users.list_by_username(limit=max(1, min(limit, MAX_USERS_PAGE)))


async def users_due_for_sync(*, users: UserRepository, limit: int) -> list[uuid.UUID]:
    """Users whose last LiteLLM sync failed and whose backoff has passed."""
    return await users.due_for_sync(limit=limit)


@dataclass(frozen=True, slots=True)
class LiteLLMUserSync:
    """Makes sure LiteLLM knows a portal user, recording the outcome on the user's row."""

    users: UserRepository
    litellm: LiteLLMClient
    settings: Settings
    metrics: Metrics
    # Concurrent syncs of one user share one attempt.
    flights: SingleFlight[Failure | None]

    async def ensure(self, user_id: uuid.UUID) -> Failure | None:
        """None when LiteLLM has the user; else LITELLM_UNAVAILABLE or USER_NOT_FOUND_LITELLM.
        Concurrent calls for one user share one attempt."""
        return await self.flights.run(user_id, lambda: self._sync(user_id))

    async def _sync(self, user_id: uuid.UUID) -> Failure | None:
        # No database connection is held while LiteLLM is being asked.
        user = await self.users.get(user_id)
        if user is None:
            raise LookupError(f"user {user_id} does not exist")
        failure, reason = await _create_in_litellm_unless_present(litellm=self.litellm, user=user)
        if failure is None:
            self.metrics.user_syncs.labels(outcome="succeeded").inc()
        else:
            self.metrics.user_syncs.labels(outcome="failed").inc()
        await self.users.record_sync(
            user_id,
            error=reason,
            retry_base=self.settings.user_sync_retry_base_seconds,
            retry_max=self.settings.user_sync_retry_max_seconds,
            audit_details=(
                {"code": failure.code.value, "reason": reason} if failure is not None else None
            ),
        )
        return failure


async def sign_in(
    *, users: UserRepository, sync: LiteLLMUserSync, settings: Settings, identity: LoginIdentity
) -> UserRead | SignInRefused:
    """Record a sign-in and sync the user to LiteLLM; a LiteLLM failure never blocks it.

    Refusals: ACCOUNT_CONFLICT, NOT_ALLOWED, FORBIDDEN (deactivated); each is audited.
    """
    user = await users.record_login(
        identity,
        allowed=may_sign_in(identity.groups, settings.login_allowed_groups),
        roles=roles_from_groups(identity.groups, settings.role_groups),
        limits=NewAccountLimits(
            max_budget=settings.default_user_max_budget,
            tpm_limit=settings.default_user_tpm_limit,
            rpm_limit=settings.default_user_rpm_limit,
        ),
        audit_details=_identity_details(identity),
    )
    if isinstance(user, AccountRefused):
        code = SignInRefusal(user.code)
        log.warning(
            "sign-in refused: %s (issuer %r, account %s)", code.value, identity.issuer, user.user_id
        )
        return SignInRefused(code, _REFUSAL_MESSAGES[code])
    await sync.ensure(user.id)
    refreshed = await users.get(user.id)
    assert refreshed is not None
    return refreshed


async def _create_in_litellm_unless_present(
    *, litellm: LiteLLMClient, user: UserRead
) -> tuple[Failure | None, str | None]:
    """(None, None) when LiteLLM has the user; else the failure and a reason for operators."""
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


def _identity_details(identity: LoginIdentity) -> dict[str, object]:
    return {
        "provider": identity.provider,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "email_verified": identity.email_verified,
    }
