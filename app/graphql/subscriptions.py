"""Subscriptions: `subscriptions`, `subscriptionCreate`, `subscriptionCancel`; the approval
queue `subscriptionRequests` and administrators' decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.failures import Failure, not_found, validation
from app.graphql.api_keys import ApiKeyCreateError, ApiKeyCreateSuccess, api_key_types
from app.graphql.connections import PageInfo
from app.graphql.context import Info
from app.graphql.enums import SubscriptionStatusEnum
from app.graphql.errors import (
    AlreadySubscribedError,
    InvalidStateTransitionError,
    LitellmUnavailableError,
    NotFoundError,
    UserNotFoundLitellmError,
    ValidationError,
    not_in_result,
    query_refused,
    user_error,
)
from app.graphql.ids import parse_uuid
from app.graphql.permissions import IsAdmin, IsAdminReader, IsAuthenticated, own_or_readable
from app.graphql.types import SubscriptionType, models_by_id
from app.services import api_keys, subscriptions
from app.services.subscriptions import Deciding, Decision, RequestFilter, SubscriptionStatus


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
SubscriptionCancelError = NotFoundError | LitellmUnavailableError | InvalidStateTransitionError
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
class SubscriptionEdge:
    cursor: str
    node: SubscriptionType


@strawberry.type
class SubscriptionConnection:
    edges: list[SubscriptionEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class SubscriptionChangeSuccess:
    subscription: SubscriptionType


SubscriptionChangeError = (
    InvalidStateTransitionError | NotFoundError | LitellmUnavailableError | ValidationError
)
SubscriptionChangeResult = Annotated[
    SubscriptionChangeSuccess | SubscriptionChangeError,
    strawberry.union("SubscriptionChangeResult"),
]


@strawberry.type(description="The outcome of a bulk decision for one of the ids it named.")
class SubscriptionDecisionOutcome:
    subscription_id: strawberry.ID
    result: SubscriptionChangeResult


@strawberry.type(
    description="One outcome per id, in the order given: some may succeed while others fail."
)
class SubscriptionDecisionsSuccess:
    outcomes: list[SubscriptionDecisionOutcome]
    succeeded: int
    failed: int


SubscriptionApproveResult = Annotated[
    SubscriptionDecisionsSuccess | ValidationError, strawberry.union("SubscriptionApproveResult")
]
SubscriptionDenyResult = Annotated[
    SubscriptionDecisionsSuccess | ValidationError, strawberry.union("SubscriptionDenyResult")
]
SubscriptionRevertResult = Annotated[
    SubscriptionChangeSuccess | SubscriptionChangeError,
    strawberry.union("SubscriptionRevertResult"),
]
SubscriptionSuspendResult = Annotated[
    SubscriptionChangeSuccess | SubscriptionChangeError,
    strawberry.union("SubscriptionSuspendResult"),
]
SubscriptionReactivateResult = Annotated[
    SubscriptionChangeSuccess | SubscriptionChangeError,
    strawberry.union("SubscriptionReactivateResult"),
]


@strawberry.type
class SubscriptionQuery:
    @strawberry.field(
        description="Subscriptions of every user, oldest first, a page at a time: the approval "
        "queue with `status: PENDING` (administrators and read-only administrators).",
        permission_classes=[IsAuthenticated, IsAdminReader],
    )
    async def subscription_requests(
        self,
        info: Info,
        status: SubscriptionStatusEnum | None = None,
        model_id: strawberry.ID | None = None,
        user_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> SubscriptionConnection:
        owner = parse_uuid(user_id) if user_id is not None else None
        if user_id is not None and owner is None:
            raise query_refused(validation("userId is not a user id", field="userId"))
        found = await subscriptions.requests_page(
            subscriptions=info.context.resources.subscriptions,
            found_by=RequestFilter(
                status=SubscriptionStatus[status.name] if status is not None else None,
                model_id=str(model_id) if model_id is not None else None,
                user_id=owner,
            ),
            first=first,
            after=after,
        )
        if isinstance(found, Failure):
            raise query_refused(found)
        # Read with their models and users in the page's one statement.
        info.context.loaders.user.prime_many({e.node.user.id: e.node.user for e in found.edges})
        models = await models_by_id(info, [e.node.model for e in found.edges])
        edges = [
            SubscriptionEdge(
                cursor=e.cursor,
                node=SubscriptionType.from_read(e.node.subscription, models[e.node.model.id]),
            )
            for e in found.edges
        ]
        return SubscriptionConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=found.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=found.total,
        )

    @strawberry.field(
        description="The caller's subscriptions, newest first; admins may name another user."
    )
    async def subscriptions(
        self, info: Info, user_id: strawberry.ID | None = None
    ) -> list[SubscriptionType]:
        repository = info.context.resources.subscriptions
        listed = await own_or_readable(
            info,
            user_id,
            own=lambda user, generation: subscriptions.list_for_session(
                subscriptions=repository, user_id=user, generation=generation
            ),
            of_user=lambda owner: subscriptions.list_for_user(
                subscriptions=repository, user_id=owner
            ),
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
            return SubscriptionCreateSuccess(subscription=await _with_model(info, result))
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
        success = SubscriptionCreateSuccess(subscription=await _with_model(info, both.subscription))
        if isinstance(both.key, Failure):
            error = user_error(both.key)
            if not isinstance(error, ApiKeyCreateError):
                raise not_in_result(both.key)
            success.key_error = error
        else:
            success.api_key = ApiKeyCreateSuccess(
                api_key=(await api_key_types(info, [both.key.api_key]))[0], secret=both.key.secret
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
        return SubscriptionCancelSuccess(subscription=await _with_model(info, result))


def _deciding(info: Info) -> Deciding:
    resources = info.context.resources
    return Deciding(
        subscriptions=resources.subscriptions,
        keys=resources.api_keys,
        users=resources.users,
        litellm=resources.litellm,
    )


async def _change_result(
    info: Info, result: subscriptions.SubscriptionRead | Failure
) -> SubscriptionChangeResult:
    if isinstance(result, Failure):
        error = user_error(result)
        if isinstance(error, SubscriptionChangeError):
            return error
        raise not_in_result(result)
    return SubscriptionChangeSuccess(subscription=await _with_model(info, result))


async def _decide_many(
    info: Info, decision: Decision, ids: list[strawberry.ID], reason: str | None
) -> SubscriptionDecisionsSuccess | ValidationError:
    admin = await info.context.user()
    outcomes = await subscriptions.decide_many(
        _deciding(info),
        decision,
        subscription_ids=[str(i) for i in ids],
        actor_id=admin.id,
        reason=reason,
    )
    if isinstance(outcomes, Failure):
        error = user_error(outcomes)
        if isinstance(error, ValidationError):
            return error
        raise not_in_result(outcomes)
    results = [
        SubscriptionDecisionOutcome(subscription_id=i, result=await _change_result(info, o))
        for i, o in zip(ids, outcomes, strict=True)
    ]
    failed = sum(isinstance(o, Failure) for o in outcomes)
    return SubscriptionDecisionsSuccess(
        outcomes=results, succeeded=len(outcomes) - failed, failed=failed
    )


async def _decide(
    info: Info, decision: Decision, id: strawberry.ID, reason: str | None
) -> SubscriptionChangeResult:
    admin = await info.context.user()
    subscription_id = parse_uuid(id)
    return await _change_result(
        info,
        not_found("Subscription")
        if subscription_id is None
        else await subscriptions.decide(
            _deciding(info),
            decision,
            subscription_id=subscription_id,
            actor_id=admin.id,
            reason=reason,
        ),
    )


@strawberry.type
class SubscriptionDecisionMutation:
    @strawberry.mutation(
        description="Approve PENDING subscriptions (administrators): one outcome per id.",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def subscription_approve(
        self, info: Info, ids: list[strawberry.ID], reason: str | None = None
    ) -> SubscriptionApproveResult:
        return await _decide_many(info, subscriptions.APPROVE, ids, reason)

    @strawberry.mutation(
        description="Deny PENDING subscriptions (administrators): one outcome per id.",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def subscription_deny(
        self, info: Info, ids: list[strawberry.ID], reason: str | None = None
    ) -> SubscriptionDenyResult:
        return await _decide_many(info, subscriptions.DENY, ids, reason)

    @strawberry.mutation(
        description="Put an approved or denied subscription back to PENDING (administrators); "
        "an approved one first leaves the user's keys.",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def subscription_revert(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> SubscriptionRevertResult:
        return await _decide(info, subscriptions.REVERT, id, reason)

    @strawberry.mutation(
        description="Suspend an ACTIVE subscription (administrators): the model first leaves "
        "the user's keys in LiteLLM; a key left with no model is blocked.",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def subscription_suspend(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> SubscriptionSuspendResult:
        return await _decide(info, subscriptions.SUSPEND, id, reason)

    @strawberry.mutation(
        description="Reactivate a SUSPENDED subscription (administrators): the model comes "
        "back to the user's keys, and keys it unblocks.",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def subscription_reactivate(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> SubscriptionReactivateResult:
        return await _decide(info, subscriptions.REACTIVATE, id, reason)


async def _with_model(info: Info, subscription: subscriptions.SubscriptionRead) -> SubscriptionType:
    model = await info.context.loaders.model.load(subscription.model_id)
    assert model is not None, "a subscription's model is never deleted"
    return SubscriptionType.from_read(subscription, (await models_by_id(info, [model]))[model.id])
