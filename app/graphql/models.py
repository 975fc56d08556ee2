"""The model catalogue: `models`, `model` (the `Model` type is in `types`)."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.graphql.types import Model
from app.services import catalog


@strawberry.type
class ModelQuery:
    @strawberry.field(description="The model catalogue (public).")
    async def models(self, info: Info, include_unavailable: bool = False) -> list[Model]:
        rows = await catalog.list_models(
            resources=info.context.resources, include_unavailable=include_unavailable
        )
        return [Model.from_row(r) for r in rows]

    @strawberry.field(description="One model by id (ids may contain `/`).")
    async def model(self, info: Info, id: strawberry.ID) -> Model | None:
        row = await info.context.loaders.model.load(str(id))
        return Model.from_row(row) if row is not None else None
