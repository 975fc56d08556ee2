"""Sign-in routes: SSO login, its callback, logout, and the development login."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.auth.providers import (
    PROVIDER_UNREACHABLE,
    IdentityProvider,
    LoginRefused,
    forget_pending_logins,
)
from app.auth.session import sign_in, sign_out
from app.resources import Resources
from app.services import users

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# Backslashes (browsers read them as slashes) and control characters never belong in a target.
_UNSAFE_IN_TARGET = re.compile(r"[\\\x00-\x1f\x7f]")
DEV_PROVIDER = "dev"
CALLBACK_PATH = "/auth/callback"
# Where to go once signed in; kept in the session only while a login is pending.
_RETURN_TO = "login_return_to"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def login(request: Request) -> Response:
    """Send the browser to the identity provider; `redirect` says where to come back to."""
    provider = _identity_provider(request)
    if provider is None:
        return _error(404, "NOT_FOUND", "Not found")
    settings = _resources(request).settings
    return_to = return_target(request.query_params.get("redirect", "/"), settings.frontend_origins)
    if return_to is None:
        return _error(
            400,
            "VALIDATION_FAILED",
            "redirect: a path starting with a single / or an allowed frontend origin is required",
        )
    try:
        response = await provider.authorization_redirect(request, settings.base_url + CALLBACK_PATH)
    except PROVIDER_UNREACHABLE as exc:
        return _provider_unavailable(exc)
    request.session[_RETURN_TO] = return_to
    return response


async def callback(request: Request) -> Response:
    """Finish the login the provider sends back; sign the user in and return to the frontend."""
    provider = _identity_provider(request)
    if provider is None:
        return _error(404, "NOT_FOUND", "Not found")
    resources = _resources(request)
    return_to = request.session.pop(_RETURN_TO, "/")
    try:
        outcome = await provider.identity(request)
    except PROVIDER_UNREACHABLE as exc:
        return _provider_unavailable(exc)
    finally:
        forget_pending_logins(request.session)
    if isinstance(outcome, LoginRefused):
        log.info("login refused: %s (%r)", outcome.reason.value, outcome.detail)
        return _error(400, outcome.reason.value, outcome.detail)
    user = await users.sign_in(resources=resources, identity=outcome)
    if not user.is_active:
        return _error(403, "FORBIDDEN", "This account is disabled")
    sign_in(request, user.id, max_age=resources.settings.session_max_age)
    return RedirectResponse(return_to, status_code=302)


async def logout(request: Request) -> Response:
    """End the session here, then at the provider when it offers an end-session endpoint."""
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


def _provider_unavailable(exc: Exception) -> Response:
    log.warning("identity provider unreachable: %s: %s", exc.__class__.__name__, exc)
    return _error(502, "IDENTITY_PROVIDER_UNAVAILABLE", "The identity provider cannot be reached")


async def dev_login(request: Request) -> Response:
    """Sign in as anyone: development only (404 otherwise, as if the route did not exist)."""
    resources = _resources(request)
    settings = resources.settings
    if not settings.dev_login_enabled:
        return _error(404, "NOT_FOUND", "Not found")
    try:
        body: Any = await request.json()
    except json.JSONDecodeError:
        return _error(400, "VALIDATION_FAILED", "The body must be JSON")
    problems = _dev_login_problems(body)
    if problems:
        return _error(400, "VALIDATION_FAILED", "; ".join(problems))
    identity = users.LoginIdentity(
        provider=DEV_PROVIDER,
        subject=body["username"],
        username=body["username"],
        email=body["email"],
        full_name=body.get("fullName"),
        groups=tuple(body.get("groups", ())),
    )
    user = await users.sign_in(resources=resources, identity=identity)
    sign_in(request, user.id, max_age=settings.session_max_age)
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
