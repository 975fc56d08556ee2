"""Model-access enforcement (`enforce`, `log-only`, `off`): a flag administrators change while
the service runs.

`MODEL_ACCESS_ENFORCEMENT` sets the value only until an administrator first changes it; from
then on the database holds it (`runtime_settings`), and every change is audited. Each process
answers access checks from the value it last read and reads it again every
`MODEL_ACCESS_ENFORCEMENT_REFRESH_SECONDS` (at most 10), so every worker of every replica
follows a change within that time; the process that made the change follows it at once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.db.repositories.runtime_settings import RuntimeSettingRead, RuntimeSettingRepository
from app.failures import Failure
from app.services import inputs
from app.settings import ModelAccessEnforcement

log = logging.getLogger(__name__)
SETTING = "model_access_enforcement"


@dataclass(frozen=True, slots=True)
class EnforcementRead:
    mode: ModelAccessEnforcement
    # When and by whom an administrator set it; both None while the environment decides.
    updated_at: datetime | None
    updated_by: uuid.UUID | None


class Enforcement:
    """This process's copy of the flag, read again from the database by `refresh`."""

    __slots__ = ("_current", "_initial", "_settings")

    def __init__(
        self, *, settings: RuntimeSettingRepository, initial: ModelAccessEnforcement
    ) -> None:
        self._settings = settings
        self._initial = initial
        self._current = initial

    @property
    def mode(self) -> ModelAccessEnforcement:
        """The value access checks use now (no database round trip)."""
        return self._current

    async def refresh(self) -> EnforcementRead:
        """The value as stored (or the environment's while none is), adopted by this process."""
        stored = await self._settings.get(SETTING)
        return self._adopt(stored)

    async def update(
        self, *, mode: ModelAccessEnforcement, actor_id: uuid.UUID, reason: str
    ) -> EnforcementRead | Failure:
        """Store the value for every process (audited with the actor and the reason).

        Failures: VALIDATION_FAILED (`reason` empty, over 255 characters or with control
        characters).
        """
        invalid = inputs.check_text(reason, field="reason", what="The reason")
        if invalid is not None:
            return invalid
        stored = await self._settings.set(SETTING, mode.value, actor_id=actor_id, reason=reason)
        log.warning("model-access enforcement set to %s by %s", mode.value, actor_id)
        return self._adopt(stored)

    def _adopt(self, stored: RuntimeSettingRead | None) -> EnforcementRead:
        read = (
            EnforcementRead(self._initial, None, None)
            if stored is None
            else EnforcementRead(
                ModelAccessEnforcement(stored.value), stored.updated_at, stored.updated_by
            )
        )
        if read.mode is not self._current:
            log.info(
                "model-access enforcement is now %s (was %s)", read.mode.value, self._current.value
            )
            self._current = read.mode
        return read
