"""Who may read or call what; refusals are top-level errors with `extensions.code`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from strawberry.permission import BasePermission
from strawberry.utils.await_maybe import await_maybe

from app.graphql.context import Info
from app.log_context import set_user

T = TypeVar("T")

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


def _refuse(permission: BasePermission) -> NoReturn:
    """Raise the error `permission` answers with when it refuses, for a field that checks the
    caller itself (the same code and message as through `permission_classes`)."""
    permission.on_unauthorized()
    raise AssertionError(f"{type(permission).__name__}.on_unauthorized returned")


async def _require(info: Info, *permissions: BasePermission, **kwargs: Any) -> None:
    """Check these permissions in order as `permission_classes` would, with the same errors."""
    for permission in permissions:
        if not await await_maybe(permission.has_permission(None, info, **kwargs)):
            _refuse(permission)


async def own_or_readable(
    info: Info,
    user_id: str | None,
    *,
    own: Callable[[uuid.UUID, int], Awaitable[list[T] | None]],
    of_user: Callable[[uuid.UUID], Awaitable[list[T]]],
) -> list[T]:
    """The caller's own listing, or the one of the user `user_id` names, for those who may read it.

    The caller's own is read by `own(user id, session generation)`, which checks the session
    (user active, generation current) in its own statement and answers None once it has ended:
    IsAuthenticated's refusal, and no other read. Anyone else's needs IsAuthenticated and
    CanReadUser, then `of_user`; an id that names nobody lists nothing.
    """
    session = info.context.session
    if session is not None and user_id in (None, str(session.user_id)):
        mine = await own(session.user_id, session.generation)
        if mine is None:
            _refuse(IsAuthenticated())
        set_user(session.user_id)
        return mine
    await _require(info, IsAuthenticated(), CanReadUser(), user_id=user_id)
    owner = await info.context.owner(user_id)
    return [] if owner is None else await of_user(owner)
