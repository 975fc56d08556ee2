"""Per-process counters, exported as metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class AccessCounters:
    """Outcomes of model-access checks (`modelAccess` and `/authz`)."""

    granted: int = 0
    denied: int = 0
    would_be_denied: int = 0  # denied by the key, let through by log-only/off enforcement
    invalid_key: int = 0
