"""Per-process counters, exported on /metrics."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    # Model-access checks (`modelAccess` and `/authz`), by outcome.
    access_granted: int = 0
    access_denied: int = 0
    access_would_be_denied: int = 0  # the key lacks the model; log-only/off let it through
    access_invalid_key: int = 0
    # LiteLLM user syncs (sign-in, before subscribe/key creation, reconciler).
    user_sync_succeeded: int = 0
    user_sync_failed: int = 0
    # Passes the safety valve stopped, by kind of change (app.services.safety.HoldKind).
    safety_valve_trips: collections.Counter[str] = field(default_factory=collections.Counter)
    # Objects the GraphQL plain-field executor handed back to graphql-core (a value of the
    # answer was an error: data the schema does not expect).
    graphql_executor_fallbacks: int = 0
