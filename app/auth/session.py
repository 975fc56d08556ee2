"""The signed session cookie: it carries the user id and an expiry, nothing else of value."""

from __future__ import annotations

import json
import time
import uuid
from base64 import b64decode
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
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


class SessionCookie:
    """Who is signed in, read from the cookie the session middleware writes.

    For routes that never change the session (GraphQL): the middleware would also re-sign and
    re-send the cookie with every answer, which extends nothing (the expiry is inside it).
    """

    def __init__(self, settings: Settings) -> None:
        self._signer = TimestampSigner(settings.session_secret.get_secret_value())
        self._max_age = settings.session_max_age

    def user_id(self, conn: HTTPConnection) -> uuid.UUID | None:
        """The signed-in user's id, or None when anonymous, expired or tampered with."""
        cookie = conn.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            session = json.loads(b64decode(self._signer.unsign(cookie, max_age=self._max_age)))
        except (BadSignature, ValueError):
            return None
        return _user_id(session) if isinstance(session, dict) else None


def _user_id(session: dict[str, Any]) -> uuid.UUID | None:
    raw_id = session.get(_USER_ID)
    expires = session.get(_EXPIRES)
    if not isinstance(raw_id, str) or not isinstance(expires, int) or expires <= time.time():
        return None
    try:
        return uuid.UUID(raw_id)
    except ValueError:
        return None
