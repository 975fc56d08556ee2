"""One circuit breaker per process around every LiteLLM call.

aiobreaker counts failures and keeps the state; this wrapper fixes what it gets wrong for us:
- only unavailability counts as a failure (a 4xx means LiteLLM is up);
- after the reset timeout exactly one caller probes LiteLLM, the others fail fast;
- the call that trips the breaker raises its own error, not the breaker's;
- aiobreaker keeps naive-UTC datetimes and reports its reopen time in local time, so times
  here are computed from its storage and returned timezone-aware.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from aiobreaker import CircuitBreaker as _AioBreaker
from aiobreaker import CircuitBreakerError, CircuitBreakerListener, CircuitBreakerState

from app.litellm.errors import LiteLLMUnavailable

# aiobreaker calls datetime.utcnow(), deprecated from Python 3.12; its values are correct.
warnings.filterwarnings(
    "ignore",
    message=r"datetime\.datetime\.utcnow",
    category=DeprecationWarning,
    module="aiobreaker",
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_STATES = {
    CircuitBreakerState.CLOSED: BreakerState.CLOSED,
    CircuitBreakerState.OPEN: BreakerState.OPEN,
    CircuitBreakerState.HALF_OPEN: BreakerState.HALF_OPEN,
}


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: BreakerState
    consecutive_failures: int
    last_transition_at: datetime | None
    reopens_at: datetime | None


class _TransitionLog(CircuitBreakerListener):  # type: ignore[misc]
    def __init__(self, name: str) -> None:
        self.name = name
        self.last_transition_at: datetime | None = None

    def state_change(self, breaker: Any, old: Any, new: Any) -> None:
        self.last_transition_at = datetime.now(UTC)
        old_name = _STATES[old.state].name if old is not None else "-"
        log.warning("%s circuit breaker %s -> %s", self.name, old_name, _STATES[new.state].name)


class CircuitBreaker:
    def __init__(self, *, name: str, fail_max: int, reset_timeout: timedelta) -> None:
        self._transitions = _TransitionLog(name)
        self._breaker = _AioBreaker(
            fail_max=fail_max,
            timeout_duration=reset_timeout,
            exclude=[lambda exc: not isinstance(exc, LiteLLMUnavailable)],
            listeners=[self._transitions],
            name=name,
        )
        self._probe_in_flight = False

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` through the breaker; LiteLLMUnavailable at once when it is open."""
        if self._breaker.current_state is CircuitBreakerState.CLOSED:
            return await self._through(operation)
        if self._probe_in_flight or not self._reset_timeout_elapsed():
            raise LiteLLMUnavailable("LiteLLM circuit breaker is open", reached=False)
        self._probe_in_flight = True
        try:
            return await self._through(operation)
        finally:
            self._probe_in_flight = False

    def snapshot(self) -> BreakerSnapshot:
        state = _STATES[self._breaker.current_state]
        reopens_at = None
        if state is BreakerState.OPEN and not self._reset_timeout_elapsed():
            reopens_at = self._opened_at() + self._breaker.timeout_duration
        return BreakerSnapshot(
            state=state,
            consecutive_failures=self._breaker.fail_counter,
            last_transition_at=self._transitions.last_transition_at,
            reopens_at=reopens_at,
        )

    async def _through(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            result: T = await self._breaker.call_async(operation)
        except CircuitBreakerError as exc:
            # The tripping call (or a failed probe): surface what actually went wrong.
            if isinstance(exc.__cause__, LiteLLMUnavailable):
                raise exc.__cause__ from exc.__cause__.__cause__
            raise LiteLLMUnavailable("LiteLLM circuit breaker is open", reached=False) from None
        return result

    def _opened_at(self) -> datetime:
        opened_at: datetime = self._breaker._state_storage.opened_at
        return opened_at.replace(tzinfo=UTC)  # aiobreaker stores naive UTC

    def _reset_timeout_elapsed(self) -> bool:
        reset_timeout: timedelta = self._breaker.timeout_duration
        return datetime.now(UTC) >= self._opened_at() + reset_timeout
