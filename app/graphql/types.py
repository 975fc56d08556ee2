"""The object types two domains share: a `Model` shows the caller's `Subscription` to it, and a
`Subscription` shows its `Model`. Both live here so neither domain module imports the other.

Both are plain attributes, set when the object is built, so that the fast executor completes
them with the rest of the object. The model of a subscription is always there; the caller's
subscription of a model is read only when the document selects `Model.subscription`
(`models_by_id`), elsewhere it is left unset (None): no field shows it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.enums import SubscriptionStatusEnum, api_value
from app.graphql.selections import selects
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
    subscription: SubscriptionType | None = strawberry.field(
        description="The caller's subscription to this model, if any."
    )

    @classmethod
    def from_read(
        cls, row: catalog.ModelRead, subscription: subscriptions.SubscriptionRead | None
    ) -> ModelType:
        """The model with the caller's subscription to it (None: none, or not selected)."""
        model = cls(
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
            subscription=None,
        )
        if subscription is not None:
            model.subscription = SubscriptionType.from_read(subscription, model)
        return model


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
    model: ModelType

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
    def from_read(cls, row: subscriptions.SubscriptionRead, model: ModelType) -> SubscriptionType:
        return cls(
            id=strawberry.ID(str(row.id)),
            model_id=strawberry.ID(row.model_id),
            status=api_value(SubscriptionStatusEnum, row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
            cancelled_at=row.cancelled_at,
            user_id=strawberry.ID(str(row.user_id)),
            model=model,
        )


async def models_by_id(info: Info, rows: Sequence[catalog.ModelRead]) -> dict[str, ModelType]:
    """The GraphQL models of these reads, by id, each converted once, each with the caller's
    subscription to it when the document selects `Model.subscription` (one statement for all
    of them, shared with every other field of the request through the loader)."""
    wanted = list(dict.fromkeys(row.id for row in rows))
    mine: dict[str, subscriptions.SubscriptionRead] = {}
    if wanted and selects(info, "Model", "subscription"):
        found = await info.context.loaders.my_subscription.load_many(wanted)
        mine = {model_id: s for model_id, s in zip(wanted, found, strict=True) if s is not None}
    converted: dict[str, ModelType] = {}
    for row in rows:
        if row.id not in converted:
            converted[row.id] = ModelType.from_read(row, mine.get(row.id))
    return converted
