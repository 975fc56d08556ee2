"""Per-request GraphQL context: the caller, the shared resources, the request's DataLoaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from app.db.models import User
from app.graphql.loaders import Loaders
from app.resources import Resources
from app.services import users


@dataclass
class Context:
    request: Request
    response: Response
    resources: Resources
    user_id: uuid.UUID | None
    _user: User | None = field(default=None, init=False)
    _user_loaded: bool = field(default=False, init=False)

    async def current_user(self) -> User | None:
        """The signed-in, active user (loaded once per request), or None."""
        if not self._user_loaded:
            self._user_loaded = True
            if self.user_id is not None:
                async with self.resources.reads() as session:
                    user = await users.get(session=session, user_id=self.user_id)
                self._user = user if user is not None and user.is_active else None
        return self._user

    async def user(self) -> User:
        """The signed-in user, for fields behind `IsAuthenticated`."""
        user = await self.current_user()
        if user is None:
            raise PermissionError("field resolved without IsAuthenticated")
        return user

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.resources, self.user_id)


Info = StrawberryInfo[Context, None]
