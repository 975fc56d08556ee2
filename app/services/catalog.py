"""The model catalogue: LiteLLM's deployments mirrored locally, served even when LiteLLM is down."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from app.db.models import utcnow
from app.db.repositories.catalogue import CatalogueRepository, ModelSync, SyncCounts
from app.db.repositories.catalogue import ModelChanges as ModelChanges  # what callers pass
from app.db.repositories.catalogue import ModelRead as ModelRead  # what callers receive
from app.db.repositories.catalogue import ModelUpdated as ModelUpdated  # what callers receive
from app.failures import Failure, not_found
from app.litellm.client import LiteLLMClient
from app.services import inputs, safety

MAX_DESCRIPTION_LENGTH = 4000

log = logging.getLogger(__name__)


async def sync_models(
    *,
    models: CatalogueRepository,
    litellm: LiteLLMClient,
    valve: safety.Valve,
) -> SyncCounts:
    """Mirror LiteLLM's /model/info; models it no longer serves become unavailable (unless the
    safety valve holds that change).

    Raises LiteLLMError when LiteLLM cannot be read (the last catalogue stays as it was).
    """
    deployments = await litellm.model_info()
    now = utcnow()
    seen = {  # several deployments may share a name
        d.model_name: ModelSync(
            provider=d.provider,
            context_length=d.max_tokens,
            input_cost_per_token=d.input_cost_per_token,
            output_cost_per_token=d.output_cost_per_token,
            capabilities=d.capabilities,
        )
        for d in deployments
    }
    available = await models.available_ids()
    # An empty or wrong LiteLLM must not retire the whole catalogue: the safety valve decides.
    retire = await valve.permitted(
        kind=safety.HoldKind.RETIRE_MODELS,
        proposed=available - seen.keys(),
        total=len(available),
    )
    result = await models.apply_sync(seen, retire=retire, now=now)
    litellm.monitor.last_catalog_sync_at = now
    log.info("model catalogue synced: %s", result)
    return result


async def list_models(
    *, models: CatalogueRepository, include_unavailable: bool = False
) -> list[ModelRead]:
    """The catalogue, by id; unavailable models only when asked for."""
    found = await models.all()
    return found if include_unavailable else [m for m in found if m.available]


async def models_by_id(
    *, models: CatalogueRepository, model_ids: Sequence[str]
) -> dict[str, ModelRead]:
    """The models with these ids, unavailable ones included."""
    wanted = set(model_ids)
    return {m.id: m for m in await models.all() if m.id in wanted}


def unknown_model(model_id: str) -> ModelRead:
    """A model the catalogue does not know (granted in log-only or off mode), by its id."""
    return ModelRead(id=model_id, name=model_id, available=False, synced_at=None)


async def update_model(
    *,
    models: CatalogueRepository,
    model_id: str,
    changes: ModelChanges,
    actor_id: uuid.UUID,
    reason: str | None,
) -> ModelUpdated | Failure:
    """Change a model's name, description or restriction, audited. Restricting a model leaves
    its active subscriptions active (their number is returned); new ones wait for approval.

    Failures: NOT_FOUND, VALIDATION_FAILED.
    """
    checks = (
        ("name", changes.name, inputs.MAX_ID_LENGTH),
        ("description", changes.description, MAX_DESCRIPTION_LENGTH),
        ("reason", reason, 1000),
    )
    for field, value, limit in checks:
        if value is not None:
            invalid = inputs.check_text(value, field=field, what=field, max_length=limit)
            if invalid is not None:
                return invalid
    updated = await models.update(model_id, changes, actor_id=actor_id, reason=reason)
    return updated if updated is not None else not_found(f"Model {model_id!r}")
