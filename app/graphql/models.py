"""The model catalogue: `models`, `model`, `modelUpdate` (the `Model` type is in `types`)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.failures import Failure
from app.graphql.context import Info
from app.graphql.errors import NotFoundError, ValidationError, not_in_result, user_error
from app.graphql.permissions import IsAdmin, IsAuthenticated
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


@strawberry.input
class ModelUpdateInput:
    restricted_access: bool | None = strawberry.field(
        default=None,
        description="true: new subscriptions wait for an administrator's approval; the "
        "active ones stay active.",
    )
    name: str | None = None
    description: str | None = None
    reason: str | None = None


@strawberry.type
class ModelUpdateSuccess:
    model: ModelType
    active_subscriptions_kept: int = strawberry.field(
        description="The model's active subscriptions, left active by the change."
    )


ModelUpdateError = NotFoundError | ValidationError
ModelUpdateResult = Annotated[
    ModelUpdateSuccess | ModelUpdateError, strawberry.union("ModelUpdateResult")
]


@strawberry.type
class ModelMutation:
    @strawberry.mutation(
        description="Change a model's restriction, name or description (administrators).",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def model_update(
        self, info: Info, id: strawberry.ID, input: ModelUpdateInput
    ) -> ModelUpdateResult:
        admin = await info.context.user()
        result = await catalog.update_model(
            models=info.context.resources.catalogue,
            model_id=str(id),
            changes=catalog.ModelChanges(
                name=input.name,
                description=input.description,
                restricted_access=input.restricted_access,
            ),
            actor_id=admin.id,
            reason=input.reason,
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ModelUpdateError):
                return error
            raise not_in_result(result)
        return ModelUpdateSuccess(
            model=(await models_by_id(info, [result.model]))[result.model.id],
            active_subscriptions_kept=result.active_subscriptions,
        )
