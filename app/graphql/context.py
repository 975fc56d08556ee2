"""Per-request GraphQL context: the caller, the shared resources, the request's DataLoaders."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from functools import cached_property

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from app.auth.session import Session
from app.graphql.ids import parse_uuid
from app.graphql.loaders import Loaders
from app.log_context import set_user
from app.resources import Resources
from app.services import health, safety, users
from app.services.users import SignedIn

DatabaseStateTask = asyncio.Task[tuple[health.DatabaseHealth, list[safety.HoldRead]]]


@dataclass
class Context:
    request: Request
    response: Response
    resources: Resources
    # The cookie's session: whether it is still current is known once `current_user` has run.
    session: Session | None
    _user: asyncio.Task[SignedIn | None] | None = field(default=None, init=False)
    _database_state: asyncio.Task[tuple[health.DatabaseHealth, list[safety.HoldRead]]] | None = (
        field(default=None, init=False)
    )

    async def current_user(self) -> SignedIn | None:
        """The signed-in, active user (loaded once per request), or None."""
        if self.session is None:
            return None
        # Root fields resolve concurrently: they all wait for the one load.
        if self._user is None:
            self._user = asyncio.create_task(
                users.signed_in(
                    users=self.resources.users,
                    user_id=self.session.user_id,
                    generation=self.session.generation,
                )
            )
        # Shielded: a sibling field's failure cancels the fields awaiting it (graphql-core's
        # gather), never the one read they share.
        user = await asyncio.shield(self._user)
        if user is not None:
            set_user(user.id)
        return user

    async def user(self) -> SignedIn:
        """The signed-in user, for fields behind `IsAuthenticated`."""
        user = await self.current_user()
        if user is None:
            raise PermissionError("field resolved without IsAuthenticated")
        return user

    async def owner(self, user_id: str | None) -> uuid.UUID | None:
        """Whose data a field shows: the caller's, or the named user's (None: no such id)."""
        if user_id is None:
            return (await self.user()).id
        return parse_uuid(user_id)

    async def database_state(self) -> tuple[health.DatabaseHealth, list[safety.HoldRead]]:
        """The database probe and the held mass changes, read once per request however many
        fields ask for them."""
        # `{ a: health { ... } b: health { ... } }` must not turn one request into many probes.
        if self._database_state is None:
            self._database_state = asyncio.create_task(self._read_database_state())
        return await asyncio.shield(self._database_state)

    async def _read_database_state(self) -> tuple[health.DatabaseHealth, list[safety.HoldRead]]:
        db = await health.check_database(round_trip=self.resources.database_round_trip)
        # With the database down the status is DOWN whatever is held.
        ok = db.status is health.HealthStatus.OK
        return db, await safety.list_holds(holds=self.resources.safety_holds) if ok else []

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.resources, self.session)


Info = StrawberryInfo[Context, None]
