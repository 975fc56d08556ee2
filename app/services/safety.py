"""The safety valve: no automatic job makes a mass change on its own.

A reconciler or catalogue pass asks `permitted` before it revokes keys, deletes LiteLLM keys or
retires models. A change beyond the bounds (settings `SAFETY_VALVE_*`) is held: nothing of that
kind is changed, a warning is logged, the trip is counted, `health` shows the hold, and later
passes keep refusing while the condition holds. The hold lifts by itself when a pass finds the
change back within bounds (LiteLLM lists the keys again), or when an admin confirms it: the next
pass then applies the confirmed changes, and only those.

Holds live in the database, so every worker sees them and they survive restarts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select

from app.db.models import SafetyHold, utcnow
from app.failures import Failure, not_found
from app.resources import Resources
from app.services import audit
from app.settings import Settings

log = logging.getLogger(__name__)
# How many of the held items a warning names; the rest are counted.
LOGGED_ITEMS = 10


class HoldKind(StrEnum):
    REVOKE_MISSING_KEYS = "revoke_missing_keys"  # active keys LiteLLM no longer lists
    DELETE_ORPHAN_KEYS = "delete_orphan_keys"  # LiteLLM keys made here without a live row
    RETIRE_MODELS = "retire_models"  # models LiteLLM's /model/info no longer lists
    UNBLOCK_KEYS = "unblock_keys"  # keys of active users that LiteLLM blocks


_WHAT = {
    HoldKind.REVOKE_MISSING_KEYS: "revoke {n} of {total} active API keys missing in LiteLLM",
    HoldKind.DELETE_ORPHAN_KEYS: "delete {n} of {total} LiteLLM keys that have no active key here",
    HoldKind.RETIRE_MODELS: "mark {n} of {total} available models unavailable",
    HoldKind.UNBLOCK_KEYS: "unblock {n} of {total} active LiteLLM keys blocked in LiteLLM",
}


@dataclass(frozen=True, slots=True)
class Hold:
    id: uuid.UUID
    kind: HoldKind
    items: tuple[str, ...]
    total: int
    passes_held: int
    detected_at: datetime
    last_seen_at: datetime
    confirmed_by: uuid.UUID | None
    confirmed_at: datetime | None

    @property
    def reason(self) -> str:
        return "Held: would " + _WHAT[self.kind].format(n=len(self.items), total=self.total)

    @classmethod
    def from_row(cls, row: SafetyHold) -> Hold:
        return cls(
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


def beyond_bounds(count: int, total: int, settings: Settings) -> bool:
    """Whether changing `count` of `total` things at once is a mass change."""
    if count == 0:
        return False
    # Every one of them at once is what an empty or wrong LiteLLM looks like, however few.
    if count >= total:
        return True
    if count <= settings.safety_valve_floor:
        return False
    return (
        count > settings.safety_valve_max_count or count > settings.safety_valve_max_share * total
    )


async def permitted(
    *, resources: Resources, kind: HoldKind, proposed: Collection[str], total: int
) -> set[str]:
    """Which of the proposed changes the pass may make now; holds them when beyond bounds.

    Confirmed changes still proposed are always permitted; the rest are judged by the bounds.
    """
    wanted = set(proposed)
    async with resources.sessions() as session:
        row = (
            await session.exec(
                select(SafetyHold).where(col(SafetyHold.kind) == kind.value).with_for_update()
            )
        ).one_or_none()
        if row is None and not wanted:
            return set()  # the usual pass: nothing to change, nothing held
        confirmed = set(row.items) if row is not None and row.confirmed_at is not None else set()
        approved = wanted & confirmed
        rest = wanted - approved
        if not beyond_bounds(len(rest), total, resources.settings):
            if row is not None:
                await session.delete(row)
                log.warning(
                    "safety valve: %s hold lifted (%s)",
                    kind.value,
                    "confirmed" if approved else "the condition cleared",
                )
            await session.commit()
            return wanted
        now = utcnow()
        if row is None or row.confirmed_at is not None or set(row.items) != rest:
            if row is not None:
                await session.delete(row)
                await session.flush()
            row = SafetyHold(kind=kind.value, items=sorted(rest), total=total)
            session.add(row)
        else:
            row.passes_held += 1
            row.total = total
            row.last_seen_at = now
        hold = Hold.from_row(row)
        await session.commit()
    resources.counters.safety_valve_trips[kind.value] += 1
    log.warning(
        "safety valve: a pass would %s; none of them changed, held as %s until the condition "
        "clears or an admin confirms it (first of them: %s)",
        _WHAT[kind].format(n=len(rest), total=total),
        hold.id,
        ", ".join(repr(i) for i in hold.items[:LOGGED_ITEMS]),
    )
    return approved


async def list_holds(*, resources: Resources) -> list[Hold]:
    """The changes held now, by kind."""
    async with resources.reads() as session:
        rows = (await session.exec(select(SafetyHold).order_by(col(SafetyHold.kind)))).all()
    return [Hold.from_row(row) for row in rows]


async def confirm(
    *, resources: Resources, hold_id: uuid.UUID, actor_id: uuid.UUID
) -> Hold | Failure:
    """Let the next pass make exactly the held changes (audited with the actor).

    Failures: NOT_FOUND (no such hold: it lifted, or changed since it was read).
    """
    async with resources.sessions() as session:
        row = (
            await session.exec(
                select(SafetyHold).where(col(SafetyHold.id) == hold_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            return not_found("Safety hold")
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
        hold = Hold.from_row(row)
        await session.commit()
    log.warning(
        "safety valve: %s hold %s confirmed by %s; the next pass applies it",
        hold.kind.value,
        hold.id,
        actor_id,
    )
    return hold
