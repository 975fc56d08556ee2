"""Identity providers: OpenID Connect and OpenShift OAuth, through authlib's Starlette client.

The state, nonce and PKCE verifier of a login in progress live in the signed session cookie
(authlib keeps them there under `_state_<provider>_<state>`), so any replica can finish it.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from authlib.integrations.httpx_client._compat import httpx2 as authlib_httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from app.services.users import LoginIdentity
from app.settings import AuthMode, Settings

log = logging.getLogger(__name__)

# Generous for a login page, short enough that a hung provider does not hold a worker.
_PROVIDER_TIMEOUT_SECONDS = 10.0
# authlib talks through httpx2 when that is installed, else through httpx: expect either.
PROVIDER_UNREACHABLE: tuple[type[Exception], ...] = (httpx.HTTPError, authlib_httpx.HTTPError)
_PROVIDER_STATUS_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPStatusError,
    authlib_httpx.HTTPStatusError,
)
OPENSHIFT_SCOPE = "user:info"
OPENSHIFT_USER_PATH = "/apis/user.openshift.io/v1/users/~"
# authlib's session key for a login in progress.
_PENDING_LOGIN_PREFIX = "_state_"
# OpenShift users have no e-mail address; names that are not one get this domain.
OPENSHIFT_EMAIL_DOMAIN = "openshift.local"


class LoginRefusal(StrEnum):
    """Why a callback did not sign anyone in."""

    INVALID_STATE = "INVALID_STATE"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    INVALID_ID_TOKEN = "INVALID_ID_TOKEN"  # noqa: S105 (a reason, not a token)
    INCOMPLETE_IDENTITY = "INCOMPLETE_IDENTITY"


@dataclass(frozen=True, slots=True)
class LoginRefused:
    reason: LoginRefusal
    detail: str


class IdentityProvider(Protocol):
    name: str

    async def authorization_redirect(self, request: Request, callback_url: str) -> Response:
        """Start a login: remember state, nonce and verifier in the session; go to the provider."""
        ...

    async def identity(self, request: Request) -> LoginIdentity | LoginRefused:
        """Finish a login from the provider's callback: who signed in, or why nobody did."""
        ...

    async def end_session_url(self, post_logout_url: str) -> str | None:
        """Where to send the browser to end the provider's own session, if it has a way."""
        ...


def forget_pending_logins(session: dict[str, Any]) -> None:
    """Drop every login in progress from the session: state, nonce and verifier alike."""
    for key in [k for k in session if k.startswith(_PENDING_LOGIN_PREFIX)]:
        del session[key]


def identity_provider(settings: Settings) -> IdentityProvider | None:
    """The provider for AUTH_MODE (None for dev). Nothing is fetched until the first login."""
    if settings.auth_mode is AuthMode.OIDC:
        return OidcProvider(settings)
    if settings.auth_mode is AuthMode.OPENSHIFT:
        return OpenShiftProvider(settings)
    return None


def _tls_verification(settings: Settings) -> ssl.SSLContext | bool:
    if not settings.auth_verify_tls:
        log.warning("AUTH_VERIFY_TLS=false: the identity provider's certificate is not checked")
        return False
    if settings.auth_ca_bundle:
        return ssl.create_default_context(cafile=settings.auth_ca_bundle)
    return True


def _client_kwargs(settings: Settings, scope: str) -> dict[str, Any]:
    return {
        "scope": scope,
        "code_challenge_method": "S256",
        "verify": _tls_verification(settings),
        "timeout": _PROVIDER_TIMEOUT_SECONDS,
    }


def _refusal(exc: OAuthError | JoseError) -> LoginRefused:
    if isinstance(exc, JoseError):
        return LoginRefused(LoginRefusal.INVALID_ID_TOKEN, f"ID token rejected: {exc}")
    if exc.error == "mismatching_state":
        return LoginRefused(LoginRefusal.INVALID_STATE, "Unknown or expired login state")
    return LoginRefused(LoginRefusal.PROVIDER_ERROR, f"{exc.error}: {exc.description or ''}")


class OidcProvider:
    name = "oidc"

    def __init__(self, settings: Settings) -> None:
        # Settings refuse AUTH_MODE=oidc without these three.
        assert settings.oidc_issuer
        assert settings.oidc_client_id
        assert settings.oidc_client_secret
        self._issuer = settings.oidc_issuer
        self._client_id = settings.oidc_client_id
        self._groups_claim = settings.oidc_groups_claim
        self._client = OAuth().register(
            self.name,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            server_metadata_url=f"{self._issuer.rstrip('/')}/.well-known/openid-configuration",
            client_kwargs=_client_kwargs(settings, settings.oidc_scopes),
        )

    async def authorization_redirect(self, request: Request, callback_url: str) -> Response:
        response: Response = await self._client.authorize_redirect(request, callback_url)
        return response

    async def identity(self, request: Request) -> LoginIdentity | LoginRefused:
        issuer = request.query_params.get("iss")
        if issuer is not None and issuer != self._issuer:
            # RFC 9207: an answer that names another issuer is a mix-up attempt.
            return LoginRefused(LoginRefusal.PROVIDER_ERROR, f"Answer from issuer {issuer!r}")
        try:
            token = await self._client.authorize_access_token(
                request,
                # authlib checks `aud` only through `azp` unless told: require both here.
                claims_options={
                    "iss": {"essential": True, "value": self._issuer},
                    "aud": {"essential": True, "value": self._client_id},
                },
            )
        except (OAuthError, JoseError) as exc:
            return _refusal(exc)
        id_claims = token.get("userinfo")
        if not id_claims:
            return LoginRefused(LoginRefusal.INVALID_ID_TOKEN, "The provider sent no ID token")
        try:
            userinfo = await self._client.userinfo(token=token)
        except _PROVIDER_STATUS_ERRORS as exc:
            return LoginRefused(LoginRefusal.PROVIDER_ERROR, f"userinfo: {exc}")
        if userinfo.get("sub") != id_claims["sub"]:
            # OpenID Connect Core 5.3.2: a userinfo response for someone else must be ignored.
            return LoginRefused(LoginRefusal.INCOMPLETE_IDENTITY, "userinfo is for another subject")
        claims = {**id_claims, **userinfo}
        return self._login_identity(claims, issuer=str(id_claims["iss"]))

    def _login_identity(
        self, claims: dict[str, Any], *, issuer: str
    ) -> LoginIdentity | LoginRefused:
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            return LoginRefused(LoginRefusal.INCOMPLETE_IDENTITY, "The provider sent no e-mail")
        groups = claims.get(self._groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        username = claims.get("preferred_username") or email
        verified = claims.get("email_verified")
        return LoginIdentity(
            provider=self.name,
            # The ID token's `iss`: authlib checked it equals OIDC_ISSUER.
            issuer=issuer,
            subject=str(claims["sub"]),
            username=str(username),
            email=email,
            full_name=claims.get("name"),
            groups=tuple(str(g) for g in groups),
            email_verified=verified if isinstance(verified, bool) else None,
        )

    async def end_session_url(self, post_logout_url: str) -> str | None:
        metadata = await self._client.load_server_metadata()
        endpoint = metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        query = urlencode(
            {"client_id": self._client_id, "post_logout_redirect_uri": post_logout_url}
        )
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{query}"


class OpenShiftProvider:
    name = "openshift"

    def __init__(self, settings: Settings) -> None:
        # Settings refuse AUTH_MODE=openshift without these three.
        assert settings.openshift_api_url
        assert settings.openshift_client_id
        assert settings.openshift_client_secret
        self._api_url = settings.openshift_api_url.rstrip("/")
        self._client = OAuth().register(
            self.name,
            client_id=settings.openshift_client_id,
            client_secret=settings.openshift_client_secret.get_secret_value(),
            server_metadata_url=f"{self._api_url}/.well-known/oauth-authorization-server",
            client_kwargs=_client_kwargs(settings, OPENSHIFT_SCOPE),
        )

    async def authorization_redirect(self, request: Request, callback_url: str) -> Response:
        response: Response = await self._client.authorize_redirect(request, callback_url)
        return response

    async def identity(self, request: Request) -> LoginIdentity | LoginRefused:
        try:
            token = await self._client.authorize_access_token(request)
        except OAuthError as exc:
            return _refusal(exc)
        response = await self._client.get(f"{self._api_url}{OPENSHIFT_USER_PATH}", token=token)
        if response.status_code != HTTPStatus.OK:
            return LoginRefused(LoginRefusal.PROVIDER_ERROR, f"users/~: {response.status_code}")
        user = response.json()
        metadata = user.get("metadata") or {}
        name, uid = metadata.get("name"), metadata.get("uid")
        if not isinstance(name, str) or not name or not isinstance(uid, str) or not uid:
            return LoginRefused(LoginRefusal.INCOMPLETE_IDENTITY, "users/~ has no name or uid")
        return LoginIdentity(
            provider=self.name,
            # The UID is unique within one cluster, which its API server's address names.
            issuer=self._api_url,
            subject=uid,
            username=name,
            email=name if "@" in name else f"{name}@{OPENSHIFT_EMAIL_DOMAIN}",
            full_name=user.get("fullName") or None,
            groups=tuple(str(g) for g in user.get("groups") or ()),
        )

    async def end_session_url(self, post_logout_url: str) -> str | None:
        # OpenShift's OAuth server has no end-session endpoint.
        return None
