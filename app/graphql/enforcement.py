"""Model-access enforcement at run time: `modelAccessEnforcement` and its update mutation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.failures import Failure
from app.graphql.context import Info
from app.graphql.enums import ModelAccessEnforcementModeEnum, api_value
from app.graphql.errors import ValidationError, not_in_result, user_error
from app.graphql.permissions import IsAdmin, IsAdminReader, IsAuthenticated
from app.services import enforcement
from app.settings import ModelAccessEnforcement


@strawberry.type(
    name="ModelAccessEnforcement",
    description="How `modelAccess` and `/authz` answer for a key that lacks the model; every "
    "process follows a change within 10 seconds.",
)
class ModelAccessEnforcementType:
    mode: ModelAccessEnforcementModeEnum
    updated_at: datetime | None = strawberry.field(
        description="When an administrator last set it; null while MODEL_ACCESS_ENFORCEMENT "
        "(the environment) decides."
    )

    @classmethod
    def from_read(cls, read: enforcement.EnforcementRead) -> ModelAccessEnforcementType:
        return cls(
            mode=api_value(ModelAccessEnforcementModeEnum, read.mode), updated_at=read.updated_at
        )


@strawberry.input
class ModelAccessEnforcementUpdateInput:
    mode: ModelAccessEnforcementModeEnum
    reason: str = strawberry.field(description="Why, for the audit trail (1 to 255 characters).")


@strawberry.type
class ModelAccessEnforcementUpdateSuccess:
    enforcement: ModelAccessEnforcementType


ModelAccessEnforcementUpdateResult = Annotated[
    ModelAccessEnforcementUpdateSuccess | ValidationError,
    strawberry.union("ModelAccessEnforcementUpdateResult"),
]


@strawberry.type
class EnforcementQuery:
    @strawberry.field(
        description="Model-access enforcement as every process applies it (administrators and "
        "read-only administrators).",
        permission_classes=[IsAuthenticated, IsAdminReader],
    )
    async def model_access_enforcement(self, info: Info) -> ModelAccessEnforcementType:
        read = await info.context.resources.enforcement.refresh()
        return ModelAccessEnforcementType.from_read(read)


@strawberry.type
class EnforcementMutation:
    @strawberry.mutation(
        description="Set model-access enforcement for every process, within 10 seconds "
        "(admins only; audited with the reason).",
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def model_access_enforcement_update(
        self, info: Info, input: ModelAccessEnforcementUpdateInput
    ) -> ModelAccessEnforcementUpdateResult:
        user = await info.context.user()
        result = await info.context.resources.enforcement.update(
            mode=ModelAccessEnforcement[input.mode.name], actor_id=user.id, reason=input.reason
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ValidationError):
                return error
            raise not_in_result(result)
        return ModelAccessEnforcementUpdateSuccess(
            enforcement=ModelAccessEnforcementType.from_read(result)
        )
