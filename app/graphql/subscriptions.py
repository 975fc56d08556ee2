"""Subscriptions: `subscriptions`, `subscriptionCreate`, `subscriptionCancel`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.failures import Failure, not_found
from app.graphql.context import Info
from app.graphql.errors import (
    AlreadySubscribedError,
    LitellmUnavailableError,
    NotFoundError,
    UserNotFoundLitellmError,
    ValidationError,
    not_in_result,
    user_error,
)
from app.graphql.ids import parse_uuid
from app.graphql.permissions import CanReadUser, IsAuthenticated
from app.graphql.types import SubscriptionType, models_by_id
from app.services import subscriptions


@strawberry.input
class SubscriptionCreateInput:
    model_id: strawberry.ID


@strawberry.type
class SubscriptionCreateSuccess:
    subscription: SubscriptionType


@strawberry.type
class SubscriptionCancelSuccess:
    subscription: SubscriptionType


SubscriptionCreateError = (
    AlreadySubscribedError
    | NotFoundError
    | LitellmUnavailableError
    | UserNotFoundLitellmError
    | ValidationError
)
SubscriptionCreateResult = Annotated[
    SubscriptionCreateSuccess | SubscriptionCreateError,
    strawberry.union("SubscriptionCreateResult"),
]
SubscriptionCancelError = NotFoundError | LitellmUnavailableError
SubscriptionCancelResult = Annotated[
    SubscriptionCancelSuccess | SubscriptionCancelError,
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
    ) -> list[SubscriptionType]:
        owner = await info.context.owner(user_id)
        if owner is None:
            return []
        listed = await subscriptions.list_for_user(
            subscriptions=info.context.resources.subscriptions, user_id=owner
        )
        # Read with their models in one statement.
        models = await models_by_id(info, [m for _, m in listed])
        return [SubscriptionType.from_read(s, models[m.id]) for s, m in listed]


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
        resources = info.context.resources
        result = await subscriptions.create(
            subscriptions=resources.subscriptions,
            models=resources.catalogue,
            ensure_litellm_user=resources.user_sync.ensure,
            user_id=user.id,
            model_id=str(input.model_id),
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, SubscriptionCreateError):
                return error
            raise not_in_result(result)
        return SubscriptionCreateSuccess(subscription=await _with_model(info, result))

    @strawberry.mutation(
        description="Cancel a subscription; the model is first removed from the caller's keys.",
        permission_classes=[IsAuthenticated],
    )
    async def subscription_cancel(self, info: Info, id: strawberry.ID) -> SubscriptionCancelResult:
        user = await info.context.user()
        subscription_id = parse_uuid(id)
        resources = info.context.resources
        result = (
            not_found("Subscription")
            if subscription_id is None
            else await subscriptions.cancel(
                subscriptions=resources.subscriptions,
                keys=resources.api_keys,
                litellm=resources.litellm,
                user_id=user.id,
                subscription_id=subscription_id,
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, SubscriptionCancelError):
                return error
            raise not_in_result(result)
        return SubscriptionCancelSuccess(subscription=await _with_model(info, result))


async def _with_model(info: Info, subscription: subscriptions.SubscriptionRead) -> SubscriptionType:
    model = await info.context.loaders.model.load(subscription.model_id)
    assert model is not None, "a subscription's model is never deleted"
    return SubscriptionType.from_read(subscription, (await models_by_id(info, [model]))[model.id])
