"""The signed session cookie: the user id, their session generation and an expiry.

The generation is compared with the user's row on every request (`users.signed_in`), so the
server ends sessions by raising it: logout, deactivation, role loss, signing out everywhere.
"""

from __future__ import annotations

import json
import time
import uuid
from base64 import b64decode
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection

from app.settings import Settings

SESSION_COOKIE = "litemaas_session"
_USER_ID = "uid"
_GENERATION = "gen"
_EXPIRES = "exp"


@dataclass(frozen=True, slots=True)
class Session:
    """Whose session a cookie is, and which of their session generations it belongs to."""

    user_id: uuid.UUID
    generation: int


def session_middleware(settings: Settings) -> Middleware:
    return Middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.is_production,
    )


def sign_in(conn: HTTPConnection, user_id: uuid.UUID, generation: int, *, max_age: int) -> None:
    """Start a fresh session for the user (anything left from before is dropped)."""
    conn.session.clear()
    conn.session[_USER_ID] = str(user_id)
    conn.session[_GENERATION] = generation
    conn.session[_EXPIRES] = int(time.time()) + max_age


def current(conn: HTTPConnection) -> Session | None:
    """The session the middleware read from the cookie, if it is a signed-in, unexpired one."""
    return _session(conn.session)


def sign_out(conn: HTTPConnection) -> None:
    conn.session.clear()


class SessionCookie:
    """Who is signed in, read from the cookie the session middleware writes.

    For routes that never change the session (GraphQL): the middleware would also re-sign and
    re-send the cookie with every answer, which extends nothing (the expiry is inside it).

    A browser sends the same cookie with every request: once its signature has been checked,
    the cookie is remembered (the most recent `_KEPT`) with its content and the time it was
    signed, so that its age and expiry are checked again on each request, its signature not.
    """

    _KEPT = 1024

    def __init__(self, settings: Settings) -> None:
        self._signer = TimestampSigner(settings.session_secret.get_secret_value())
        self._max_age = settings.session_max_age
        self._verified: dict[str, tuple[int, dict[str, Any]]] = {}

    def session(self, conn: HTTPConnection) -> Session | None:
        """The signed-in session, or None when anonymous, expired or tampered with."""
        cookie = conn.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        verified = self._verified.get(cookie)
        if verified is None:
            verified = self._verify(cookie)
        # Remembered: its age checked as the signer checks it (whole seconds, none from the
        # future).
        elif not 0 <= int(time.time()) - verified[0] <= self._max_age:
            return None
        return _session(verified[1]) if verified is not None else None

    def _verify(self, cookie: str) -> tuple[int, dict[str, Any]] | None:
        """When the cookie was signed and its content, if its signature holds and it is not
        older than the sessions' maximum age."""
        try:
            value, signed_at = self._signer.unsign(
                cookie, max_age=self._max_age, return_timestamp=True
            )
            session = json.loads(b64decode(value))
        except (BadSignature, ValueError):
            return None
        if not isinstance(session, dict):
            return None
        if len(self._verified) >= self._KEPT:
            del self._verified[next(iter(self._verified))]
        verified = self._verified[cookie] = (int(signed_at.timestamp()), session)
        return verified


def _session(session: dict[str, Any]) -> Session | None:
    raw_id = session.get(_USER_ID)
    generation = session.get(_GENERATION)
    expires = session.get(_EXPIRES)
    if (
        not isinstance(raw_id, str)
        # A cookie from before generations existed has none: it signs nobody in.
        or not isinstance(generation, int)
        or isinstance(generation, bool)
        or not isinstance(expires, int)
        or expires <= time.time()
    ):
        return None
    try:
        return Session(uuid.UUID(raw_id), generation)
    except ValueError:
        return None
