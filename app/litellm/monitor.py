"""What the process knows about LiteLLM's health, fed by calls and by the background probe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class LiteLLMMonitor:
    last_success_at: datetime | None = None  # any successful call
    last_catalog_sync_at: datetime | None = None
    last_probe_at: datetime | None = None
    last_probe_ok: bool | None = None
    last_probe_latency_ms: float | None = None
    last_probe_error: str | None = None

    @property
    def last_sync(self) -> datetime | None:
        """The most recent successful catalogue sync or call."""
        times = [t for t in (self.last_success_at, self.last_catalog_sync_at) if t is not None]
        return max(times, default=None)
