"""May this API key call that model? Answered from the BFF's own records, in one query."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import SQLModel

from app.db import reader
from app.db.models import ApiKey, ApiKeyStatus, utcnow
from app.db.reader import as_text
from app.failures import Failure, FailureCode
from app.resources import Resources
from app.services import audit, inputs
from app.services.api_keys import secret_digest
from app.settings import ModelAccessEnforcement

log = logging.getLogger(__name__)

_keys = SQLModel.metadata.tables["api_keys"]
_links = SQLModel.metadata.tables["api_key_models"]
_users = SQLModel.metadata.tables["users"]
# The owner's account is part of the one statement: a deactivated user's keys stop at once.
_KEY_WITH_MODELS = reader.statement(
    "access.key_with_models",
    sa.select(
        _keys.c.id,
        as_text(_keys.c.status),
        _keys.c.expires_at,
        _users.c.is_active,
        _links.c.model_id,
    )
    .select_from(
        _keys.join(_users, _users.c.id == _keys.c.user_id).outerjoin(
            _links, _links.c.api_key_id == _keys.c.id
        )
    )
    .where(_keys.c.secret_sha256 == sa.bindparam("digest")),
)


@dataclass(frozen=True, slots=True)
class AccessGranted:
    model_id: str
    allowed_model_ids: tuple[str, ...]
    # True when the key lacks the model but enforcement is log-only or off.
    would_be_denied: bool = False


async def check_model_access(
    *, resources: Resources, secret: str | None, model_id: str
) -> AccessGranted | Failure:
    """Whether the key may call the model.

    Failures: VALIDATION_FAILED (`model` is no model id), INVALID_API_KEY (missing, unknown,
    revoked or expired key, or its owner deactivated), MODEL_ACCESS_DENIED.
    """
    # Before anything is looked up, logged or audited.
    invalid = inputs.check_text(model_id, field="model", what="A model id")
    if invalid is not None:
        return invalid
    counters = resources.counters
    if not secret:
        counters.access_invalid_key += 1
        return _invalid_key()
    # This check runs for every gateway request.
    rows = await resources.reader.all(_KEY_WITH_MODELS, {"digest": secret_digest(secret)})
    if not rows:
        counters.access_invalid_key += 1
        return _invalid_key()
    key_id, status, expires_at, owner_active, _ = rows[0]
    if not owner_active or not _usable(status, expires_at):
        counters.access_invalid_key += 1
        return _invalid_key()
    allowed = tuple(sorted(row[4] for row in rows if row[4] is not None))
    if model_id in allowed:
        counters.access_granted += 1
        return AccessGranted(model_id, allowed)

    enforcement = resources.settings.model_access_enforcement
    await _record_denial(resources, key_id=key_id, model_id=model_id, enforcement=enforcement)
    if enforcement is ModelAccessEnforcement.ENFORCE:
        counters.access_denied += 1
        return Failure(
            FailureCode.MODEL_ACCESS_DENIED,
            f"This API key may not call {model_id}",
            model_ids=(model_id,),
        )
    counters.access_would_be_denied += 1
    return AccessGranted(model_id, allowed, would_be_denied=True)


def _usable(status: str, expires_at: datetime | None) -> bool:
    return status == ApiKeyStatus.ACTIVE and (expires_at is None or expires_at > utcnow())


def _invalid_key() -> Failure:
    return Failure(FailureCode.INVALID_API_KEY, "The API key is unknown, revoked or expired")


async def _record_denial(
    resources: Resources,
    *,
    key_id: uuid.UUID,
    model_id: str,
    enforcement: ModelAccessEnforcement,
) -> None:
    if enforcement is ModelAccessEnforcement.OFF:
        return
    log.info("model access denied: key %s, model %r (%s)", key_id, model_id, enforcement.value)
    async with resources.sessions() as session:
        key = await session.get(ApiKey, key_id)
        audit.record(
            session,
            actor_id=key.user_id if key is not None else None,
            action="api_key.access_denied",
            resource_type="api_key",
            resource_id=str(key_id),
            success=False,
            details={"model_id": model_id, "enforcement": enforcement.value},
        )
        await session.commit()
