"""The model catalogue: LiteLLM's deployments mirrored locally, served even when LiteLLM is down."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

from app.db import reader
from app.db.models import Model, utcnow
from app.db.reader import as_text
from app.resources import Resources
from app.services import safety

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogSync:
    added: int
    updated: int
    unavailable: int


async def sync_models(*, resources: Resources) -> CatalogSync:
    """Mirror LiteLLM's /model/info; models it no longer serves become unavailable (unless the
    safety valve holds that change).

    Raises LiteLLMError when LiteLLM cannot be read (the last catalogue stays as it was).
    """
    deployments = await resources.litellm.model_info()
    now = utcnow()
    seen = {d.model_name: d for d in deployments}  # several deployments may share a name
    async with resources.sessions() as session:
        available = set((await session.exec(select(Model.id).where(col(Model.available)))).all())
    # An empty or wrong LiteLLM must not retire the whole catalogue: the safety valve decides.
    retire = await safety.permitted(
        resources=resources,
        kind=safety.HoldKind.RETIRE_MODELS,
        proposed=available - seen.keys(),
        total=len(available),
    )
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
            if model_id in retire and model.available:
                model.available = False
                model.updated_at = now
                unavailable += 1
        await session.commit()
    resources.litellm.monitor.last_catalog_sync_at = now
    result = CatalogSync(added=added, updated=updated, unavailable=unavailable)
    log.info("model catalogue synced: %s", result)
    return result


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """A model as the catalogue's readers see it."""

    id: str
    name: str
    provider: str | None = None
    description: str | None = None
    context_length: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    capabilities: tuple[str, ...] = ()
    restricted_access: bool = False
    available: bool = True
    synced_at: datetime | None = None


MODELS = SQLModel.metadata.tables["models"]
_FIELDS = tuple(f.name for f in dataclasses.fields(CatalogModel))
# What a statement selects for `model_from_row`, after any columns of its own.
MODEL_COLUMNS = tuple(as_text(MODELS.c[f]) if f == "capabilities" else MODELS.c[f] for f in _FIELDS)
# The catalogue is LiteLLM's deployments: small enough to read whole, in one statement.
_CATALOGUE = reader.statement("catalog.catalogue", sa.select(*MODEL_COLUMNS).order_by(MODELS.c.id))


def model_from_row(values: Sequence[Any]) -> CatalogModel:
    """The model in a row's MODEL_COLUMNS."""
    fields = dict(zip(_FIELDS, values, strict=True))
    fields["capabilities"] = tuple(orjson.loads(fields["capabilities"]))
    return CatalogModel(**fields)


async def list_models(
    *, resources: Resources, include_unavailable: bool = False
) -> list[CatalogModel]:
    """The catalogue, by id; unavailable models only when asked for."""
    models = await _catalogue(resources)
    return models if include_unavailable else [m for m in models if m.available]


async def models_by_id(
    *, resources: Resources, model_ids: Sequence[str]
) -> dict[str, CatalogModel]:
    """The models with these ids, unavailable ones included."""
    wanted = set(model_ids)
    return {m.id: m for m in await _catalogue(resources) if m.id in wanted}


async def _catalogue(resources: Resources) -> list[CatalogModel]:
    return [model_from_row(row) for row in await resources.reader.all(_CATALOGUE, {})]
