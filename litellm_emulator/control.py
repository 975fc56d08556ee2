"""The emulator's own control API under /_emulator/ (see the package docstring)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from litellm_emulator import bodies
from litellm_emulator.answers import fastapi_detail
from litellm_emulator.faults import CONTROL_PREFIX, Faults, Observed
from litellm_emulator.proxy import Caller, admin_caller
from litellm_emulator.store import ProxyStore


# The emulator puts these on its app's state: this module never imports the emulator, which
# imports it for its routes.
def _observed(request: Request) -> Observed:
    observed: Observed = request.app.state.observed
    return observed


def _store(request: Request) -> ProxyStore:
    store: ProxyStore = request.app.state.store
    return store


def _faults_body(faults: Faults) -> Response:
    return JSONResponse(
        {"down": faults.down, "latency": faults.latency, "error_rate": faults.error_rate}
    )


async def faults(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    current = _observed(request).faults
    if request.method == "DELETE":
        current.clear()
    elif request.method == "PATCH":
        body = await bodies.read_body(request, bodies.FaultSettings)
        if isinstance(body, Response):
            return body
        if body.down is not None:
            current.down = body.down
        if body.latency is not None:
            current.latency = body.latency
        if body.error_rate is not None:
            current.error_rate = body.error_rate
    return _faults_body(current)


async def add_model(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.ModelDeployment)
    if isinstance(body, Response):
        return body
    model = _store(request).add_model(body.model_name, model_info=body.model_info)
    return JSONResponse(model.entry(), status_code=201)


async def remove_model(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    models = _store(request).models
    name = request.path_params["model_name"]
    if name not in models:
        return fastapi_detail(404, f"no model named {name!r}")
    del models[name]
    return JSONResponse({"removed": name})


async def received(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    return JSONResponse(
        {"requests": [[method, path] for method, path in _observed(request).requests]}
    )


routes = [
    Route(f"{CONTROL_PREFIX}faults", faults, methods=["GET", "PATCH", "DELETE"]),
    Route(f"{CONTROL_PREFIX}models", add_model, methods=["POST"]),
    Route(f"{CONTROL_PREFIX}models/{{model_name:path}}", remove_model, methods=["DELETE"]),
    Route(f"{CONTROL_PREFIX}requests", received, methods=["GET"]),
]
