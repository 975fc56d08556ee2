"""Settings administrators change at run time (`runtime_settings`), each change audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import RuntimeSetting, utcnow
from app.db.repositories import audit


@dataclass(frozen=True, slots=True)
class RuntimeSettingRead:
    name: str
    value: str
    updated_at: datetime
    updated_by: uuid.UUID | None


def _read(row: RuntimeSetting) -> RuntimeSettingRead:
    return RuntimeSettingRead(
        name=row.name, value=row.value, updated_at=row.updated_at, updated_by=row.updated_by
    )


class RuntimeSettingRepository:
    def __init__(self, *, sessions: SessionFactory, reads: SessionFactory) -> None:
        self._sessions = sessions
        self._reads = reads

    async def get(self, name: str) -> RuntimeSettingRead | None:
        """The setting as last stored; None while nobody has set it."""
        async with self._reads() as session:
            row = (
                await session.exec(select(RuntimeSetting).where(col(RuntimeSetting.name) == name))
            ).one_or_none()
        return _read(row) if row is not None else None

    async def set(
        self, name: str, value: str, *, actor_id: uuid.UUID, reason: str
    ) -> RuntimeSettingRead:
        """Store the value, audited with the actor, the value before and the reason given."""
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(RuntimeSetting).where(col(RuntimeSetting.name) == name).with_for_update()
                )
            ).one_or_none()
            before = row.value if row is not None else None
            if row is None:
                row = RuntimeSetting(name=name, value=value, updated_by=actor_id)
                session.add(row)
            else:
                row.value = value
                row.updated_at = utcnow()
                row.updated_by = actor_id
            audit.record(
                session,
                actor_id=actor_id,
                action="runtime_setting.update",
                resource_type="runtime_setting",
                resource_id=name,
                details={"before": before, "after": value, "reason": reason},
            )
            await session.flush()
            stored = _read(row)
            await session.commit()
        return stored
