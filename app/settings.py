"""Service configuration: one class, read from the environment and an optional `.env`."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from app import secret_strength

# Development defaults: good enough to run on a laptop, refused in production.
DEV_SESSION_SECRET = "dev-session-secret-change-me-0123456789abcdef"  # noqa: S105
DEV_LITELLM_MASTER_KEY = "sk-dev-master"
MIN_SECRET_LENGTH = 32
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class AuthMode(StrEnum):
    DEV = "dev"
    OIDC = "oidc"
    OPENSHIFT = "openshift"


class ModelAccessEnforcement(StrEnum):
    ENFORCE = "enforce"
    LOG_ONLY = "log-only"  # answer granted, but record and count the would-be denial
    OFF = "off"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8000
    web_concurrency: int = Field(default=1, ge=1)
    # Bounds on what one request may make the server hold: 413 above the first, 400 above the
    # second (the request line and headers together).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1)
    max_request_header_bytes: int = Field(default=16 * 1024, ge=1024)
    log_level: str = "info"

    database_url: str = "sqlite+aiosqlite:///./litemaas.db"
    database_pool_size: int = Field(default=10, ge=1)

    litellm_url: str | None = None
    litellm_master_key: SecretStr | None = None
    litellm_connect_timeout: float = Field(default=2.0, gt=0)
    litellm_read_timeout: float = Field(default=5.0, gt=0)
    litellm_breaker_fail_max: int = Field(default=5, ge=1)
    litellm_breaker_reset_seconds: float = Field(default=30.0, gt=0)
    litellm_probe_interval_seconds: float = Field(default=30.0, gt=0)
    catalog_sync_interval_seconds: float = Field(default=300.0, gt=0)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    # A key still pending after this long was left behind by a crash: the reconciler repairs it.
    pending_key_grace_seconds: float = Field(default=300.0, gt=0)
    user_sync_retry_base_seconds: float = Field(default=30.0, gt=0)
    user_sync_retry_max_seconds: float = Field(default=3600.0, gt=0)

    session_secret: SecretStr = SecretStr(DEV_SESSION_SECRET)
    session_max_age: int = Field(default=8 * 3600, gt=0)
    auth_mode: AuthMode = AuthMode.DEV
    # SSO group -> portal role; every signed-in user also has the role `user`.
    role_groups: dict[str, str] = {
        "litemaas-admins": "admin",
        "litemaas-readonly": "admin-readonly",
        "litemaas-users": "user",
    }

    # Where browsers reach this service; the SSO callback is PUBLIC_URL/auth/callback.
    public_url: str | None = None
    # Absolute `redirect` targets allowed after login (relative paths always are).
    frontend_origins: Annotated[list[str], NoDecode] = []
    post_logout_redirect_url: str | None = None
    # Where people land after sign-in and logout, and where refused sign-ins are sent back to
    # (with `?loginError=CODE`); PUBLIC_URL when unset. Its origin is an allowed `redirect`.
    frontend_url: str | None = None
    # SSO groups allowed to sign in; empty lets everyone the identity provider knows in.
    login_allowed_groups: Annotated[list[str], NoDecode] = []

    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    oidc_groups_claim: str = "groups"

    # The cluster's API server: it serves the OAuth metadata and the user and group API.
    openshift_api_url: str | None = None
    openshift_client_id: str | None = None
    openshift_client_secret: SecretStr | None = None

    # TLS towards the identity provider: a CA bundle for self-signed clusters, or no checks.
    auth_ca_bundle: str | None = None
    auth_verify_tls: bool = True

    default_user_max_budget: float = 100.0
    default_user_tpm_limit: int = 100_000
    default_user_rpm_limit: int = 120
    max_active_keys_per_user: int = Field(default=10, ge=1)
    # Key policy (empty: none). A key made without an expiry gets the default; an expiry
    # beyond the maximum, or a budget above KEY_MAX_BUDGET, is refused (VALIDATION_FAILED), and
    # a key made without a budget gets KEY_MAX_BUDGET.
    key_default_expiry_days: int | None = Field(default=None, ge=1)
    key_max_expiry_days: int | None = Field(default=None, ge=1)
    key_max_budget: float | None = Field(default=None, gt=0)
    # How often what each key and user has spent is read from LiteLLM (pages of keys and users).
    spend_sync_interval_seconds: float = Field(default=300.0, gt=0)
    # Only the value until an administrator changes it (`modelAccessEnforcementUpdate`); every
    # process reads the stored value again this often.
    model_access_enforcement: ModelAccessEnforcement = ModelAccessEnforcement.ENFORCE
    model_access_enforcement_refresh_seconds: float = Field(default=5.0, gt=0, le=10)
    # Safety valve of the reconciler and the catalogue sync: a pass that would revoke, delete
    # or retire more than this share of what there is, or more than this many at once, changes
    # none of them and waits (until the condition clears or an admin confirms). Changes of at
    # most SAFETY_VALVE_FLOOR pass, unless they are every one there is.
    safety_valve_max_share: float = Field(default=0.10, ge=0, le=1)
    safety_valve_max_count: int = Field(default=20, ge=0)
    safety_valve_floor: int = Field(default=2, ge=0)

    # Production runs the frontend's registered operations only (trusted documents); this lets
    # any document through, bounded by the limits below as in development.
    graphql_allow_arbitrary_documents: bool = False
    # Limits on every document, checked before execution: the token limit stops the parser
    # itself, so a huge document costs little to refuse.
    graphql_max_tokens: int = Field(default=1000, ge=1)
    graphql_max_aliases: int = Field(default=15, ge=0)
    graphql_max_depth: int = Field(default=10, ge=1)

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def dev_login_enabled(self) -> bool:
        return self.env is Environment.DEVELOPMENT and self.auth_mode is AuthMode.DEV

    @property
    def ide_enabled(self) -> bool:
        """GraphiQL and introspection: development only."""
        return not self.is_production

    @property
    def trusted_documents_only(self) -> bool:
        """Only registered operations execute: production, unless arbitrary documents are let in."""
        return self.is_production and not self.graphql_allow_arbitrary_documents

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def frontend_home(self) -> str:
        """The frontend's home page: FRONTEND_URL, else this service's base URL."""
        return (self.frontend_url or self.base_url).rstrip("/") + "/"

    @property
    def post_logout_url(self) -> str:
        return self.post_logout_redirect_url or self.frontend_home

    @property
    def allowed_redirect_origins(self) -> list[str]:
        """FRONTEND_ORIGINS and the origin of FRONTEND_URL."""
        parts = urlsplit(self.frontend_home)
        own = f"{parts.scheme}://{parts.netloc}".lower()
        return [*self.frontend_origins, own]

    @property
    def async_database_url(self) -> str:
        """The URL with an async driver, whichever spelling the operator used."""
        url = self.database_url
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url.removeprefix(plain)
        return url

    @field_validator("frontend_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator(
        "key_default_expiry_days", "key_max_expiry_days", "key_max_budget", mode="before"
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("login_allowed_groups", mode="before")
    @classmethod
    def _split_groups(cls, value: object) -> object:
        if isinstance(value, str):
            return [group.strip() for group in value.split(",") if group.strip()]
        return value

    @field_validator("frontend_url")
    @classmethod
    def _frontend_url_is_absolute(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("FRONTEND_URL must be an absolute http(s) URL")
            if parts.query or parts.fragment:
                # `?loginError=CODE` is appended to it.
                raise ValueError("FRONTEND_URL must have no query or fragment")
        return url

    @field_validator("frontend_origins")
    @classmethod
    def _origins_are_bare(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(f"FRONTEND_ORIGINS: {origin!r} is not an origin like https://host")
        return [origin.lower() for origin in origins]

    @model_validator(mode="after")
    def _refuse_incomplete_configuration(self) -> Settings:
        # Every problem at once, one line each, naming the setting and never its value.
        problems = [
            f"{name}: must be set when AUTH_MODE={self.auth_mode}"
            for name, value in self._sso_requirements()
            if not value
        ]
        problems += self._production_problems()
        if (
            self.key_default_expiry_days is not None
            and self.key_max_expiry_days is not None
            and self.key_default_expiry_days > self.key_max_expiry_days
        ):
            problems.append("KEY_DEFAULT_EXPIRY_DAYS: must not exceed KEY_MAX_EXPIRY_DAYS")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _sso_requirements(self) -> list[tuple[str, object]]:
        if self.auth_mode is AuthMode.OIDC:
            return [
                ("OIDC_ISSUER", self.oidc_issuer),
                ("OIDC_CLIENT_ID", self.oidc_client_id),
                ("OIDC_CLIENT_SECRET", _secret(self.oidc_client_secret)),
            ]
        if self.auth_mode is AuthMode.OPENSHIFT:
            return [
                ("OPENSHIFT_API_URL", self.openshift_api_url),
                ("OPENSHIFT_CLIENT_ID", self.openshift_client_id),
                ("OPENSHIFT_CLIENT_SECRET", _secret(self.openshift_client_secret)),
            ]
        return []

    def _production_problems(self) -> list[str]:
        if not self.is_production:
            return []
        problems = []
        if "database_url" not in self.model_fields_set:
            # The default SQLite file would live and die with the container.
            problems.append("DATABASE_URL: must be set (postgresql://USER:PASSWORD@HOST/DATABASE)")
        problems += _session_secret_problems(self.session_secret.get_secret_value())
        if not self.litellm_url:
            problems.append("LITELLM_URL: must be set to the LiteLLM proxy's address")
        master_key = self.litellm_master_key
        if master_key is None or master_key.get_secret_value() in ("", DEV_LITELLM_MASTER_KEY):
            problems.append("LITELLM_MASTER_KEY: must be set to the LiteLLM proxy's master key")
        if self.auth_mode is AuthMode.DEV:
            problems.append(
                "AUTH_MODE: must be oidc or openshift in production (dev sign-in is for `dev`)"
            )
        if not self.public_url or not self.public_url.startswith("https://"):
            # The session cookie is Secure in production: over plain HTTP nobody stays signed in.
            problems.append("PUBLIC_URL: must be set to the https:// address browsers use")
        return problems


def _session_secret_problems(secret: str) -> list[str]:
    if secret == DEV_SESSION_SECRET:
        problem = f"must be set to a random value of at least {MIN_SECRET_LENGTH} characters"
    elif len(secret) < MIN_SECRET_LENGTH:
        problem = f"is shorter than {MIN_SECRET_LENGTH} characters"
    elif not secret_strength.looks_random(secret):
        problem = "does not look random (words, repeats and sequences are guessed first)"
    else:
        return []
    return [f"SESSION_SECRET: {problem}; generate one with `{GENERATE_SECRET}`"]


class ConfigurationError(Exception):
    """Settings the service cannot start with: one line per problem, never a value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _ConfiguredEnv(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: str | None = None


def configured_env() -> str | None:
    """ENV as the environment or `.env` sets it, before a command decides the mode."""
    return _ConfiguredEnv().env


def load_settings(env: Environment | None = None) -> Settings:
    """Settings from the environment and `.env`, in mode `env` when a command decides it.

    Raises ConfigurationError, whose lines name each setting and its problem: pydantic's own
    message would echo the values it was given, secrets included.
    """
    try:
        return Settings() if env is None else Settings(env=env)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    except SettingsError as exc:
        # 'error parsing value for field "role_groups" from source ...': no value in it.
        field = re.search(r'field "(\w+)"', str(exc))
        problem = f"{field[1].upper()}: is not valid JSON" if field else str(exc)
        raise ConfigurationError([problem]) from None


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            name = str(error["loc"][0]).upper()
            lines.append(message if message.startswith(f"{name}:") else f"{name}: {message}")
        else:  # a model validator's lines, each already naming its setting
            lines.extend(message.splitlines())
    return lines


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
