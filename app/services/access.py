"""May this API key call that model? Answered from the BFF's own records, in one query."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from app.db.models import ApiKeyStatus, utcnow
from app.db.repositories.api_keys import ApiKeyRepository
from app.failures import Failure, FailureCode
from app.metrics import Metrics
from app.services import inputs
from app.services.api_keys import secret_digest
from app.settings import ModelAccessEnforcement

log = logging.getLogger(__name__)
INVALID_KEY = "invalid_key"


@dataclass(frozen=True, slots=True)
class AccessGranted:
    model_id: str
    allowed_model_ids: tuple[str, ...]
    # True when the key lacks the model but enforcement is log-only or off.
    would_be_denied: bool = False


async def check_model_access(
    *,
    keys: ApiKeyRepository,
    metrics: Metrics,
    enforcement: ModelAccessEnforcement,
    secret: str | None,
    model_id: str,
) -> AccessGranted | Failure:
    """Whether the key may call the model.

    Failures: VALIDATION_FAILED (`model` is no model id), INVALID_API_KEY (missing, unknown,
    revoked or expired key, or its owner deactivated), MODEL_ACCESS_DENIED.
    """
    # Before anything is looked up, logged or audited.
    invalid = inputs.check_text(model_id, field="model", what="A model id")
    if invalid is not None:
        return invalid
    if not secret:
        metrics.access_checks.labels(outcome=INVALID_KEY).inc()
        return _invalid_key()
    # This check runs for every gateway request.
    key = await keys.access(secret_digest(secret))
    if key is None or not key.owner_active or not _usable(key.status, key.expires_at):
        metrics.access_checks.labels(outcome=INVALID_KEY).inc()
        return _invalid_key()
    allowed = key.model_ids
    if model_id in allowed:
        metrics.access_checks.labels(outcome="granted").inc()
        return AccessGranted(model_id, allowed)

    if enforcement is not ModelAccessEnforcement.OFF:
        log.info(
            "model access denied: key %s, model %r (%s)", key.key_id, model_id, enforcement.value
        )
        await keys.record_access_denied(
            key.key_id, model_id=model_id, enforcement=enforcement.value
        )
    if enforcement is ModelAccessEnforcement.ENFORCE:
        metrics.access_checks.labels(outcome="denied").inc()
        return Failure(
            FailureCode.MODEL_ACCESS_DENIED,
            f"This API key may not call {model_id}",
            model_ids=(model_id,),
        )
    metrics.access_checks.labels(outcome="would_be_denied").inc()
    return AccessGranted(model_id, allowed, would_be_denied=True)


def _usable(status: ApiKeyStatus, expires_at: datetime | None) -> bool:
    return status == ApiKeyStatus.ACTIVE and (expires_at is None or expires_at > utcnow())


def _invalid_key() -> Failure:
    return Failure(FailureCode.INVALID_API_KEY, "The API key is unknown, revoked or expired")
