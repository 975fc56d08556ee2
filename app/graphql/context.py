"""Per-request GraphQL context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from app.db.models import User
from app.resources import Resources
from app.services import users


@dataclass(slots=True)
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
                async with self.resources.sessions() as session:
                    user = await users.get(session=session, user_id=self.user_id)
                self._user = user if user is not None and user.is_active else None
        return self._user


Info = StrawberryInfo[Context, None]
