"""The `User` type, the `me` query and the administrators' `users` list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from app.auth.session import SESSION_COOKIE
from app.failures import Failure, not_found
from app.graphql.connections import PageInfo
from app.graphql.context import Info
from app.graphql.enums import ErrorCode, LitellmSyncStatusEnum, api_value
from app.graphql.errors import (
    LitellmUnavailableError,
    NotFoundError,
    UserNotFoundLitellmError,
    ValidationError,
    not_in_result,
    query_refused,
    user_error,
)
from app.graphql.ids import parse_uuid
from app.graphql.permissions import IsAdmin, IsAdminReader, IsAuthenticated
from app.services import spend, users
from app.services.users import AccountChanges, UserFilter


@strawberry.type(name="Budget", description="A user's budget and what they have spent of it.")
class BudgetType:
    spend: float | None = strawberry.field(
        description="What LiteLLM reported as spent, as of `syncedAt` (null: not synced yet)."
    )
    max_budget: float
    remaining: float | None
    reset_at: datetime | None = strawberry.field(description="When LiteLLM resets the spend.")
    synced_at: datetime | None = strawberry.field(
        description="When `spend` was read from LiteLLM: how old it is."
    )


@strawberry.type(name="User")
class UserType:
    id: strawberry.ID
    username: str
    email: str
    full_name: str | None
    roles: list[str]
    litellm_sync_status: LitellmSyncStatusEnum
    litellm_sync_error: str | None
    active: bool = strawberry.field(description="False once an administrator deactivated it.")
    max_budget: float
    tpm_limit: int
    rpm_limit: int

    @classmethod
    def from_read(cls, user: users.UserRead) -> UserType:
        return cls(
            id=strawberry.ID(str(user.id)),
            username=user.username,
            email=user.email,
            full_name=user.full_name,
            roles=list(user.roles),
            litellm_sync_status=api_value(LitellmSyncStatusEnum, user.sync_status),
            litellm_sync_error=user.sync_error,
            active=user.is_active,
            max_budget=user.max_budget,
            tpm_limit=user.tpm_limit,
            rpm_limit=user.rpm_limit,
        )

    @strawberry.field(description="The budget and its spend, as last synced from LiteLLM.")
    async def budget(self, info: Info) -> BudgetType | None:
        found = await spend.budget(users=info.context.resources.users, user_id=uuid.UUID(self.id))
        if found is None:
            return None
        return BudgetType(
            spend=found.spend,
            max_budget=found.max_budget,
            remaining=found.remaining,
            reset_at=found.reset_at,
            synced_at=found.synced_at,
        )


@strawberry.type
class UserEdge:
    cursor: str
    node: UserType


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input
class UserFilterInput:
    search: str | None = strawberry.field(
        default=None, description="Part of the username, e-mail address or full name, any case."
    )
    sync_status: LitellmSyncStatusEnum | None = None
    role: str | None = None
    active: bool | None = None


@strawberry.input
class UserUpdateInput:
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    active: bool | None = strawberry.field(
        default=None,
        description="false ends the user's sessions and blocks their keys; true lifts both.",
    )
    reason: str | None = None


@strawberry.type
class UserUpdateSuccess:
    user: UserType


UserUpdateError = (
    NotFoundError | ValidationError | LitellmUnavailableError | UserNotFoundLitellmError
)
UserUpdateResult = Annotated[
    UserUpdateSuccess | UserUpdateError, strawberry.union("UserUpdateResult")
]


@strawberry.type
class UserSyncRetrySuccess:
    user: UserType


UserSyncRetryError = NotFoundError | LitellmUnavailableError | UserNotFoundLitellmError
UserSyncRetryResult = Annotated[
    UserSyncRetrySuccess | UserSyncRetryError, strawberry.union("UserSyncRetryResult")
]


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user, or null when anonymous.")
    async def me(self, info: Info) -> UserType | None:
        # The request's one read of the signed-in user is the whole account.
        signed_in = await info.context.current_user()
        return UserType.from_read(signed_in.user) if signed_in is not None else None

    @strawberry.field(
        description="Users by username, a page at a time (administrators and read-only "
        "administrators).",
        permission_classes=[IsAuthenticated, IsAdminReader],
    )
    async def users(
        self,
        info: Info,
        filter: UserFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> UserConnection:
        given = filter or UserFilterInput()
        found = await users.page(
            users=info.context.resources.users,
            found_by=UserFilter(
                search=given.search,
                sync_status=(
                    users.SyncStatus[given.sync_status.name] if given.sync_status else None
                ),
                role=given.role,
                active=given.active,
            ),
            first=first,
            after=after,
        )
        if isinstance(found, Failure):
            raise query_refused(found)
        edges = [UserEdge(cursor=e.cursor, node=UserType.from_read(e.node)) for e in found.edges]
        return UserConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=found.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=found.total,
        )


@strawberry.type
class LitellmSyncRetrySuccess:
    user: UserType


LitellmSyncRetryError = LitellmUnavailableError | UserNotFoundLitellmError
LitellmSyncRetryResult = Annotated[
    LitellmSyncRetrySuccess | LitellmSyncRetryError, strawberry.union("LitellmSyncRetryResult")
]


@strawberry.type
class SignOutEverywhereSuccess:
    user: UserType


SignOutEverywhereResult = Annotated[
    SignOutEverywhereSuccess | NotFoundError, strawberry.union("SignOutEverywhereResult")
]


@strawberry.type
class UserMutation:
    @strawberry.mutation(
        description=(
            "End every session of the caller, in every browser, this one included; "
            "copies of the session cookie stop working."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def sign_out_everywhere(self, info: Info) -> SignOutEverywhereResult:
        signed_in = await info.context.user()
        resources = info.context.resources
        user = await users.end_sessions(users=resources.users, user_id=signed_in.id)
        info.context.response.delete_cookie(SESSION_COOKIE)
        if user is None:
            # Deleted since this request was authenticated: no session of it is left anyway.
            return NotFoundError(code=ErrorCode.NOT_FOUND, message=not_found("User").message)
        return SignOutEverywhereSuccess(user=UserType.from_read(user))

    @strawberry.mutation(
        description="Retry creating the caller's user in LiteLLM now.",
        permission_classes=[IsAuthenticated],
    )
    async def litellm_sync_retry(self, info: Info) -> LitellmSyncRetryResult:
        user = await info.context.user()
        resources = info.context.resources
        failure = await resources.user_sync.ensure(user.id)
        if failure is not None:
            error = user_error(failure)
            if isinstance(error, LitellmSyncRetryError):
                return error
            raise not_in_result(failure)
        refreshed = await users.get(users=resources.users, user_id=user.id)
        assert refreshed is not None
        return LitellmSyncRetrySuccess(user=UserType.from_read(refreshed))


@strawberry.type
class UserAdminMutation:
    @strawberry.mutation(
        description=(
            "Change a user's limits or whether they are active (administrators), in LiteLLM "
            "and here: when LiteLLM cannot be told, nothing changes on either side."
        ),
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def user_update(
        self, info: Info, id: strawberry.ID, input: UserUpdateInput
    ) -> UserUpdateResult:
        admin = await info.context.user()
        resources = info.context.resources
        user_id = parse_uuid(id)
        result = (
            not_found("User")
            if user_id is None
            else await users.update(
                users=resources.users,
                keys=resources.api_keys,
                litellm=resources.litellm,
                ensure_litellm_user=resources.user_sync.ensure,
                user_id=user_id,
                changes=AccountChanges(
                    max_budget=input.max_budget,
                    tpm_limit=input.tpm_limit,
                    rpm_limit=input.rpm_limit,
                    active=input.active,
                ),
                actor_id=admin.id,
                reason=input.reason,
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, UserUpdateError):
                return error
            raise not_in_result(result)
        return UserUpdateSuccess(user=UserType.from_read(result))

    @strawberry.mutation(
        description="Retry creating a user's twin in LiteLLM now (administrators).",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def user_sync_retry(self, info: Info, id: strawberry.ID) -> UserSyncRetryResult:
        admin = await info.context.user()
        resources = info.context.resources
        user_id = parse_uuid(id)
        result = (
            not_found("User")
            if user_id is None
            else await users.retry_sync(
                users=resources.users, sync=resources.user_sync, user_id=user_id, actor_id=admin.id
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, UserSyncRetryError):
                return error
            raise not_in_result(result)
        return UserSyncRetrySuccess(user=UserType.from_read(result))
