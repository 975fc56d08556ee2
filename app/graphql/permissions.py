"""Who may read or call what; refusals are top-level errors with `extensions.code`."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from app.graphql.context import Info

ADMIN_ROLE = "admin"


class IsAuthenticated(BasePermission):
    message = "Sign in to do this."
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012  (strawberry reads it as is)

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return await info.context.current_user() is not None


class IsAdmin(BasePermission):
    """Holders of the `admin` role. List IsAuthenticated first so anonymous callers learn why."""

    message = "Only administrators may do this."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012  (strawberry reads it as is)

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        user = await info.context.current_user()
        return user is not None and ADMIN_ROLE in user.roles
