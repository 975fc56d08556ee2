"""Portal users: sign-in, roles from SSO groups, and their twin user in LiteLLM."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

from app.db.models import SyncStatus as SyncStatus  # what callers filter by
from app.db.repositories.api_keys import ApiKeyRepository
from app.db.repositories.users import AccountChanges as AccountChanges  # what callers pass
from app.db.repositories.users import AccountRefused, NewAccountLimits, UserRepository
from app.db.repositories.users import LoginIdentity as LoginIdentity  # what callers pass
from app.db.repositories.users import UserFilter as UserFilter  # what callers pass
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
from app.services import inputs
from app.services.api_keys import EnsureLiteLLMUser
from app.services.paging import Page, page_request
from app.settings import Settings
from app.singleflight import SingleFlight

log = logging.getLogger(__name__)
BASE_ROLE = "user"
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
) -> UserRead | None:
    """End every session of the user; with `generation`, only if that one is still current.

    Returns the user as it now stands (what signing out everywhere shows), or None if no
    session was ended: the user is gone, or `generation` is no longer current.
    """
    return await users.end_sessions(user_id, generation=generation)


async def update(
    *,
    users: UserRepository,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    ensure_litellm_user: EnsureLiteLLMUser,
    user_id: uuid.UUID,
    changes: AccountChanges,
    actor_id: uuid.UUID | None,
    reason: str | None = None,
) -> UserRead | Failure:
    """Change a user's limits and whether they are active, in LiteLLM first, then here.

    Deactivating ends the user's sessions (`/authz` and `modelAccess` refuse their keys at
    once) and blocks their keys in LiteLLM; reactivating unblocks the keys that have a model
    they may call. Nothing changes on either side unless both can: a LiteLLM failure undoes
    what LiteLLM was already told. Failures: NOT_FOUND, VALIDATION_FAILED,
    LITELLM_UNAVAILABLE, USER_NOT_FOUND_LITELLM.
    """
    invalid = _check_changes(changes, reason)
    if invalid is not None:
        return invalid
    user = await users.get(user_id)
    if user is None:
        return not_found("User")
    limits = {
        name: value
        for name, value in (
            ("max_budget", changes.max_budget),
            ("tpm_limit", changes.tpm_limit),
            ("rpm_limit", changes.rpm_limit),
        )
        if value is not None
    }
    if limits:
        # /user/update creates a user LiteLLM lacks, with none of its details: sync it first.
        sync_failure = await ensure_litellm_user(user_id)
        if sync_failure is not None:
            return sync_failure
    blocking = None if changes.active in (None, user.is_active) else not changes.active
    undo: list[Callable[[], Awaitable[object]]] = []
    try:
        if limits:
            await litellm.user_update(user_id=str(user_id), **limits)
            previous = {name: getattr(user, name) for name in limits}
            undo.append(lambda: litellm.user_update(user_id=str(user_id), **previous))
        if blocking is not None:
            # Keys with no model they may call stay blocked either way.
            for key in [k for k in await keys.active_of_user(user_id) if k.reachable]:
                await _set_blocked_or_missing(litellm, key.token, blocked=blocking)
                undo.append(partial(_set_blocked_or_missing, litellm, key.token, not blocking))
        updated = await users.update_account(user_id, changes, actor_id=actor_id, reason=reason)
    except LiteLLMError as exc:
        log.warning("updating user %s: LiteLLM failed (%s); undoing", user_id, exc)
        await _undo(undo)
        return from_litellm_error(exc, action="update the user")
    except BaseException:
        await _undo(undo)
        raise
    return updated if updated is not None else not_found("User")


async def _set_blocked_or_missing(litellm: LiteLLMClient, token: str, blocked: bool) -> None:
    # A key LiteLLM no longer has needs neither; the reconciler revokes it.
    with contextlib.suppress(LiteLLMNotFound):
        await (litellm.key_block(token) if blocked else litellm.key_unblock(token))


async def _undo(steps: list[Callable[[], Awaitable[object]]]) -> None:
    for step in reversed(steps):
        try:
            await step()
        except LiteLLMError:
            log.exception("could not undo a change in LiteLLM; the reconciler repairs keys")


def _check_changes(changes: AccountChanges, reason: str | None) -> Failure | None:
    for field_name, value, maximum in (
        ("maxBudget", changes.max_budget, inputs.MAX_BUDGET),
        ("tpmLimit", changes.tpm_limit, inputs.MAX_RATE_LIMIT),
        ("rpmLimit", changes.rpm_limit, inputs.MAX_RATE_LIMIT),
    ):
        invalid = inputs.check_amount(value, field=field_name, maximum=maximum)
        if invalid is not None:
            return invalid
    if reason is not None:
        return inputs.check_text(reason, field="reason", what="A reason", max_length=1000)
    return None


async def page(
    *, users: UserRepository, found_by: UserFilter, first: int, after: str | None
) -> Page[UserRead] | Failure:
    """A page of the users `found_by` matches, by username.

    Failures: VALIDATION_FAILED (`first`, `after`, `search`, `role`).
    """
    for field_name, value in (("search", found_by.search), ("role", found_by.role)):
        if value is not None:
            invalid = inputs.check_text(value, field=field_name, what=field_name)
            if invalid is not None:
                return invalid
    request = page_request(first, after, timestamp=False)
    if isinstance(request, Failure):
        return request
    size, cursor = request
    return await users.page(found_by, first=size, after=cursor)


async def retry_sync(
    *, users: UserRepository, sync: LiteLLMUserSync, user_id: uuid.UUID, actor_id: uuid.UUID
) -> UserRead | Failure:
    """Create the user's twin in LiteLLM now, audited as the administrator's.

    Failures: NOT_FOUND, LITELLM_UNAVAILABLE, USER_NOT_FOUND_LITELLM.
    """
    if await users.get(user_id) is None:
        return not_found("User")
    failure = await sync.ensure(user_id)
    await users.record(
        "user.sync_retry",
        user_id,
        actor_id=actor_id,
        success=failure is None,
        details={"code": failure.code.value} if failure is not None else None,
    )
    if failure is not None:
        return failure
    refreshed = await users.get(user_id)
    return refreshed if refreshed is not None else not_found("User")


async def set_key_blocked(*, litellm: LiteLLMClient, token: str, blocked: bool) -> Failure | None:
    """Block or unblock one key in LiteLLM (the reconciler's repair); a key LiteLLM no longer
    has needs neither. Failures: LITELLM_UNAVAILABLE, VALIDATION_FAILED."""
    try:
        await (litellm.key_block(token) if blocked else litellm.key_unblock(token))
    except LiteLLMNotFound:
        return None
    except LiteLLMError as exc:
        log.warning("LiteLLM failed %s a key: %s (%s)", _blocking(blocked), exc, exc.detail)
        return from_litellm_error(exc, action="block the key" if blocked else "unblock the key")
    return None


def _blocking(blocked: bool) -> str:
    return "blocking" if blocked else "unblocking"


async def get(*, users: UserRepository, user_id: uuid.UUID) -> UserRead | None:
    return await users.get(user_id)


async def by_id(
    *, users: UserRepository, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, UserRead]:
    """The users with these ids, in one statement."""
    return await users.get_many(user_ids)


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
