"""What the log lines of one request share: its request id, the signed-in user, the operation.

The request middleware (`app/http/request_log.py`) opens the `LogFields` of each request;
code that learns more about the request (the GraphQL view its operation, sign-in and the
GraphQL context the user) adds it here, and every log line of the request carries it
(`app/http/access_log.py`).
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(slots=True)
class LogFields:
    request_id: str
    user_id: str | None = None
    operation: str | None = None


_current: contextvars.ContextVar[LogFields | None] = contextvars.ContextVar(
    "request_log", default=None
)


def start(request_id: str) -> contextvars.Token[LogFields | None]:
    return _current.set(LogFields(request_id))


def end(token: contextvars.Token[LogFields | None]) -> None:
    _current.reset(token)


def current() -> LogFields | None:
    return _current.get()


def set_user(user_id: uuid.UUID) -> None:
    request = _current.get()
    if request is not None:
        request.user_id = str(user_id)


def set_operation(operation: str) -> None:
    request = _current.get()
    if request is not None:
        request.operation = operation
