"""The model catalogue: `models`, `model` (the `Model` type is in `types`)."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.graphql.types import ModelType, models_by_id
from app.services import catalog, subscriptions


@strawberry.type
class ModelQuery:
    @strawberry.field(description="The model catalogue (public).")
    async def models(self, info: Info, include_unavailable: bool = False) -> list[ModelType]:
        session = info.context.session
        if session is None:
            rows = await catalog.list_models(
                models=info.context.resources.catalogue, include_unavailable=include_unavailable
            )
            return [ModelType.from_read(r, None) for r in rows]  # no caller, no subscription
        # Signed in, the catalogue page shows the caller's subscription to every model: read
        # with the models in one statement.
        listed = await subscriptions.catalogue_for_session(
            subscriptions=info.context.resources.subscriptions,
            user_id=session.user_id,
            generation=session.generation,
            include_unavailable=include_unavailable,
        )
        return [ModelType.from_read(m, s) for m, s in listed]

    @strawberry.field(description="One model by id (ids may contain `/`).")
    async def model(self, info: Info, id: strawberry.ID) -> ModelType | None:
        row = await info.context.loaders.model.load(str(id))
        return None if row is None else (await models_by_id(info, [row]))[row.id]
