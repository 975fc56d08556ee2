"""Sign-in routes."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.session import sign_in
from app.resources import Resources
from app.services import users

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
DEV_PROVIDER = "dev"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def dev_login(request: Request) -> Response:
    """Sign in as anyone: development only (404 otherwise, as if the route did not exist)."""
    resources: Resources = request.app.state.resources
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


routes = [Route("/auth/dev-login", dev_login, methods=["POST"])]
