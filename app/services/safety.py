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

from app.db.repositories.safety import HoldKind as HoldKind  # what callers name
from app.db.repositories.safety import HoldRead as HoldRead  # what callers receive
from app.db.repositories.safety import SafetyHoldRepository
from app.failures import Failure, not_found
from app.metrics import Metrics
from app.settings import Settings

log = logging.getLogger(__name__)
# How many of the held items a warning names; the rest are counted.
LOGGED_ITEMS = 10

_WHAT = {
    HoldKind.REVOKE_MISSING_KEYS: "revoke {n} of {total} active API keys missing in LiteLLM",
    HoldKind.DELETE_ORPHAN_KEYS: "delete {n} of {total} LiteLLM keys that have no active key here",
    HoldKind.RETIRE_MODELS: "mark {n} of {total} available models unavailable",
    HoldKind.UNBLOCK_KEYS: "unblock {n} of {total} active LiteLLM keys blocked in LiteLLM",
    HoldKind.NARROW_KEYS: "take models off {n} of {total} active API keys in LiteLLM",
}


def reason(hold: HoldRead) -> str:
    """Why the change is held, in words."""
    return "Held: would " + _WHAT[hold.kind].format(n=len(hold.items), total=hold.total)


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


@dataclass(frozen=True, slots=True)
class Valve:
    """What an automatic pass asks before a change that could be a mass change."""

    holds: SafetyHoldRepository
    settings: Settings
    metrics: Metrics

    async def permitted(self, *, kind: HoldKind, proposed: Collection[str], total: int) -> set[str]:
        """Which of the proposed changes the pass may make now; holds them when beyond bounds.

        Confirmed changes still proposed are always permitted; the rest are judged by the
        bounds.
        """
        judged = await self.holds.judge(
            kind,
            proposed,
            total=total,
            beyond_bounds=lambda count: beyond_bounds(count, total, self.settings),
        )
        if judged.lifted:
            log.warning(
                "safety valve: %s hold lifted (%s)",
                kind.value,
                "confirmed" if judged.confirmed else "the condition cleared",
            )
        hold = judged.held
        if hold is not None:
            self.metrics.safety_valve_trips.labels(kind=kind.value).inc()
            log.warning(
                "safety valve: a pass would %s; none of them changed, held as %s until the "
                "condition clears or an admin confirms it (first of them: %s)",
                _WHAT[kind].format(n=len(hold.items), total=total),
                hold.id,
                ", ".join(repr(i) for i in hold.items[:LOGGED_ITEMS]),
            )
        return set(judged.permitted)


async def list_holds(*, holds: SafetyHoldRepository) -> list[HoldRead]:
    """The changes held now, by kind."""
    return await holds.list()


async def confirm(
    *, holds: SafetyHoldRepository, hold_id: uuid.UUID, actor_id: uuid.UUID
) -> HoldRead | Failure:
    """Let the next pass make exactly the held changes (audited with the actor).

    Failures: NOT_FOUND (no such hold: it lifted, or changed since it was read).
    """
    hold = await holds.confirm(hold_id, actor_id=actor_id)
    if hold is None:
        return not_found("Safety hold")
    log.warning(
        "safety valve: %s hold %s confirmed by %s; the next pass applies it",
        hold.kind.value,
        hold.id,
        actor_id,
    )
    return hold
