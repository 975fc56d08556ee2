"""One log line per request, and a request id on every line of it and on the answer.

A client's (or proxy's) `X-Request-ID` is kept when it is 1 to 128 letters, digits, `.`, `_`
or `-`; otherwise the service makes one. Either way the answer carries it back in
`X-Request-ID`. The line names the path, never the query string (it carries the OAuth `code`
and `state` of /auth/callback, and whatever else a client puts in a URL).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import log_context

log = logging.getLogger("app.request")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_MAX_LOGGED_PATH = 200
# Polled by orchestrators and Prometheus every few seconds: their lines are debug only.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def request_id(scope: Scope) -> str:
    """The request's id: the one it came with when valid, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER.encode():
            given = str(value.decode("latin-1"))
            if _VALID_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestLog:
    """Pure ASGI, outermost: sees every answer, refusals of the other middleware included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = log_context.start(rid)
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), rid.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"][:_MAX_LOGGED_PATH]
            log.log(
                logging.DEBUG if path in QUIET_PATHS else logging.INFO,
                "%s %s %s",
                scope["method"],
                path,
                status,
                extra={
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "outcome": status,
                },
            )
            log_context.end(token)
