"""The safety valve: held mass changes (`health.safetyHolds`) and `safetyHoldConfirm`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.failures import Failure, not_found
from app.graphql.context import Info
from app.graphql.enums import SafetyHoldKindEnum, api_value
from app.graphql.errors import NotFoundError, not_in_result, user_error
from app.graphql.ids import parse_uuid
from app.graphql.permissions import IsAdmin, IsAuthenticated
from app.services import safety


@strawberry.type(
    name="SafetyHold",
    description="A mass change an automatic job refused to make; it waits until the "
    "condition clears or an admin confirms it.",
)
class SafetyHoldType:
    id: strawberry.ID = strawberry.field(description="This proposal; it changes with the change.")
    kind: SafetyHoldKindEnum
    reason: str
    count: int = strawberry.field(description="How many things the job would change.")
    total: int = strawberry.field(description="How many there are (active keys, models).")
    passes_held: int
    detected_at: datetime
    last_seen_at: datetime
    confirmed_at: datetime | None = strawberry.field(
        description="Set once an admin confirmed: the next pass applies exactly this change."
    )

    @classmethod
    def from_read(cls, hold: safety.HoldRead) -> SafetyHoldType:
        return cls(
            id=strawberry.ID(str(hold.id)),
            kind=api_value(SafetyHoldKindEnum, hold.kind),
            reason=safety.reason(hold),
            count=len(hold.items),
            total=hold.total,
            passes_held=hold.passes_held,
            detected_at=hold.detected_at,
            last_seen_at=hold.last_seen_at,
            confirmed_at=hold.confirmed_at,
        )


@strawberry.type
class SafetyHoldConfirmSuccess:
    hold: SafetyHoldType


SafetyHoldConfirmResult = Annotated[
    SafetyHoldConfirmSuccess | NotFoundError, strawberry.union("SafetyHoldConfirmResult")
]


@strawberry.type
class SafetyMutation:
    @strawberry.mutation(
        description="Let the next pass make the held change, exactly as shown (admins only).",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def safety_hold_confirm(self, info: Info, id: strawberry.ID) -> SafetyHoldConfirmResult:
        user = await info.context.user()
        hold_id = parse_uuid(id)
        result = (
            not_found("Safety hold")
            if hold_id is None
            else await safety.confirm(
                holds=info.context.resources.safety_holds, hold_id=hold_id, actor_id=user.id
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, NotFoundError):
                return error
            raise not_in_result(result)
        return SafetyHoldConfirmSuccess(hold=SafetyHoldType.from_read(result))
