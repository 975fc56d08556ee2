"""Service configuration: one class, read from the environment and an optional `.env`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults: good enough to run on a laptop, refused in production.
DEV_SESSION_SECRET = "dev-session-secret-change-me-0123456789abcdef"  # noqa: S105
DEV_LITELLM_MASTER_KEY = "sk-dev-master"
MIN_SECRET_LENGTH = 32


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

    default_user_max_budget: float = 100.0
    default_user_tpm_limit: int = 100_000
    default_user_rpm_limit: int = 120
    max_active_keys_per_user: int = Field(default=10, ge=1)
    model_access_enforcement: ModelAccessEnforcement = ModelAccessEnforcement.ENFORCE

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

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if not self.is_production:
            return self
        problems = []
        session_secret = self.session_secret.get_secret_value()
        if session_secret == DEV_SESSION_SECRET or len(session_secret) < MIN_SECRET_LENGTH:
            problems.append(
                f"SESSION_SECRET must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters"
            )
        if not self.litellm_url:
            problems.append("LITELLM_URL must be set")
        master_key = self.litellm_master_key
        if master_key is None or master_key.get_secret_value() in ("", DEV_LITELLM_MASTER_KEY):
            problems.append("LITELLM_MASTER_KEY must be set")
        if self.auth_mode is AuthMode.DEV:
            problems.append("AUTH_MODE=dev is not allowed in production (use oidc or openshift)")
        if problems:
            raise ValueError("refusing to start with ENV=production: " + "; ".join(problems))
        return self
