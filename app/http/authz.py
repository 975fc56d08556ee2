"""`GET /authz?model=ID` for gateways: may the bearer API key call this model?

200 granted, 400 `model` missing, repeated, longer than 255 characters or holding control
characters, 401 unknown/revoked/expired key, 403 model not allowed; the JSON body carries the
same codes as GraphQL's `modelAccess`.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.bearer import bearer_token
from app.failures import (
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_MESSAGE,
    Failure,
    FailureCode,
    database_unavailable,
)
from app.resources import Resources
from app.services import access

log = logging.getLogger(__name__)
_STATUS = {FailureCode.INVALID_API_KEY: 401, FailureCode.MODEL_ACCESS_DENIED: 403}


async def authz(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    with resources.metrics.authz_duration.time():
        return await _authz(request, resources)


async def _authz(request: Request, resources: Resources) -> Response:
    models = request.query_params.getlist("model")
    if len(models) != 1 or not models[0]:
        # Gateways and the BFF must agree on the model: no first-wins or last-wins guessing.
        return _json(
            {
                "allowed": False,
                "code": FailureCode.VALIDATION_FAILED,
                "message": "model= is required, once",
                "field": "model",
            },
            status_code=400,
        )
    model_id = models[0]
    try:
        result = await access.check_model_access(
            keys=resources.api_keys,
            metrics=resources.metrics,
            enforcement=resources.enforcement.mode,
            secret=bearer_token(request.headers.get("authorization")),
            model_id=model_id,
        )
    except Exception as error:
        if not database_unavailable(error):
            raise
        log.warning("access check: the database is unavailable (%s)", type(error).__name__)
        return _json(
            {
                "allowed": False,
                "code": DATABASE_UNAVAILABLE,
                "message": DATABASE_UNAVAILABLE_MESSAGE,
                "model": model_id,
            },
            status_code=503,
            headers={"Retry-After": "1"},
        )
    if isinstance(result, Failure):
        if result.code is FailureCode.VALIDATION_FAILED:
            # The value is not echoed: it may be long or hold control characters.
            return _json(
                {
                    "allowed": False,
                    "code": result.code,
                    "message": result.message,
                    "field": result.field,
                },
                status_code=400,
            )
        headers = (
            {"WWW-Authenticate": "Bearer"} if result.code is FailureCode.INVALID_API_KEY else None
        )
        return _json(
            {"allowed": False, "code": result.code, "message": result.message, "model": model_id},
            status_code=_STATUS[result.code],
            headers=headers,
        )
    return _json(
        {
            "allowed": True,
            "model": result.model_id,
            "allowedModels": list(result.allowed_model_ids),
            "enforced": not result.would_be_denied,
        }
    )


def _json(
    body: dict[str, Any], *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # orjson: this answer is on every gateway request.
    return Response(
        orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json"
    )


routes = [Route("/authz", authz, methods=["GET"])]
