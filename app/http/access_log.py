"""The server's logging: uvicorn's, with an access log that never shows a query string (it
carries the OAuth `code` and `state` of /auth/callback, and whatever else a client puts in a
URL), and the service's own loggers in every worker process."""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG


class HideQueryString(logging.Filter):
    """uvicorn logs `client - "METHOD path?query HTTP/x" status`; the path stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, applied by uvicorn in each worker it starts."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["hide_query_string"] = {"()": f"{__name__}.HideQueryString"}
    config["handlers"]["access"]["filters"] = ["hide_query_string"]
    config["formatters"]["service"] = {"format": LOG_FORMAT}
    config["handlers"]["service"] = {
        "formatter": "service",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["service"], "level": level.upper()}
    # httpx logs every request URL at INFO; URLs to LiteLLM may carry key identifiers.
    config["loggers"]["httpx"] = {"level": "WARNING"}
    return config
