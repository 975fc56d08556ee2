"""The model catalogue: `models`, `model` (the `Model` type is in `types`)."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.graphql.types import ModelType
from app.services import catalog


@strawberry.type
class ModelQuery:
    @strawberry.field(description="The model catalogue (public).")
    async def models(self, info: Info, include_unavailable: bool = False) -> list[ModelType]:
        rows = await catalog.list_models(
            models=info.context.resources.catalogue, include_unavailable=include_unavailable
        )
        return [ModelType.from_read(r) for r in rows]

    @strawberry.field(description="One model by id (ids may contain `/`).")
    async def model(self, info: Info, id: strawberry.ID) -> ModelType | None:
        row = await info.context.loaders.model.load(str(id))
        return ModelType.from_read(row) if row is not None else None
