"""The model catalogue: the `Model` type, `models`, `model`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.context import Info
from app.services import catalog

if TYPE_CHECKING:
    from app.graphql.subscriptions import SubscriptionType


@strawberry.type(
    name="Model", description="A model served by LiteLLM; `id` is LiteLLM's model name."
)
class ModelType:
    id: strawberry.ID
    name: str
    provider: str | None
    description: str | None
    context_length: int | None
    input_cost_per_token: float | None
    output_cost_per_token: float | None
    capabilities: list[str]
    restricted_access: bool
    available: bool = strawberry.field(
        description="False once LiteLLM stopped serving it; it stays listed for history."
    )
    synced_at: datetime | None

    @strawberry.field(description="The caller's subscription to this model, if any.")
    async def subscription(
        self, info: Info
    ) -> Annotated[SubscriptionType, strawberry.lazy("app.graphql.subscriptions")] | None:
        from app.graphql.subscriptions import SubscriptionType

        found = await info.context.loaders.my_subscription.load(str(self.id))
        return SubscriptionType.from_read(found) if found is not None else None

    @classmethod
    def from_read(cls, row: catalog.ModelRead) -> ModelType:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            provider=row.provider,
            description=row.description,
            context_length=row.context_length,
            input_cost_per_token=row.input_cost_per_token,
            output_cost_per_token=row.output_cost_per_token,
            capabilities=list(row.capabilities),
            restricted_access=row.restricted_access,
            available=row.available,
            synced_at=row.synced_at,
        )


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
