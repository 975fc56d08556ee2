"""The signed session cookie: it carries the user id and an expiry, nothing else of value."""

from __future__ import annotations

import time
import uuid

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection

from app.settings import Settings

SESSION_COOKIE = "litemaas_session"
_USER_ID = "uid"
_EXPIRES = "exp"


def session_middleware(settings: Settings) -> Middleware:
    return Middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.is_production,
    )


def sign_in(conn: HTTPConnection, user_id: uuid.UUID, *, max_age: int) -> None:
    """Start a fresh session for the user (anything left from before is dropped)."""
    conn.session.clear()
    conn.session[_USER_ID] = str(user_id)
    conn.session[_EXPIRES] = int(time.time()) + max_age


def sign_out(conn: HTTPConnection) -> None:
    conn.session.clear()


def session_user_id(conn: HTTPConnection) -> uuid.UUID | None:
    """The signed-in user's id, or None when anonymous or expired."""
    raw_id = conn.session.get(_USER_ID)
    expires = conn.session.get(_EXPIRES)
    if not isinstance(raw_id, str) or not isinstance(expires, int) or expires <= time.time():
        return None
    try:
        return uuid.UUID(raw_id)
    except ValueError:
        return None
