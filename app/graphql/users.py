"""The `User` type, the `me` query and the administrators' `users` list."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.auth.session import SESSION_COOKIE
from app.failures import not_found
from app.graphql.context import Info
from app.graphql.enums import ErrorCode, LitellmSyncStatusEnum, api_value
from app.graphql.errors import (
    LitellmUnavailableError,
    NotFoundError,
    UserNotFoundLitellmError,
    not_in_result,
    user_error,
)
from app.graphql.permissions import IsAdmin, IsAuthenticated
from app.services import users


@strawberry.type(name="User")
class UserType:
    id: strawberry.ID
    username: str
    email: str
    full_name: str | None
    roles: list[str]
    litellm_sync_status: LitellmSyncStatusEnum
    litellm_sync_error: str | None

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
        )


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user, or null when anonymous.")
    async def me(self, info: Info) -> UserType | None:
        # The request's one read of the signed-in user is the whole account.
        signed_in = await info.context.current_user()
        return UserType.from_read(signed_in.user) if signed_in is not None else None

    @strawberry.field(
        description="Every user, by username (administrators only); at most `first` of them.",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def users(self, info: Info, first: int = 100) -> list[UserType]:
        found = await users.list_by_username(users=info.context.resources.users, limit=first)
        return [UserType.from_read(user) for user in found]


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
