"""Who may read or call what; refusals are top-level errors with `extensions.code`."""

from __future__ import annotations

from typing import Any, NoReturn

from strawberry.permission import BasePermission
from strawberry.utils.await_maybe import await_maybe

from app.graphql.context import Info

ADMIN_ROLE = "admin"
# Roles that may read other users' subscriptions and keys.
READ_OTHERS_ROLES = frozenset({ADMIN_ROLE, "admin-readonly"})


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


class IsAdminReader(BasePermission):
    """Holders of the `admin` or `admin-readonly` role: they read what administrators read."""

    message = "Only administrators may see this."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012  (strawberry reads it as is)

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        user = await info.context.current_user()
        return user is not None and bool(READ_OTHERS_ROLES.intersection(user.roles))


class CanReadUser(BasePermission):
    """A `userId` argument naming someone else needs the admin or admin-readonly role."""

    message = "Only administrators may see other users' data."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012  (strawberry reads it as is)

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        user = await info.context.current_user()
        if user is None:
            return False
        user_id = kwargs.get("user_id")
        if user_id is None or user_id == str(user.id):
            return True
        return bool(READ_OTHERS_ROLES.intersection(user.roles))


def refuse(permission: BasePermission) -> NoReturn:
    """Raise the error `permission` answers with when it refuses, for a field that checks the
    caller itself (the same code and message as through `permission_classes`)."""
    permission.on_unauthorized()
    raise AssertionError(f"{type(permission).__name__}.on_unauthorized returned")


async def require(info: Info, *permissions: BasePermission, **kwargs: Any) -> None:
    """Check these permissions in order as `permission_classes` would, with the same errors."""
    for permission in permissions:
        if not await await_maybe(permission.has_permission(None, info, **kwargs)):
            refuse(permission)
