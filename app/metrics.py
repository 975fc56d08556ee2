"""The service's Prometheus metrics (`prometheus-client`), exported on /metrics.

One `Metrics` per process, built by `Resources`, handed to whatever records: each family is a
`prometheus_client` object, so recording is one line (`metrics.user_syncs.labels(outcome=
"succeeded").inc()`). Key operations are timed and counted together by `key_operation`.

Labels are bounded: outcomes, endpoints and kinds are fixed words, the GraphQL operation is a
registered operation's name or `other`; nothing names a user, a key or a model.

With several workers (`WEB_CONCURRENCY` > 1) `litemaas-bff serve` sets
`PROMETHEUS_MULTIPROC_DIR` before they start: every worker writes its values there and a
scrape of any worker reads all of them (`exposition`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable
from enum import StrEnum
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

T = TypeVar("T")

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
SUCCEEDED = "succeeded"
ERROR = "error"  # an exception: a bug or the database
OTHER_OPERATION = "other"
# The outcomes of a model-access check (app/services/access.py).
ACCESS_OUTCOMES = ("granted", "denied", "would_be_denied", "invalid_key")

# Seconds; the targets (key validation < 200 ms, key creation < 2 s) are bucket bounds.
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5)
SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class KeyOperation(StrEnum):
    """What `key_operation` times and counts, the `operation` label."""

    CREATE = "create"
    UPDATE = "update"
    ROTATE = "rotate"


def outcome(result: object) -> str:
    """`succeeded`, or the failure's code in lower case for a result that carries one
    (`Failure`, `SignInRefused`: anything with a `code`)."""
    code = getattr(result, "code", None)
    return str(code).lower() if code is not None else SUCCEEDED


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.key_operations = Counter(
            "litemaas_api_key_operations",
            "API key creations, updates and rotations by outcome (a failure code in lower case).",
            ["operation", "outcome"],
            registry=r,
        )
        self.key_operation_duration = Histogram(
            "litemaas_api_key_operation_duration_seconds",
            "Duration of API key creations, updates and rotations.",
            ["operation"],
            buckets=SLOW_BUCKETS,
            registry=r,
        )
        self.sign_ins = Counter(
            "litemaas_sign_ins",
            "Completed sign-in attempts by outcome (refusal or failure code in lower case).",
            ["outcome"],
            registry=r,
        )
        self.sign_in_duration = Histogram(
            "litemaas_sign_in_duration_seconds",
            "Duration of the sign-in step this service runs (callback or development login).",
            buckets=SLOW_BUCKETS,
            registry=r,
        )
        self.access_checks = Counter(
            "litemaas_model_access_checks",
            "Model-access checks (`modelAccess` and /authz) by outcome.",
            ["outcome"],
            registry=r,
        )
        self.authz_duration = Histogram(
            "litemaas_authz_duration_seconds",
            "Duration of GET /authz (key validation for gateways).",
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.litellm_requests = Counter(
            "litemaas_litellm_requests",
            "Calls to LiteLLM by endpoint and outcome (`breaker_open`: refused without a call).",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.litellm_request_duration = Histogram(
            "litemaas_litellm_request_duration_seconds",
            "Duration of calls to LiteLLM by endpoint.",
            ["endpoint"],
            buckets=SLOW_BUCKETS,
            registry=r,
        )
        # Each worker has its own breaker and probe: with several, a scrape shows the most
        # alarming worker (any worker's open breaker, any worker's failed probe).
        self.litellm_breaker_state = Gauge(
            "litemaas_litellm_circuit_breaker_state",
            "1 for the LiteLLM circuit breaker's current state (with several workers: in at"
            " least one of them).",
            ["state"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.litellm_consecutive_failures = Gauge(
            "litemaas_litellm_consecutive_failures",
            "Failures counted by the breaker (with several workers: the most of any).",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.litellm_up = Gauge(
            "litemaas_litellm_up",
            "1 when the last LiteLLM probe succeeded (with several workers: in every one).",
            multiprocess_mode="livemin",
            registry=r,
        )
        self.litellm_probe_latency = Gauge(
            "litemaas_litellm_probe_latency_seconds",
            "Latency of the last successful LiteLLM probe.",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.user_syncs = Counter(
            "litemaas_litellm_user_syncs",
            "LiteLLM user syncs (sign-in, before subscribe/key creation, reconciler) by outcome.",
            ["outcome"],
            registry=r,
        )
        self.user_sync_backlog = Gauge(
            "litemaas_litellm_user_sync_backlog",
            "Users whose last LiteLLM sync failed, counted by the last reconciler pass.",
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.reconciler_repairs = Counter(
            "litemaas_reconciler_repairs",
            "Repairs made by the reconciler, by kind.",
            ["kind"],
            registry=r,
        )
        self.safety_valve_trips = Counter(
            "litemaas_safety_valve_trips",
            "Passes that held a mass change, by kind.",
            ["kind"],
            registry=r,
        )
        self.graphql_operations = Counter(
            "litemaas_graphql_operations",
            "GraphQL requests by operation (registered operations by name, others `other`)"
            " and outcome (`ok`, `error`: errors in the answer, `refused`: never executed).",
            ["operation", "outcome"],
            registry=r,
        )
        self.graphql_operation_duration = Histogram(
            "litemaas_graphql_operation_duration_seconds",
            "Duration of GraphQL requests by operation.",
            ["operation"],
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.graphql_executor_fallbacks = Counter(
            "litemaas_graphql_executor_fallbacks",
            "Objects whose plain fields graphql-core completed instead of the fast executor"
            " (a value of the answer was an error).",
            registry=r,
        )

        # Series an alert or a dashboard divides by exist from the start, at 0.
        for name in ACCESS_OUTCOMES:
            self.access_checks.labels(outcome=name)
        for name in (SUCCEEDED, "failed"):
            self.user_syncs.labels(outcome=name)
        for operation in KeyOperation:
            self.key_operations.labels(operation=operation, outcome=SUCCEEDED)
        self.sign_ins.labels(outcome=SUCCEEDED)

    async def key_operation(self, operation: KeyOperation, work: Awaitable[T]) -> T:
        """`work`'s result, timed and counted under `operation` with its `outcome`."""
        started = time.perf_counter()
        try:
            result = await work
        except Exception:
            self.key_operations.labels(operation=operation, outcome=ERROR).inc()
            raise
        finally:
            self.key_operation_duration.labels(operation=operation).observe(
                time.perf_counter() - started
            )
        self.key_operations.labels(operation=operation, outcome=outcome(result)).inc()
        return result

    def exposition(self) -> bytes:
        """The text format for /metrics: every worker's values when they share a directory."""
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def process_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges from the shared directory (multiprocess mode)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
