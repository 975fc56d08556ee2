"""Sign-in routes: SSO login, its callback, logout, and the development login."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.auth.providers import (
    PROVIDER_UNREACHABLE,
    IdentityProvider,
    LoginRefusal,
    LoginRefused,
    forget_pending_logins,
)
from app.auth.session import current, sign_in, sign_out
from app.failures import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE, database_unavailable
from app.log_context import set_user
from app.metrics import ERROR, SUCCEEDED, outcome
from app.resources import Resources
from app.services import users
from app.services.users import SignInRefusal, SignInRefused
from app.settings import Settings

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# Backslashes (browsers read them as slashes) and control characters never belong in a target.
_UNSAFE_IN_TARGET = re.compile(r"[\\\x00-\x1f\x7f]")
DEV_PROVIDER = "dev"
CALLBACK_PATH = "/auth/callback"
# Where to go once signed in; kept in the session only while a login is pending.
_RETURN_TO = "login_return_to"
# A browser sent back from a refused sign-in finds the code under this query parameter.
LOGIN_ERROR_PARAM = "loginError"
IDENTITY_PROVIDER_UNAVAILABLE = "IDENTITY_PROVIDER_UNAVAILABLE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
# Every code a refused or failed sign-in sends the browser back with.
LOGIN_ERROR_CODES = frozenset(
    {*LoginRefusal, *SignInRefusal, IDENTITY_PROVIDER_UNAVAILABLE, DATABASE_UNAVAILABLE}
)
_DEV_LOGIN_STATUS = {
    SignInRefusal.ACCOUNT_CONFLICT: 409,
    SignInRefusal.NOT_ALLOWED: 403,
    SignInRefusal.FORBIDDEN: 403,
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def login(request: Request) -> Response:
    """Send the browser to the identity provider; `redirect` says where to come back to."""
    provider = _identity_provider(request)
    if provider is None:
        return _error(404, "NOT_FOUND", "Not found")
    settings = _resources(request).settings
    return_to = return_target(
        request.query_params.get("redirect", settings.frontend_home),
        settings.allowed_redirect_origins,
    )
    if return_to is None:
        return _error(
            400,
            "VALIDATION_FAILED",
            "redirect: a path starting with a single / or an allowed frontend origin is required",
        )
    try:
        response = await provider.authorization_redirect(request, settings.base_url + CALLBACK_PATH)
    except PROVIDER_UNREACHABLE as exc:
        # A sign-in that ends here, before the provider was reached.
        _resources(request).metrics.sign_ins.labels(
            outcome=IDENTITY_PROVIDER_UNAVAILABLE.lower()
        ).inc()
        return _provider_unavailable(exc, settings)
    request.session[_RETURN_TO] = return_to
    return response


async def callback(request: Request) -> Response:
    """Finish the login the provider sends back; sign the user in and return to the frontend.

    A refused sign-in goes back to the frontend too, with `?loginError=CODE`.
    """
    provider = _identity_provider(request)
    if provider is None:
        return _error(404, "NOT_FOUND", "Not found")
    metrics = _resources(request).metrics
    with metrics.sign_in_duration.time():
        try:
            response, result = await _finish_login(request, provider)
        except Exception:
            metrics.sign_ins.labels(outcome=ERROR).inc()
            raise
    metrics.sign_ins.labels(outcome=result).inc()
    return response


async def _finish_login(request: Request, provider: IdentityProvider) -> tuple[Response, str]:
    """The callback's answer and its outcome (`succeeded` or the refusal's code, lower case)."""
    resources = _resources(request)
    settings = resources.settings
    return_to = request.session.pop(_RETURN_TO, settings.frontend_home)
    try:
        identity = await provider.identity(request)
    except PROVIDER_UNREACHABLE as exc:
        return _provider_unavailable(exc, settings), IDENTITY_PROVIDER_UNAVAILABLE.lower()
    finally:
        forget_pending_logins(request.session)
    if isinstance(identity, LoginRefused):
        log.info("login refused: %s (%r)", identity.reason.value, identity.detail)
        return _back_to_frontend(settings, identity.reason.value), identity.reason.value.lower()
    try:
        user = await _record_sign_in(resources, identity)
    except Exception as error:
        if not _database_down("sign-in", error):
            raise
        return _back_to_frontend(settings, DATABASE_UNAVAILABLE), ERROR
    if isinstance(user, SignInRefused):
        return _back_to_frontend(settings, user.code.value), outcome(user)
    set_user(user.id)
    sign_in(request, user.id, user.session_generation, max_age=settings.session_max_age)
    return RedirectResponse(return_to, status_code=302), SUCCEEDED


async def logout(request: Request) -> Response:
    """End the session (for every copy of its cookie), then at the provider if it can."""
    session = current(request)
    if session is not None:
        # Only a current session can end the others: a stale copy of the cookie ends nothing.
        try:
            await users.end_sessions(
                users=_resources(request).users,
                user_id=session.user_id,
                generation=session.generation,
            )
        except Exception as error:
            if not _database_down("sign-out", error):
                raise
            # Copies of the cookie elsewhere could not be ended: the session stays as it is,
            # and the person is told to try again, rather than signed out here alone.
            return _back_to_frontend(_resources(request).settings, DATABASE_UNAVAILABLE)
    sign_out(request)
    target = _resources(request).settings.post_logout_url
    provider = _identity_provider(request)
    if provider is not None:
        try:
            target = await provider.end_session_url(target) or target
        except PROVIDER_UNREACHABLE as exc:
            log.warning("identity provider unreachable at logout: %s", exc.__class__.__name__)
    return RedirectResponse(target, status_code=303)


def return_target(value: str, frontend_origins: list[str]) -> str | None:
    """The post-login target if it is safe: a local path, or a URL on an allowed origin."""
    if _UNSAFE_IN_TARGET.search(value):
        return None
    if value.startswith("/"):
        return None if value.startswith("//") else value
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme in ("http", "https") and origin in frontend_origins:
        return value
    return None


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def _identity_provider(request: Request) -> IdentityProvider | None:
    provider: IdentityProvider | None = request.app.state.identity_provider
    return provider


def _provider_unavailable(exc: Exception, settings: Settings) -> Response:
    log.warning("identity provider unreachable: %s: %s", exc.__class__.__name__, exc)
    return _back_to_frontend(settings, IDENTITY_PROVIDER_UNAVAILABLE)


async def _record_sign_in(
    resources: Resources, identity: users.LoginIdentity
) -> users.UserRead | SignInRefused:
    """The sign-in of every route (SSO callback, development sign-in), with what it uses."""
    return await users.sign_in(
        users=resources.users,
        sync=resources.user_sync,
        settings=resources.settings,
        identity=identity,
    )


def _database_down(action: str, error: Exception) -> bool:
    """Whether `error` is the database being unavailable (logged, without its details: it is
    answered with a code); any other error is the caller's to raise."""
    if not database_unavailable(error):
        return False
    log.warning("%s: the database is unavailable (%s)", action, type(error).__name__)
    return True


def _back_to_frontend(settings: Settings, code: str) -> Response:
    """Send a person whose sign-in (or sign-out) failed to the frontend, which explains the code."""
    target = f"{settings.frontend_home}?{urlencode({LOGIN_ERROR_PARAM: code})}"
    return RedirectResponse(target, status_code=303)


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


async def dev_login(request: Request) -> Response:
    """Sign in as anyone: development only (404 otherwise, as if the route did not exist)."""
    resources = _resources(request)
    settings = resources.settings
    if not settings.dev_login_enabled:
        return _error(404, "NOT_FOUND", "Not found")
    if not _is_json(request):
        # A cross-site form can send text/plain or a form body but not JSON without CORS
        # approval: refusing the rest stops a page from signing a visitor in as someone else.
        return _error(415, UNSUPPORTED_MEDIA_TYPE, "The body must be application/json")
    try:
        body: Any = await request.json()
    except json.JSONDecodeError:
        return _error(400, "VALIDATION_FAILED", "The body must be JSON")
    problems = _dev_login_problems(body)
    if problems:
        return _error(400, "VALIDATION_FAILED", "; ".join(problems))
    identity = users.LoginIdentity(
        provider=DEV_PROVIDER,
        issuer=users.DEV_ISSUER,
        subject=body["username"],
        username=body["username"],
        email=body["email"],
        full_name=body.get("fullName"),
        groups=tuple(body.get("groups", ())),
    )
    with resources.metrics.sign_in_duration.time():
        try:
            user = await _record_sign_in(resources, identity)
        except Exception as error:
            resources.metrics.sign_ins.labels(outcome=ERROR).inc()
            if not _database_down("sign-in", error):
                raise
            response = _error(503, DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE)
            response.headers["Retry-After"] = "1"
            return response
    resources.metrics.sign_ins.labels(outcome=outcome(user)).inc()
    if isinstance(user, SignInRefused):
        return _error(_DEV_LOGIN_STATUS[user.code], user.code.value, user.message)
    set_user(user.id)
    sign_in(request, user.id, user.session_generation, max_age=settings.session_max_age)
    return JSONResponse({"id": str(user.id), "username": user.username, "roles": user.roles})


def _dev_login_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["The body must be a JSON object"]
    problems = []
    username = body.get("username")
    if not isinstance(username, str) or not username.strip() or len(username) > 255:
        problems.append("username: a non-empty string of at most 255 characters is required")
    email = body.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email):
        problems.append("email: a valid e-mail address is required")
    groups = body.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        problems.append("groups: a list of strings is expected")
    full_name = body.get("fullName")
    if full_name is not None and not isinstance(full_name, str):
        problems.append("fullName: a string is expected")
    return problems


def routes(*, middleware: Sequence[Middleware]) -> list[Route]:
    """The sign-in routes, behind `middleware` (the session)."""
    return [
        Route("/auth/login", login, methods=["GET"], middleware=middleware),
        Route(CALLBACK_PATH, callback, methods=["GET"], middleware=middleware),
        Route("/auth/logout", logout, methods=["POST"], middleware=middleware),
        Route("/auth/dev-login", dev_login, methods=["POST"], middleware=middleware),
    ]
