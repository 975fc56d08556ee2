"""The server's logging, in every worker process: JSON lines in production, plain text in
development; each line of a request carries its request id (and, once known, the user and
the operation: app/log_context.py).

uvicorn's own access log is off: `app/http/request_log.py` writes one line per request, with
its duration and status and without the query string.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from uvicorn.config import LOGGING_CONFIG

from app import log_context

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# What a request's line adds (app/http/request_log.py), copied into the JSON object.
_EXTRA = ("duration_ms", "outcome")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, user_id,
    operation, and for a request's own line duration_ms and outcome (its status)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = log_context.current()
        if request is not None:
            line["request_id"] = request.request_id
            line["user_id"] = request.user_id
            line["operation"] = request.operation
        for name in _EXTRA:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


class TextFormatter(logging.Formatter):
    """LOG_FORMAT with the request id (`-` outside a request)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        request = log_context.current()
        record.request_id = request.request_id if request is not None else "-"
        return super().format(record)


def log_config(level: str, *, json_lines: bool) -> dict[str, Any]:
    """uvicorn's logging configuration, applied by uvicorn in each worker it starts."""
    config = copy.deepcopy(LOGGING_CONFIG)
    formatter = {"()": f"{__name__}.{'JsonFormatter' if json_lines else 'TextFormatter'}"}
    config["formatters"] = {"default": formatter, "access": formatter, "service": formatter}
    config["handlers"]["service"] = {
        "formatter": "service",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["service"], "level": level.upper()}
    # httpx logs every request URL at INFO; URLs to LiteLLM may carry key identifiers. At
    # DEBUG httpcore logs response headers: a redirect's Location with an OAuth code, cookies.
    config["loggers"]["httpx"] = {"level": "WARNING"}
    config["loggers"]["httpcore"] = {"level": "WARNING"}
    # authlib logs the PKCE code verifier of each login at DEBUG.
    config["loggers"]["authlib"] = {"level": "INFO"}
    return config
