"""Subscriptions: `subscriptions`, `subscriptionCreate`, `subscriptionCancel`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.failures import Failure, not_found
from app.graphql.api_keys import ApiKeyCreateError, ApiKeyCreateSuccess, api_key_types
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
from app.graphql.types import SubscriptionType
from app.services import api_keys, subscriptions


@strawberry.input(description="A key for the subscribed model, made in the same step.")
class SubscriptionKeyInput:
    name: str
    expires_at: datetime | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None


@strawberry.input
class SubscriptionCreateInput:
    model_id: strawberry.ID
    create_key: SubscriptionKeyInput | None = None


SubscriptionKeyError = Annotated[ApiKeyCreateError, strawberry.union("SubscriptionKeyError")]


@strawberry.type
class SubscriptionCreateSuccess:
    subscription: SubscriptionType
    api_key: ApiKeyCreateSuccess | None = strawberry.field(
        default=None, description="The key asked for with `createKey` (its secret shown once)."
    )
    key_error: SubscriptionKeyError | None = strawberry.field(
        default=None,
        description="Why the key asked for could not be made; the subscription stands.",
    )


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


def _create_error(failure: Failure) -> SubscriptionCreateError:
    error = user_error(failure)
    if isinstance(error, SubscriptionCreateError):
        return error
    raise not_in_result(failure)


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
        # Read with their models in one statement, handed to `Subscription.model`'s loader.
        info.context.loaders.model.prime_many({m.id: m for _, m in listed})
        return [SubscriptionType.from_read(s) for s, _ in listed]


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
        if input.create_key is None:
            result = await subscriptions.create(
                subscriptions=resources.subscriptions,
                models=resources.catalogue,
                ensure_litellm_user=resources.user_sync.ensure,
                user_id=user.id,
                model_id=str(input.model_id),
            )
            if isinstance(result, Failure):
                return _create_error(result)
            return SubscriptionCreateSuccess(subscription=SubscriptionType.from_read(result))
        key = input.create_key
        both = await subscriptions.create_with_key(
            subscriptions=resources.subscriptions,
            models=resources.catalogue,
            keys=resources.api_keys,
            litellm=resources.litellm,
            ensure_litellm_user=resources.user_sync.ensure,
            max_active_keys=resources.settings.max_active_keys_per_user,
            policy=api_keys.KeyPolicy.from_settings(resources.settings),
            user_id=user.id,
            model_id=str(input.model_id),
            key=api_keys.NewApiKey(
                name=key.name,
                model_ids=(),
                expires_at=key.expires_at,
                max_budget=key.max_budget,
                tpm_limit=key.tpm_limit,
                rpm_limit=key.rpm_limit,
            ),
        )
        if isinstance(both, Failure):
            return _create_error(both)
        success = SubscriptionCreateSuccess(
            subscription=SubscriptionType.from_read(both.subscription)
        )
        if isinstance(both.key, Failure):
            error = user_error(both.key)
            if not isinstance(error, ApiKeyCreateError):
                raise not_in_result(both.key)
            success.key_error = error
        else:
            success.api_key = ApiKeyCreateSuccess(
                api_key=api_key_types([both.key.api_key])[0], secret=both.key.secret
            )
        return success

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
        return SubscriptionCancelSuccess(subscription=SubscriptionType.from_read(result))
