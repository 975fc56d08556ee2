"""Held mass changes (`safety_holds`): one row per kind of change at most."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import SafetyHold, utcnow
from app.db.repositories import audit


class HoldKind(StrEnum):
    REVOKE_MISSING_KEYS = "revoke_missing_keys"  # active keys LiteLLM no longer lists
    DELETE_ORPHAN_KEYS = "delete_orphan_keys"  # LiteLLM keys made here without a live row
    RETIRE_MODELS = "retire_models"  # models LiteLLM's /model/info no longer lists
    UNBLOCK_KEYS = "unblock_keys"  # keys of active users that LiteLLM blocks
    NARROW_KEYS = "narrow_keys"  # keys LiteLLM lets call models their rows do not give them


@dataclass(frozen=True, slots=True)
class HoldRead:
    id: uuid.UUID
    kind: HoldKind
    items: tuple[str, ...]
    total: int
    passes_held: int
    detected_at: datetime
    last_seen_at: datetime
    confirmed_by: uuid.UUID | None
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Judged:
    """What a pass may change now; `held` is the hold that keeps the rest, `lifted` whether a
    hold ended, `confirmed` whether an admin's confirmation permitted some of it."""

    permitted: frozenset[str]
    held: HoldRead | None = None
    lifted: bool = False
    confirmed: bool = False


def _read(row: SafetyHold) -> HoldRead:
    return HoldRead(
        id=row.id,
        kind=HoldKind(row.kind),
        items=tuple(row.items),
        total=row.total,
        passes_held=row.passes_held,
        detected_at=row.detected_at,
        last_seen_at=row.last_seen_at,
        confirmed_by=row.confirmed_by,
        confirmed_at=row.confirmed_at,
    )


class SafetyHoldRepository:
    def __init__(self, *, sessions: SessionFactory, reads: SessionFactory) -> None:
        self._sessions = sessions
        self._reads = reads

    async def judge(
        self,
        kind: HoldKind,
        proposed: Collection[str],
        *,
        total: int,
        beyond_bounds: Callable[[int], bool],
    ) -> Judged:
        """Under the kind's lock: confirmed changes still proposed are permitted; the rest too
        unless `beyond_bounds(how many)`, when they are held (a new hold whenever they differ
        from the one held)."""
        wanted = frozenset(proposed)
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(SafetyHold).where(col(SafetyHold.kind) == kind.value).with_for_update()
                )
            ).one_or_none()
            if row is None and not wanted:
                return Judged(frozenset())  # the usual pass: nothing to change, nothing held
            confirmed = (
                set(row.items) if row is not None and row.confirmed_at is not None else set()
            )
            approved = wanted & confirmed
            rest = wanted - approved
            if not beyond_bounds(len(rest)):
                if row is not None:
                    await session.delete(row)
                await session.commit()
                return Judged(wanted, lifted=row is not None, confirmed=bool(approved))
            if row is None or row.confirmed_at is not None or set(row.items) != rest:
                if row is not None:
                    await session.delete(row)
                    await session.flush()
                row = SafetyHold(kind=kind.value, items=sorted(rest), total=total)
                session.add(row)
            else:
                row.passes_held += 1
                row.total = total
                row.last_seen_at = utcnow()
            held = _read(row)
            await session.commit()
        return Judged(approved, held=held)

    async def list(self) -> list[HoldRead]:
        """The changes held now, by kind."""
        async with self._reads() as session:
            rows = (await session.exec(select(SafetyHold).order_by(col(SafetyHold.kind)))).all()
        return [_read(row) for row in rows]

    async def confirm(self, hold_id: uuid.UUID, *, actor_id: uuid.UUID) -> HoldRead | None:
        """Mark the hold confirmed by the actor (audited); None when there is no such hold."""
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(SafetyHold).where(col(SafetyHold.id) == hold_id).with_for_update()
                )
            ).one_or_none()
            if row is None:
                return None
            if row.confirmed_at is None:
                row.confirmed_at = utcnow()
                row.confirmed_by = actor_id
            audit.record(
                session,
                actor_id=actor_id,
                action="safety_hold.confirm",
                resource_type="safety_hold",
                resource_id=str(row.id),
                details={"kind": row.kind, "count": len(row.items), "total": row.total},
            )
            hold = _read(row)
            await session.commit()
        return hold
