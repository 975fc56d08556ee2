"""LiteLLM's answer shapes: the error envelope and FastAPI's `detail` bodies."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# LiteLLM prints a missing `param` as null in some errors and as the string "None" in others.
PARAM_NONE = "None"


def litellm_error(
    status: int, message: str, error_type: str, param: str | None = None
) -> JSONResponse:
    """`{"error": {"message", "type", "param", "code": "<status>"}}`, as the proxy answers."""
    return JSONResponse(
        {"error": {"message": message, "type": error_type, "param": param, "code": str(status)}},
        status_code=status,
    )


def fastapi_detail(status: int, detail: Any) -> JSONResponse:
    """`{"detail": ...}`: what FastAPI itself answers (validation errors, /user/delete's 404)."""
    return JSONResponse({"detail": detail}, status_code=status)
