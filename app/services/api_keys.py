"""API keys: virtual keys in LiteLLM that may call exactly the models their owner subscribed to.

Creation survives a fault at any step: the local row is written PENDING first, then LiteLLM
makes the key (alias = the row's id), then the row becomes ACTIVE. Updates and rotations
mark the row as changing first, then change LiteLLM, then store the result and clear the
mark. A failure undoes what was made; what a crash leaves behind (a row still PENDING or
changing), `app.services.reconcile` repairs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from app.db.models import ApiKeyStatus, utcnow
from app.db.repositories.api_keys import ApiKeyRead as ApiKeyRead  # what callers receive
from app.db.repositories.api_keys import (
    ApiKeyRepository,
    AtKeyLimit,
    Busy,
    KeyChange,
    NewKeyRow,
    Unsubscribed,
)
from app.failures import (
    Failure,
    FailureCode,
    from_litellm_error,
    not_found,
    validation,
)
from app.litellm.client import LiteLLMClient, duration_until
from app.litellm.errors import LiteLLMError, LiteLLMNotFound, LiteLLMUnavailable
from app.services import inputs
from app.settings import Settings

log = logging.getLogger(__name__)

# Far-future expiry dates are refused: null means a key that does not expire.
MAX_LIFETIME = timedelta(days=36525)
# The longest a rotated-away secret may keep working.
MAX_GRACE_PERIOD_SECONDS = 7 * 86400
PREFIX_LENGTH = 8
# Metadata on every LiteLLM key the BFF makes: the reconciler touches no other key.
KEY_ID_METADATA = "litemaas_key_id"
# A key made by a rotation has the alias "<row id>/<random>": LiteLLM wants aliases unique.
ROTATED_ALIAS_SEPARATOR = "/"
# Makes sure LiteLLM knows a user before a key is made for them: None, or why it could not.
EnsureLiteLLMUser = Callable[[uuid.UUID], Awaitable[Failure | None]]


class KeyStatus(StrEnum):
    """A key's status as its owner sees it."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    model_ids: tuple[str, ...]
    expires_at: datetime | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """Limits every key is held to (None: no limit): the KEY_* settings."""

    default_expiry_days: int | None = None
    max_expiry_days: int | None = None
    max_budget: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyPolicy:
        return cls(
            default_expiry_days=settings.key_default_expiry_days,
            max_expiry_days=settings.key_max_expiry_days,
            max_budget=settings.key_max_budget,
        )


@dataclass(frozen=True, slots=True)
class ApiKeyUpdate:
    """A change to a key: None leaves a field as it is."""

    name: str | None = None
    model_ids: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    api_key: ApiKeyRead  # with its models
    secret: str  # shown to the owner once, never stored or logged

    def __repr__(self) -> str:
        return f"CreatedApiKey(api_key={self.api_key.id})"


def secret_digest(secret: str) -> str:
    """sha256 hex of a key: what the BFF stores, and LiteLLM's `token` for the key."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def list_for_user(*, keys: ApiKeyRepository, user_id: uuid.UUID) -> list[ApiKeyRead]:
    """The user's keys (active and revoked), newest first, with their models sorted by id; keys
    being created are not shown. One statement for any number of keys."""
    return await keys.list_for_user(user_id)


async def list_for_session(
    *, keys: ApiKeyRepository, user_id: uuid.UUID, generation: int
) -> list[ApiKeyRead] | None:
    """The keys as `list_for_user` gives them while the session is current (its user active,
    its generation not ended); None once it is not. One statement checks the session and reads
    the keys."""
    return await keys.list_for_session(user_id, generation=generation)


async def get_for_user(
    *, keys: ApiKeyRepository, user_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKeyRead | None:
    """One of the user's keys with its models; None for another user's key (no existence
    leak) and for a key being created."""
    key = await keys.get(key_id)
    if key is None or key.user_id != user_id or key.status is ApiKeyStatus.PENDING:
        return None
    return key


async def create(
    *,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    ensure_litellm_user: EnsureLiteLLMUser,
    max_active_keys: int,
    policy: KeyPolicy,
    user_id: uuid.UUID,
    request: NewApiKey,
) -> CreatedApiKey | Failure:
    """Create a key for exactly the requested models; the key with its models and its secret.

    Failures: VALIDATION_FAILED, LITELLM_UNAVAILABLE, USER_NOT_FOUND_LITELLM,
    MODEL_ACCESS_DENIED (a model without an active subscription), KEY_LIMIT_REACHED.
    """
    invalid = _validate(request)
    if invalid is not None:
        return invalid
    request = _with_policy_defaults(request, policy)
    invalid = _check_policy(policy, expires_at=request.expires_at, max_budget=request.max_budget)
    if invalid is not None:
        return invalid
    sync_failure = await ensure_litellm_user(user_id)
    if sync_failure is not None:
        return sync_failure

    pending = await keys.insert_pending(
        NewKeyRow(
            user_id=user_id,
            name=request.name.strip(),
            model_ids=request.model_ids,
            expires_at=request.expires_at,
            max_budget=request.max_budget,
            tpm_limit=request.tpm_limit,
            rpm_limit=request.rpm_limit,
        ),
        limit=max_active_keys,
    )
    if isinstance(pending, Unsubscribed):
        return Failure(
            FailureCode.MODEL_ACCESS_DENIED,
            "No active subscription for: " + ", ".join(pending.model_ids),
            model_ids=pending.model_ids,
        )
    if isinstance(pending, AtKeyLimit):
        return Failure(
            FailureCode.KEY_LIMIT_REACHED,
            f"You already have {pending.live} active keys; the limit is {max_active_keys}. "
            "Revoke one to create another.",
        )

    try:
        generated = await litellm.key_generate(
            key_alias=str(pending),
            user_id=str(user_id),
            models=request.model_ids,
            max_budget=request.max_budget,
            tpm_limit=request.tpm_limit,
            rpm_limit=request.rpm_limit,
            duration=duration_until(request.expires_at) if request.expires_at else None,
            metadata=key_metadata(pending, request.name),
        )
    except LiteLLMError as exc:
        await _abandon(keys=keys, litellm=litellm, key_id=pending, user_id=user_id, error=exc)
        return from_litellm_error(exc, action="create the key")

    try:
        key = await keys.activate(
            pending,
            secret_sha256=secret_digest(generated.key),
            prefix=generated.key[:PREFIX_LENGTH],
            expires_at=generated.expires,
            models=generated.models,
        )
    except Exception:
        log.exception("storing key %s failed after LiteLLM created it; deleting it there", pending)
        await _abandon(
            keys=keys,
            litellm=litellm,
            key_id=pending,
            user_id=user_id,
            error=None,
            token=generated.token,
        )
        raise
    await _withdraw_what_left(
        litellm=litellm, key=key, token=generated.token, given=generated.models
    )
    return CreatedApiKey(api_key=key, secret=generated.key)


async def revoke(
    *,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    user_id: uuid.UUID,
    key_id: uuid.UUID,
    any_owner: bool = False,
) -> ApiKeyRead | Failure:
    """Delete the key in LiteLLM, then mark it revoked (revoking twice is fine); the key with
    its models. `user_id` revokes their own key, or with `any_owner` (an administrator) anyone's.

    Failures: NOT_FOUND, LITELLM_UNAVAILABLE (then the key still works).
    """
    key = await keys.get(key_id)
    if (
        key is None
        or key.status is ApiKeyStatus.PENDING
        or not (any_owner or key.user_id == user_id)
    ):
        return not_found("API key")
    if key.status is ApiKeyStatus.REVOKED:
        return key
    assert key.secret_sha256 is not None, "an active key always has its token"
    try:
        with contextlib.suppress(LiteLLMNotFound):  # already gone there: finish locally
            await litellm.key_delete(keys=[key.secret_sha256])
    except LiteLLMError as exc:
        return from_litellm_error(exc, action="revoke the key")
    owner = {"owner_id": str(key.user_id)} if key.user_id != user_id else None
    return await keys.revoke(key_id, actor_id=user_id, details=owner)


async def update(
    *,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    policy: KeyPolicy,
    user_id: uuid.UUID,
    key_id: uuid.UUID,
    request: ApiKeyUpdate,
) -> ApiKeyRead | Failure:
    """Change a key's name, models, limits or expiry in LiteLLM, then here; the key.

    The secret stays the same. Failures: NOT_FOUND, VALIDATION_FAILED, MODEL_ACCESS_DENIED
    (a model without an active subscription), LITELLM_UNAVAILABLE (then nothing changed).
    """
    invalid = _validate(request) or _check_policy(
        policy, expires_at=request.expires_at, max_budget=request.max_budget
    )
    if invalid is not None:
        return invalid
    change = KeyChange(
        name=request.name.strip() if request.name is not None else None,
        model_ids=request.model_ids,
        max_budget=request.max_budget,
        tpm_limit=request.tpm_limit,
        rpm_limit=request.rpm_limit,
        expires_at=request.expires_at,
    )
    before = await keys.begin_change(key_id, user_id=user_id, model_ids=request.model_ids)
    if before is None:
        return not_found("API key")
    if isinstance(before, Busy):
        return _busy()
    if isinstance(before, Unsubscribed):
        return Failure(
            FailureCode.MODEL_ACCESS_DENIED,
            "No active subscription for: " + ", ".join(before.model_ids),
            model_ids=before.model_ids,
        )
    assert before.secret_sha256 is not None, "an active key always has its token"
    try:
        await push_state(litellm=litellm, key=before, change=change)
    except LiteLLMError as exc:
        await _undo_change(keys=keys, litellm=litellm, key=before, error=exc)
        return from_litellm_error(exc, action="update the key")
    try:
        key = await keys.apply_change(key_id, change, actor_id=user_id)
    except Exception:
        log.exception("storing the update of key %s failed; restoring it in LiteLLM", key_id)
        await _undo_change(keys=keys, litellm=litellm, key=before, error=None)
        raise
    given = change.model_ids if change.model_ids is not None else [m.id for m in before.reachable]
    await _withdraw_what_left(litellm=litellm, key=key, token=before.secret_sha256, given=given)
    return key


async def rotate(
    *,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    user_id: uuid.UUID,
    key_id: uuid.UUID,
    grace_period_seconds: int,
) -> CreatedApiKey | Failure:
    """Give the key a new secret (shown once) with the same models and limits; the old one
    keeps working for the grace period, then never again.

    Failures: NOT_FOUND, VALIDATION_FAILED, LITELLM_UNAVAILABLE (then nothing changed).
    """
    if not 0 <= grace_period_seconds <= MAX_GRACE_PERIOD_SECONDS:
        return validation(
            f"gracePeriodSeconds must be between 0 and {MAX_GRACE_PERIOD_SECONDS}",
            field="gracePeriodSeconds",
        )
    before = await keys.begin_change(key_id, user_id=user_id, model_ids=None)
    if before is None:
        return not_found("API key")
    if isinstance(before, Busy):
        return _busy()
    assert not isinstance(before, Unsubscribed), "no models were asked for"
    old_token = before.secret_sha256
    assert old_token is not None, "an active key always has its token"
    if before.expires_at is not None and before.expires_at <= utcnow():
        await keys.end_change(key_id)
        return validation(
            "The key has expired: give it a later expiresAt before rotating it",
            field="expiresAt",
        )
    # LiteLLM wants aliases unique: the new key's says which row it belongs to, and differs.
    alias = f"{key_id}{ROTATED_ALIAS_SEPARATOR}{uuid.uuid4().hex[:12]}"
    try:
        generated = await litellm.key_generate(
            key_alias=alias,
            user_id=str(user_id),
            models=litellm_models(before),
            max_budget=before.max_budget,
            tpm_limit=before.tpm_limit,
            rpm_limit=before.rpm_limit,
            duration=duration_until(before.expires_at) if before.expires_at else None,
            metadata=key_metadata(before.id, before.name),
        )
    except LiteLLMError as exc:
        may_exist = isinstance(exc, LiteLLMUnavailable) and exc.reached
        if not may_exist or await _delete_by_alias(litellm=litellm, user_id=user_id, alias=alias):
            await keys.end_change(key_id)
        else:
            log.warning("rotation of key %s left changing for the reconciler", key_id)
        return from_litellm_error(exc, action="rotate the key")

    if not before.reachable:
        # It may call none of its models now: the new secret is blocked, as the old one is.
        try:
            await litellm.key_block(generated.token)
        except LiteLLMError as exc:
            await _drop_new_key(keys=keys, litellm=litellm, key_id=key_id, token=generated.token)
            return from_litellm_error(exc, action="rotate the key")

    grace_until = utcnow() + timedelta(seconds=grace_period_seconds)
    try:
        key = await keys.apply_rotation(
            key_id,
            secret_sha256=secret_digest(generated.key),
            prefix=generated.key[:PREFIX_LENGTH],
            previous_valid_until=grace_until,
            actor_id=user_id,
        )
    except Exception:
        log.exception("storing the rotation of key %s failed; deleting the new LiteLLM key", key_id)
        await _drop_new_key(keys=keys, litellm=litellm, key_id=key_id, token=generated.token)
        raise
    await _withdraw_what_left(
        litellm=litellm, key=key, token=generated.token, given=[m.id for m in before.reachable]
    )
    await _retire(keys=keys, litellm=litellm, key=before, token=old_token, until=grace_until)
    return CreatedApiKey(api_key=key, secret=generated.key)


async def _withdraw_what_left(
    *, litellm: LiteLLMClient, key: ApiKeyRead, token: str, given: Sequence[str]
) -> None:
    """LiteLLM was given leave to call `given` (none: the key is blocked there) while a
    subscription to one of them left ACTIVE: its decision found the key still pending, or
    with its models before the change, and left it alone. Those models go now as the decision
    would have taken them: the key is narrowed to the models it may still call, or blocked
    when none is left. If LiteLLM fails, the reconciler does it."""
    reachable = [m.id for m in key.reachable]
    if set(given) <= set(reachable):
        return
    log.warning(
        "key %s was given a model whose subscription has left ACTIVE; withdrawing it", key.id
    )
    try:
        if reachable:
            await litellm.key_set_models(key=token, models=reachable)
        else:
            await litellm.key_block(token)
    except LiteLLMError as exc:
        log.warning("key %s is left to the reconciler: %s", key.id, exc)


async def _drop_new_key(
    *, keys: ApiKeyRepository, litellm: LiteLLMClient, key_id: uuid.UUID, token: str
) -> None:
    """Delete the LiteLLM key a rotation made and end the change; if LiteLLM cannot, the row
    stays changing and the reconciler deletes the key."""
    try:
        await litellm.key_delete(keys=[token])
    except LiteLLMError as exc:
        log.warning("the new LiteLLM key of %s is left to the reconciler: %s", key_id, exc)
        return
    await _end_change(keys=keys, key_id=key_id)


async def push_state(
    *, litellm: LiteLLMClient, key: ApiKeyRead, change: KeyChange | None = None
) -> None:
    """Make LiteLLM's key match the row (with `change` applied): models, limits, expiry."""
    assert key.secret_sha256 is not None, "an active key always has its token"
    change = change or KeyChange()

    name = change.name if change.name is not None else key.name
    model_ids = change.model_ids if change.model_ids is not None else litellm_models(key)
    expires_at = change.expires_at if change.expires_at is not None else key.expires_at
    await litellm.key_update(
        key=key.secret_sha256,
        models=model_ids,
        max_budget=change.max_budget if change.max_budget is not None else key.max_budget,
        tpm_limit=change.tpm_limit if change.tpm_limit is not None else key.tpm_limit,
        rpm_limit=change.rpm_limit if change.rpm_limit is not None else key.rpm_limit,
        expires_at=expires_at,
        metadata=key_metadata(key.id, name),
    )


def litellm_models(key: ApiKeyRead) -> list[str]:
    """The models LiteLLM gives the key: those it may call now (a suspended model is left out);
    all of its own while it may call none, as it is blocked then (LiteLLM reads an empty list
    as every model)."""
    return [m.id for m in key.reachable or key.models]


def key_metadata(key_id: uuid.UUID, name: str) -> dict[str, str]:
    """The metadata of every LiteLLM key made for a key row."""
    return {KEY_ID_METADATA: str(key_id), "name": name}


_SEEN_AS = {status: KeyStatus(status.value) for status in ApiKeyStatus}


def derived_status(key: ApiKeyRead, now: datetime) -> KeyStatus:
    """ACTIVE, EXPIRED (an active key past its expiry at `now`), REVOKED; PENDING while
    created."""
    if key.status is ApiKeyStatus.ACTIVE and key.expires_at is not None and key.expires_at <= now:
        return KeyStatus.EXPIRED
    return _SEEN_AS[key.status]


async def _undo_change(
    *, keys: ApiKeyRepository, litellm: LiteLLMClient, key: ApiKeyRead, error: LiteLLMError | None
) -> None:
    """Put LiteLLM's key back as the row has it, then end the change; if LiteLLM cannot be
    reached, the row stays changing and the reconciler finishes."""
    may_have_changed = error is None or (isinstance(error, LiteLLMUnavailable) and error.reached)
    if may_have_changed:
        try:
            await push_state(litellm=litellm, key=key)
        except LiteLLMNotFound:
            pass  # gone there: the reconciler revokes the row
        except LiteLLMError as exc:
            log.warning("key %s left changing for the reconciler: %s", key.id, exc)
            return
    await _end_change(keys=keys, key_id=key.id)


async def _end_change(*, keys: ApiKeyRepository, key_id: uuid.UUID) -> None:
    """End a change that failed and was undone. This runs while another error is being
    answered, often the database's own: if it cannot be stored, that is logged and the row
    stays changing, which the reconciler finishes."""
    try:
        await keys.end_change(key_id)
    except Exception:
        log.exception("key %s left changing for the reconciler: ending its change failed", key_id)


async def _retire(
    *,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    key: ApiKeyRead,
    token: str,
    until: datetime,
) -> None:
    """The rotated-away secret stops working at `until` in LiteLLM too: deleted now when the
    grace period is over, else set to expire then. If LiteLLM cannot be told, the reconciler
    deletes the old key once the grace period has passed."""
    expires_at = until if key.expires_at is None else min(key.expires_at, until)
    try:
        if expires_at <= utcnow():
            with contextlib.suppress(LiteLLMNotFound):
                await litellm.key_delete(keys=[token])
            await keys.forget_previous(key.id, token)
        else:
            await litellm.key_update(
                key=token,
                models=[m.id for m in key.models],
                max_budget=key.max_budget,
                tpm_limit=key.tpm_limit,
                rpm_limit=key.rpm_limit,
                expires_at=expires_at,
                metadata=key_metadata(key.id, key.name),
            )
    except LiteLLMError as exc:
        log.warning("the replaced secret of key %s is left to the reconciler: %s", key.id, exc)


async def _delete_by_alias(*, litellm: LiteLLMClient, user_id: uuid.UUID, alias: str) -> bool:
    """Make sure LiteLLM has no key with this alias; False when LiteLLM could not be asked."""
    try:
        for found in await litellm.key_list(user_id=str(user_id)):
            if found.key_alias == alias and not found.deleted and found.token is not None:
                with contextlib.suppress(LiteLLMNotFound):
                    await litellm.key_delete(keys=[found.token])
    except LiteLLMError as exc:
        log.warning("could not delete the LiteLLM key %s: %s", alias, exc)
        return False
    return True


def _busy() -> Failure:
    return validation("The key is being changed; try again in a moment")


def _with_policy_defaults(request: NewApiKey, policy: KeyPolicy) -> NewApiKey:
    expires_at, max_budget = request.expires_at, request.max_budget
    if expires_at is None and policy.default_expiry_days is not None:
        expires_at = utcnow() + timedelta(days=policy.default_expiry_days)
    if max_budget is None and policy.max_budget is not None:
        max_budget = policy.max_budget
    return replace(request, expires_at=expires_at, max_budget=max_budget)


def _check_policy(
    policy: KeyPolicy, *, expires_at: datetime | None, max_budget: float | None
) -> Failure | None:
    if (
        policy.max_expiry_days is not None
        and expires_at is not None
        and expires_at - utcnow() > timedelta(days=policy.max_expiry_days)
    ):
        return validation(
            f"A key may expire at most {policy.max_expiry_days} days ahead",
            field="expiresAt",
        )
    if policy.max_budget is not None and max_budget is not None and max_budget > policy.max_budget:
        return validation(f"A key's budget may be at most {policy.max_budget:g}", field="maxBudget")
    return None


def _validate(request: NewApiKey | ApiKeyUpdate) -> Failure | None:
    """The fields given (an update leaves out what it does not change)."""
    if request.name is not None:
        invalid = inputs.check_text(request.name, field="name", what="A key's name")
        if invalid is not None:
            return invalid
    if request.model_ids is not None:
        invalid = _check_models(request.model_ids)
        if invalid is not None:
            return invalid
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


def _check_models(model_ids: tuple[str, ...]) -> Failure | None:
    # LiteLLM reads an empty list as every model.
    if not model_ids:
        return validation("A key needs at least one model", field="modelIds")
    for model_id in model_ids:
        invalid = inputs.check_text(model_id, field="modelIds", what="A model id")
        if invalid is not None:
            return invalid
    if len(set(model_ids)) != len(model_ids):
        return validation("Each model may be listed once", field="modelIds")
    return None


async def _abandon(
    *,
    keys: ApiKeyRepository,
    litellm: LiteLLMClient,
    key_id: uuid.UUID,
    user_id: uuid.UUID,
    error: LiteLLMError | None,
    token: str | None = None,
) -> None:
    """Undo a failed creation: the LiteLLM key if one may exist, then the pending row.

    If LiteLLM cannot be cleaned up now, the row stays PENDING and the reconciler finishes.
    """
    may_exist = token is not None or (isinstance(error, LiteLLMUnavailable) and error.reached)
    if may_exist and not await delete_litellm_key(
        litellm=litellm, key_id=key_id, user_id=user_id, token=token
    ):
        log.warning("key %s left pending for the reconciler", key_id)
        return
    await keys.remove_pending(key_id, action="api_key.create_failed")


async def delete_litellm_key(
    *, litellm: LiteLLMClient, key_id: uuid.UUID, user_id: uuid.UUID, token: str | None = None
) -> bool:
    """Make sure LiteLLM has no key for this row (found by token, else by alias = row id).

    True when LiteLLM has none left; False when LiteLLM could not be asked.
    """
    try:
        if token is None:
            token = next(
                (
                    k.token
                    for k in await litellm.key_list(user_id=str(user_id))
                    if k.key_alias == str(key_id) and not k.deleted
                ),
                None,
            )
        if token is not None:
            with contextlib.suppress(LiteLLMNotFound):
                await litellm.key_delete(keys=[token])
    except LiteLLMError as exc:
        log.warning("could not delete the LiteLLM key of %s: %s", key_id, exc)
        return False
    return True
