"""API keys: virtual keys in LiteLLM that may call exactly the models their owner subscribed to.

Creation survives a fault at any step: the local row is written PENDING first, then LiteLLM
makes the key (alias = the row's id), then the row becomes ACTIVE. A failure undoes what was
made; what a crash leaves behind, `app.services.reconcile` repairs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.db.models import ApiKeyStatus, utcnow
from app.db.repositories.api_keys import ApiKeyRead as ApiKeyRead  # what callers receive
from app.db.repositories.api_keys import (
    ApiKeyRepository,
    AtKeyLimit,
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
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMError, LiteLLMNotFound, LiteLLMUnavailable
from app.services import inputs

log = logging.getLogger(__name__)

# Far-future expiry dates are refused: null means a key that does not expire.
MAX_LIFETIME = timedelta(days=36525)
PREFIX_LENGTH = 8
# Metadata on every LiteLLM key the BFF makes: the reconciler touches no other key.
KEY_ID_METADATA = "litemaas_key_id"
# Makes sure LiteLLM knows a user before a key is made for them: None, or why it could not.
EnsureLiteLLMUser = Callable[[uuid.UUID], Awaitable[Failure | None]]


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    model_ids: tuple[str, ...]
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
            duration=_duration_until(request.expires_at),
            metadata={KEY_ID_METADATA: str(pending), "name": request.name},
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


def _validate(request: NewApiKey) -> Failure | None:
    invalid = inputs.check_text(request.name, field="name", what="A key's name")
    if invalid is not None:
        return invalid
    if not request.model_ids:
        return validation("A key needs at least one model", field="modelIds")
    for model_id in request.model_ids:
        invalid = inputs.check_text(model_id, field="modelIds", what="A model id")
        if invalid is not None:
            return invalid
    if len(set(request.model_ids)) != len(request.model_ids):
        return validation("Each model may be listed once", field="modelIds")
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


def _duration_until(expires_at: datetime | None) -> str | None:
    if expires_at is None:
        return None
    return f"{max(1, math.ceil((expires_at - utcnow()).total_seconds()))}s"
