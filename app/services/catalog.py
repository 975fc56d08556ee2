"""The model catalogue: LiteLLM's deployments mirrored locally, served even when LiteLLM is down."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from app.db.models import Model, utcnow
from app.resources import Resources

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogSync:
    added: int
    updated: int
    unavailable: int


async def sync_models(*, resources: Resources) -> CatalogSync:
    """Mirror LiteLLM's /model/info; models it no longer serves become unavailable.

    Raises LiteLLMError when LiteLLM cannot be read (the last catalogue stays as it was).
    """
    deployments = await resources.litellm.model_info()
    now = utcnow()
    seen = {d.model_name: d for d in deployments}  # several deployments may share a name
    async with resources.sessions() as session:
        existing = {m.id: m for m in (await session.exec(select(Model))).all()}
        added = updated = unavailable = 0
        for model_id, deployment in seen.items():
            model = existing.get(model_id)
            if model is None:
                model = Model(id=model_id, name=model_id)
                session.add(model)
                added += 1
            else:
                updated += 1
            model.provider = deployment.provider
            model.context_length = deployment.max_tokens
            model.input_cost_per_token = deployment.input_cost_per_token
            model.output_cost_per_token = deployment.output_cost_per_token
            model.capabilities = list(deployment.capabilities)
            model.available = True
            model.synced_at = now
            model.updated_at = now
        for model_id, model in existing.items():
            if model_id not in seen and model.available:
                model.available = False
                model.updated_at = now
                unavailable += 1
        await session.commit()
    resources.litellm.monitor.last_catalog_sync_at = now
    result = CatalogSync(added=added, updated=updated, unavailable=unavailable)
    log.info("model catalogue synced: %s", result)
    return result


async def list_models(*, resources: Resources, include_unavailable: bool = False) -> list[Model]:
    """The catalogue, by id; unavailable models only when asked for."""
    query = select(Model).order_by(col(Model.id))
    if not include_unavailable:
        query = query.where(col(Model.available))
    async with resources.reads() as session:
        return list((await session.exec(query)).all())


async def models_by_id(*, resources: Resources, model_ids: Sequence[str]) -> dict[str, Model]:
    """The models with these ids (one query), unavailable ones included."""
    async with resources.reads() as session:
        rows = await session.exec(select(Model).where(col(Model.id).in_(model_ids)))
        return {m.id: m for m in rows.all()}
