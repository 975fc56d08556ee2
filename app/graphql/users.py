"""The `User` type and the `me` query."""

from __future__ import annotations

import strawberry

from app.db import models
from app.graphql.context import Info

strawberry.enum(models.SyncStatus, name="LitellmSyncStatus")


@strawberry.type(name="User")
class UserType:
    id: strawberry.ID
    username: str
    email: str
    full_name: str | None
    roles: list[str]
    litellm_sync_status: models.SyncStatus
    litellm_sync_error: str | None

    @classmethod
    def from_model(cls, user: models.User) -> UserType:
        return cls(
            id=strawberry.ID(str(user.id)),
            username=user.username,
            email=user.email,
            full_name=user.full_name,
            roles=list(user.roles),
            litellm_sync_status=user.sync_status,
            litellm_sync_error=user.sync_error,
        )


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user, or null when anonymous.")
    async def me(self, info: Info) -> UserType | None:
        user = await info.context.current_user()
        return UserType.from_model(user) if user is not None else None
