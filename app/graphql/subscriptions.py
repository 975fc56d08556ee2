"""Subscriptions: `subscriptions`, `subscriptionCreate`, `subscriptionCancel`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.db import models as db
from app.failures import Failure, not_found
from app.graphql.context import Info
from app.graphql.errors import (
    AlreadySubscribedError,
    LitellmUnavailableError,
    NotFoundError,
    UserNotFoundLitellmError,
    ValidationError,
    user_error,
)
from app.graphql.ids import parse_uuid
from app.graphql.permissions import CanReadUser, IsAuthenticated
from app.graphql.types import Subscription
from app.services import subscriptions


@strawberry.input
class SubscriptionCreateInput:
    model_id: strawberry.ID


@strawberry.type
class SubscriptionCreateSuccess:
    subscription: Subscription


@strawberry.type
class SubscriptionCancelSuccess:
    subscription: Subscription


SubscriptionCreateResult = Annotated[
    SubscriptionCreateSuccess
    | AlreadySubscribedError
    | NotFoundError
    | LitellmUnavailableError
    | UserNotFoundLitellmError
    | ValidationError,
    strawberry.union("SubscriptionCreateResult"),
]
SubscriptionCancelResult = Annotated[
    SubscriptionCancelSuccess | NotFoundError | LitellmUnavailableError,
    strawberry.union("SubscriptionCancelResult"),
]


@strawberry.type
class SubscriptionQuery:
    @strawberry.field(
        description="The caller's subscriptions, newest first; admins may name another user.",
        permission_classes=[IsAuthenticated, CanReadUser],
    )
    async def subscriptions(
        self, info: Info, user_id: strawberry.ID | None = None
    ) -> list[Subscription]:
        owner = await info.context.owner(user_id)
        if owner is None:
            return []
        rows = await subscriptions.list_for_user(resources=info.context.resources, user_id=owner)
        return [Subscription.from_row(r) for r in rows]


@strawberry.type
class SubscriptionMutation:
    @strawberry.mutation(
        description="Subscribe to a model (PENDING approval when the model is restricted).",
        permission_classes=[IsAuthenticated],
    )
    async def subscription_create(
        self, info: Info, input: SubscriptionCreateInput
    ) -> SubscriptionCreateResult:
        user = await info.context.user()
        result = await subscriptions.create(
            resources=info.context.resources, user_id=user.id, model_id=str(input.model_id)
        )
        if isinstance(result, Failure):
            return user_error(result)  # type: ignore[return-value]
        return SubscriptionCreateSuccess(subscription=Subscription.from_row(result))

    @strawberry.mutation(
        description="Cancel a subscription; the model is first removed from the caller's keys.",
        permission_classes=[IsAuthenticated],
    )
    async def subscription_cancel(self, info: Info, id: strawberry.ID) -> SubscriptionCancelResult:
        user = await info.context.user()
        subscription_id = parse_uuid(id)
        result: db.Subscription | Failure = (
            not_found("Subscription")
            if subscription_id is None
            else await subscriptions.cancel(
                resources=info.context.resources, user_id=user.id, subscription_id=subscription_id
            )
        )
        if isinstance(result, Failure):
            return user_error(result)  # type: ignore[return-value]
        return SubscriptionCancelSuccess(subscription=Subscription.from_row(result))
