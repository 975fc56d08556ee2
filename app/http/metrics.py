"""`GET /metrics`: this process's counters and LiteLLM integration state, Prometheus text format."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.litellm.breaker import BreakerState
from app.resources import Resources
from app.services import health
from app.services.safety import HoldKind


async def metrics(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    counters = resources.counters
    litellm = health.litellm_health(litellm=resources.litellm)
    lines = [
        "# HELP litemaas_model_access_checks_total Model-access checks by outcome.",
        "# TYPE litemaas_model_access_checks_total counter",
        *(
            f'litemaas_model_access_checks_total{{outcome="{outcome}"}} {value}'
            for outcome, value in (
                ("granted", counters.access_granted),
                ("denied", counters.access_denied),
                ("would_be_denied", counters.access_would_be_denied),
                ("invalid_key", counters.access_invalid_key),
            )
        ),
        "# HELP litemaas_litellm_user_syncs_total LiteLLM user syncs by outcome.",
        "# TYPE litemaas_litellm_user_syncs_total counter",
        f'litemaas_litellm_user_syncs_total{{outcome="succeeded"}} {counters.user_sync_succeeded}',
        f'litemaas_litellm_user_syncs_total{{outcome="failed"}} {counters.user_sync_failed}',
        "# HELP litemaas_safety_valve_trips_total Passes that held a mass change, by kind.",
        "# TYPE litemaas_safety_valve_trips_total counter",
        *(
            f'litemaas_safety_valve_trips_total{{kind="{kind.value}"}} '
            f"{counters.safety_valve_trips[kind.value]}"
            for kind in HoldKind
        ),
        "# HELP litemaas_graphql_executor_fallbacks_total Objects whose plain fields graphql-core"
        " completed instead of the fast executor (a value of the answer was an error).",
        "# TYPE litemaas_graphql_executor_fallbacks_total counter",
        f"litemaas_graphql_executor_fallbacks_total {counters.graphql_executor_fallbacks}",
        "# HELP litemaas_litellm_circuit_breaker_state 1 for the breaker's current state.",
        "# TYPE litemaas_litellm_circuit_breaker_state gauge",
        *(
            f'litemaas_litellm_circuit_breaker_state{{state="{state.value}"}} '
            f"{int(state is litellm.circuit_breaker)}"
            for state in BreakerState
        ),
        "# HELP litemaas_litellm_consecutive_failures Failures counted by the breaker.",
        "# TYPE litemaas_litellm_consecutive_failures gauge",
        f"litemaas_litellm_consecutive_failures {litellm.consecutive_failures}",
        "# HELP litemaas_litellm_up 1 when the last LiteLLM probe succeeded.",
        "# TYPE litemaas_litellm_up gauge",
        f"litemaas_litellm_up {int(litellm.error is None and litellm.latency_ms is not None)}",
    ]
    if litellm.latency_ms is not None:
        lines += [
            "# HELP litemaas_litellm_probe_latency_seconds Latency of the last LiteLLM probe.",
            "# TYPE litemaas_litellm_probe_latency_seconds gauge",
            f"litemaas_litellm_probe_latency_seconds {litellm.latency_ms / 1000:.6f}",
        ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


routes = [Route("/metrics", metrics, methods=["GET"])]
