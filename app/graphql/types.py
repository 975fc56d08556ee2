"""The object types two domains share: a `Model` shows the caller's `Subscription` to it, and a
`Subscription` shows its `Model`. Both live here so neither domain module imports the other."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.enums import SubscriptionStatusEnum, api_value
from app.graphql.users import UserType
from app.services import catalog, subscriptions


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
    async def subscription(self, info: Info) -> SubscriptionType | None:
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


@strawberry.type(
    name="SubscriptionStatusChange",
    description="One step of a subscription's history; `from` is null for its creation.",
)
class SubscriptionStatusChangeType:
    from_status: SubscriptionStatusEnum | None = strawberry.field(name="from")
    to_status: SubscriptionStatusEnum = strawberry.field(name="to")
    actor_id: strawberry.ID | None = strawberry.field(
        description="Who made the change: the subscriber, an administrator, or null for the "
        "service itself."
    )
    reason: str | None
    at: datetime

    @classmethod
    def from_read(cls, row: subscriptions.StatusChangeRead) -> SubscriptionStatusChangeType:
        return cls(
            from_status=(
                api_value(SubscriptionStatusEnum, row.from_status)
                if row.from_status is not None
                else None
            ),
            to_status=api_value(SubscriptionStatusEnum, row.to_status),
            actor_id=strawberry.ID(str(row.actor_id)) if row.actor_id is not None else None,
            reason=row.reason,
            at=row.created_at,
        )


@strawberry.type(name="Subscription")
class SubscriptionType:
    id: strawberry.ID
    model_id: strawberry.ID
    status: SubscriptionStatusEnum
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    user_id: strawberry.ID

    @strawberry.field
    async def model(self, info: Info) -> ModelType:
        row = await info.context.loaders.model.load(str(self.model_id))
        assert row is not None, "a subscription's model is never deleted"
        return ModelType.from_read(row)

    @strawberry.field(description="The subscriber.")
    async def user(self, info: Info) -> UserType:
        row = await info.context.loaders.user.load(uuid.UUID(str(self.user_id)))
        assert row is not None, "a subscription goes with its user"
        return UserType.from_read(row)

    @strawberry.field(description="Every change of its status, oldest first, with who and why.")
    async def history(self, info: Info) -> list[SubscriptionStatusChangeType]:
        rows = await info.context.loaders.history.load(uuid.UUID(str(self.id)))
        return [SubscriptionStatusChangeType.from_read(r) for r in rows]

    @classmethod
    def from_read(cls, row: subscriptions.SubscriptionRead) -> SubscriptionType:
        return cls(
            id=strawberry.ID(str(row.id)),
            model_id=strawberry.ID(row.model_id),
            status=api_value(SubscriptionStatusEnum, row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
            cancelled_at=row.cancelled_at,
            user_id=strawberry.ID(str(row.user_id)),
        )
