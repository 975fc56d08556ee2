"""The model catalogue's table (`models`): LiteLLM's deployments mirrored locally."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement
from sqlmodel import SQLModel, col, select

from app.db import reader
from app.db.engine import SessionFactory
from app.db.models import Model, Subscription, SubscriptionStatus, utcnow
from app.db.reader import Reader, as_text
from app.db.repositories import audit, json_list, named


@dataclass(frozen=True, slots=True)
class ModelRead:
    """A model of the catalogue."""

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
FIELDS = tuple(f.name for f in dataclasses.fields(ModelRead))


def model_columns(prefix: str = "") -> tuple[ColumnElement[Any], ...]:
    """The columns `model_read` takes, each labelled `prefix` + its field's name (a statement
    that also selects another table's `id` or `name` tells them apart by the prefix)."""
    return tuple(
        (as_text(MODELS.c[name]) if name == "capabilities" else MODELS.c[name]).label(prefix + name)
        for name in FIELDS
    )


def model_read(row: Mapping[str, Any], prefix: str = "") -> ModelRead:
    """The model in a row's `model_columns(prefix)`, by column name."""
    return model_of([row[prefix + name] for name in FIELDS])


def model_of(values: Sequence[Any]) -> ModelRead:
    """The model from the values of `model_columns()`, in their order (`FIELDS`)."""
    (
        id_,
        name,
        provider,
        description,
        context_length,
        input_cost_per_token,
        output_cost_per_token,
        capabilities,
        restricted_access,
        available,
        synced_at,
    ) = values
    return ModelRead(
        id=id_,
        name=name,
        provider=provider,
        description=description,
        context_length=context_length,
        input_cost_per_token=input_cost_per_token,
        output_cost_per_token=output_cost_per_token,
        capabilities=json_list(capabilities),
        restricted_access=restricted_access,
        available=available,
        synced_at=synced_at,
    )


# The catalogue is LiteLLM's deployments: small enough to read whole, in one statement.
CATALOGUE = reader.statement(
    "catalogue.catalogue", sa.select(*model_columns()).order_by(MODELS.c.id)
)


@dataclass(frozen=True, slots=True)
class ModelSync:
    """What LiteLLM says of a model it serves."""

    provider: str | None
    context_length: int | None
    input_cost_per_token: float | None
    output_cost_per_token: float | None
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SyncCounts:
    added: int
    updated: int
    unavailable: int


@dataclass(frozen=True, slots=True)
class ModelChanges:
    """What an administrator changes on a model; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    restricted_access: bool | None = None


@dataclass(frozen=True, slots=True)
class ModelUpdated:
    model: ModelRead
    # The model's ACTIVE subscriptions, which a change of its restriction leaves active.
    active_subscriptions: int


def _from_table(row: Model) -> ModelRead:
    return ModelRead(
        id=row.id,
        name=row.name,
        provider=row.provider,
        description=row.description,
        context_length=row.context_length,
        input_cost_per_token=row.input_cost_per_token,
        output_cost_per_token=row.output_cost_per_token,
        capabilities=tuple(row.capabilities),
        restricted_access=row.restricted_access,
        available=row.available,
        synced_at=row.synced_at,
    )


def _editable(row: Model) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "restricted_access": row.restricted_access,
    }


class CatalogueRepository:
    def __init__(self, *, sessions: SessionFactory, reader: Reader) -> None:
        self._sessions = sessions
        self._reader = reader

    async def all(self) -> list[ModelRead]:
        """Every model, unavailable ones included, by id."""
        return [model_read(row) for row in named(CATALOGUE, await self._reader.all(CATALOGUE, {}))]

    async def get(self, model_id: str) -> ModelRead | None:
        """One model, whether available or not."""
        async with self._sessions() as session:
            row = await session.get(Model, model_id)
        return _from_table(row) if row is not None else None

    async def update(
        self, model_id: str, changes: ModelChanges, *, actor_id: uuid.UUID, reason: str | None
    ) -> ModelUpdated | None:
        """Apply an administrator's changes, audited with the values before and after; None
        when there is no such model."""
        async with self._sessions() as session:
            row = await session.get(Model, model_id, with_for_update=True)
            if row is None:
                return None
            before = _editable(row)
            if changes.name is not None:
                row.name = changes.name
            if changes.description is not None:
                row.description = changes.description
            if changes.restricted_access is not None:
                row.restricted_access = changes.restricted_access
            row.updated_at = utcnow()
            active = (
                await session.exec(
                    select(sa.func.count())
                    .select_from(Subscription)
                    .where(col(Subscription.model_id) == model_id)
                    .where(col(Subscription.status) == SubscriptionStatus.ACTIVE)
                )
            ).one()
            audit.record(
                session,
                actor_id=actor_id,
                action="model.update",
                resource_type="model",
                resource_id=model_id,
                details={
                    "before": before,
                    "after": _editable(row),
                    "reason": reason,
                    "active_subscriptions": active,
                },
            )
            await session.commit()
            return ModelUpdated(_from_table(row), active)

    async def available_ids(self) -> set[str]:
        async with self._sessions() as session:
            return set((await session.exec(select(Model.id).where(col(Model.available)))).all())

    async def apply_sync(
        self, served: Mapping[str, ModelSync], *, retire: Collection[str], now: datetime
    ) -> SyncCounts:
        """Record what LiteLLM serves (new models added), and mark `retire` unavailable."""
        async with self._sessions() as session:
            existing = {m.id: m for m in (await session.exec(select(Model))).all()}
            added = updated = unavailable = 0
            for model_id, synced in served.items():
                model = existing.get(model_id)
                if model is None:
                    model = Model(id=model_id, name=model_id)
                    session.add(model)
                    added += 1
                else:
                    updated += 1
                model.provider = synced.provider
                model.context_length = synced.context_length
                model.input_cost_per_token = synced.input_cost_per_token
                model.output_cost_per_token = synced.output_cost_per_token
                model.capabilities = list(synced.capabilities)
                model.available = True
                model.synced_at = now
                model.updated_at = now
            for model_id, model in existing.items():
                if model_id in retire and model.available:
                    model.available = False
                    model.updated_at = now
                    unavailable += 1
            await session.commit()
        return SyncCounts(added=added, updated=updated, unavailable=unavailable)
