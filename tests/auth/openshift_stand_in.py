"""A stand-in for an OpenShift cluster's OAuth server and user API, as the BFF sees them.

It serves the API server's `/.well-known/oauth-authorization-server`, `/oauth/authorize`
(already signed in at the cluster: it answers with a code at once), `/oauth/token` (client
secret, single-use codes, PKCE) and `/apis/user.openshift.io/v1/users/~`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "litemaas"
CLIENT_SECRET = "openshift-test-client-secret-0123456789"


@dataclass(frozen=True, slots=True)
class _PendingCode:
    user: dict[str, Any]
    redirect_uri: str
    code_challenge: str


@dataclass
class OpenShiftStandIn:
    base_url: str
    redirect_uri: str
    # The cluster user whose browser is signed in at the cluster.
    user: dict[str, Any]
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    _codes: dict[str, _PendingCode] = field(default_factory=dict)
    _tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", self._metadata),
                Route("/oauth/authorize", self._authorize),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/apis/user.openshift.io/v1/users/~", self._current_user),
            ]
        )

    async def _metadata(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.base_url,
                "authorization_endpoint": f"{self.base_url}/oauth/authorize",
                "token_endpoint": f"{self.base_url}/oauth/token",
                "scopes_supported": [
                    "user:check-access",
                    "user:full",
                    "user:info",
                    "user:list-projects",
                    "user:list-scoped-projects",
                ],
                "response_types_supported": ["code", "token"],
                "grant_types_supported": ["authorization_code", "implicit"],
                "code_challenge_methods_supported": ["plain", "S256"],
            }
        )

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("redirect_uri") != self.redirect_uri:
            return _oauth_error("unauthorized_client", 400)
        if query.get("response_type") != "code" or query.get("scope") != "user:info":
            return _oauth_error("invalid_request", 400)
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _oauth_error("invalid_request", 400)
        code = secrets.token_urlsafe(24)
        self._codes[code] = _PendingCode(self.user, self.redirect_uri, query["code_challenge"])
        answer = {"code": code, "state": query.get("state", "")}
        return RedirectResponse(f"{self.redirect_uri}?{urlencode(answer)}", status_code=302)

    async def _token(self, request: Request) -> Response:
        if request.headers.get("authorization") != _basic(CLIENT_ID, CLIENT_SECRET):
            return _oauth_error("invalid_client", 401)
        form = dict(parse_qsl((await request.body()).decode()))
        pending = self._codes.pop(form.get("code", ""), None)
        if pending is None or form.get("grant_type") != "authorization_code":
            return _oauth_error("invalid_grant", 400)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != pending.code_challenge:
            return _oauth_error("invalid_grant", 400)
        if form.get("redirect_uri") != pending.redirect_uri:
            return _oauth_error("invalid_grant", 400)
        token = f"sha256~{secrets.token_urlsafe(32)}"
        self._tokens[token] = pending.user
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 86400,
                "scope": "user:info",
            }
        )

    async def _current_user(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            return JSONResponse(
                {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401},
                status_code=401,
            )
        return JSONResponse({"kind": "User", "apiVersion": "user.openshift.io/v1", **user})


def openshift_user(name: str, *, full_name: str | None, groups: list[str]) -> dict[str, Any]:
    """A `User` as the cluster's user API answers it for `~`."""
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{hashlib.sha256(name.encode()).hexdigest()[:16]}",
            "resourceVersion": "1",
        },
        "fullName": full_name,
        "identities": [f"htpasswd:{name}"],
        "groups": groups,
    }


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _oauth_error(error: str, status: int) -> Response:
    return JSONResponse({"error": error}, status_code=status)
