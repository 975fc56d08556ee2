"""SQLModel tables. The LiteMaaS user id is also the LiteLLM `user_id`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Column, Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        # asyncpg gives a timestamptz as an aware datetime in UTC already; with nothing to
        # convert, the reader's statements (run on asyncpg without SQLAlchemy) return the very
        # values SQLAlchemy would.
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)


def _enum_column(enum: type[StrEnum], *, default: StrEnum, index: bool = False) -> Any:
    # VARCHAR rather than a native PostgreSQL enum: adding a value needs no migration.
    return Field(
        default=default,
        sa_column=Column(
            sa.Enum(enum, native_enum=False, length=16, values_callable=_enum_values),
            nullable=False,
            index=index,
        ),
    )


def _enum_values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def _timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SyncStatus(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    ERROR = "error"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    DENIED = "denied"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


class ApiKeyStatus(StrEnum):
    # PENDING: the local row exists, the LiteLLM key may not yet (or no longer).
    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"


class User(SQLModel, table=True):
    """A portal account: its identity provider's (issuer, subject), never its e-mail address."""

    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("oauth_issuer", "oauth_subject", name="uq_users_issuer_subject"),
        # One account per e-mail address, compared without case: two first sign-ins of
        # different identities with one address cannot both succeed. An empty address (none
        # is accepted at sign-in; older rows may have one) links nothing, so it is left out.
        sa.Index(
            "uq_users_email_lower",
            sa.text("lower(email)"),
            unique=True,
            postgresql_where=sa.text("email <> ''"),
            sqlite_where=sa.text("email <> ''"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(max_length=255, index=True)
    email: str = Field(max_length=320, index=True)
    full_name: str | None = Field(default=None, max_length=255)
    oauth_provider: str = Field(max_length=64)
    oauth_subject: str = Field(max_length=255)
    # None only on accounts recorded before issuers were: the first sign-in through their
    # provider (same provider name and subject) records it.
    oauth_issuer: str | None = Field(default=None, max_length=512)
    # Part of every session cookie; raising it ends every session the user has.
    session_generation: int = 0
    roles: list[str] = Field(default_factory=lambda: ["user"], sa_column=Column(sa.JSON))
    is_active: bool = True
    max_budget: float
    tpm_limit: int
    rpm_limit: int
    sync_status: SyncStatus = _enum_column(SyncStatus, default=SyncStatus.PENDING, index=True)
    sync_error: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    sync_attempts: int = 0
    last_synced_at: datetime | None = _timestamp(nullable=True)
    next_sync_at: datetime | None = _timestamp(nullable=True)
    last_login_at: datetime | None = _timestamp(nullable=True)
    # What LiteLLM reports the user has spent, as of `spend_synced_at` (None: never synced).
    spend: float | None = None
    budget_reset_at: datetime | None = _timestamp(nullable=True)
    spend_synced_at: datetime | None = _timestamp(nullable=True)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class Model(SQLModel, table=True):
    __tablename__ = "models"

    # The LiteLLM `model_name`; may contain `/` (e.g. `ollama/llama2`).
    id: str = Field(primary_key=True, max_length=255)
    name: str = Field(max_length=255)
    provider: str | None = Field(default=None, max_length=128)
    description: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    context_length: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    capabilities: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON))
    restricted_access: bool = False
    available: bool = True
    synced_at: datetime | None = _timestamp(nullable=True)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "model_id", name="uq_subscriptions_user_model"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    model_id: str = Field(foreign_key="models.id", max_length=255, index=True)
    status: SubscriptionStatus = _enum_column(SubscriptionStatus, default=SubscriptionStatus.ACTIVE)
    cancelled_at: datetime | None = _timestamp(nullable=True)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ApiKey(SQLModel, table=True):
    """A virtual key in LiteLLM, found there again by `key_alias` = this id.

    The secret itself is never stored: only its sha256 (which is also LiteLLM's `token`)
    and a short prefix for display.
    """

    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=255)
    prefix: str | None = Field(default=None, max_length=32)
    secret_sha256: str | None = Field(default=None, max_length=64, unique=True)
    status: ApiKeyStatus = _enum_column(ApiKeyStatus, default=ApiKeyStatus.PENDING, index=True)
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    budget_duration: str | None = Field(default=None, max_length=32)
    expires_at: datetime | None = _timestamp(nullable=True)
    revoked_at: datetime | None = _timestamp(nullable=True)
    # After a rotation, the replaced secret's sha256 keeps working until `previous_valid_until`.
    previous_secret_sha256: str | None = Field(default=None, max_length=64, unique=True, index=True)
    previous_valid_until: datetime | None = _timestamp(nullable=True)
    # Set while an update or a rotation is being applied in LiteLLM: if it stays set (a crash),
    # the reconciler makes LiteLLM match this row again.
    changing_since: datetime | None = _timestamp(nullable=True)
    # What LiteLLM reports the key has spent, as of `spend_synced_at` (None: never synced).
    spend: float | None = None
    spend_synced_at: datetime | None = _timestamp(nullable=True)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ApiKeyModel(SQLModel, table=True):
    __tablename__ = "api_key_models"

    api_key_id: uuid.UUID = Field(foreign_key="api_keys.id", ondelete="CASCADE", primary_key=True)
    model_id: str = Field(foreign_key="models.id", max_length=255, primary_key=True, index=True)


class SubscriptionStatusChange(SQLModel, table=True):
    """One step of a subscription's history: who moved it from which status to which, and why."""

    __tablename__ = "subscription_status_changes"
    __table_args__ = (
        sa.Index("ix_subscription_status_changes_subscription", "subscription_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subscription_id: uuid.UUID = Field(foreign_key="subscriptions.id", ondelete="CASCADE")
    # None for the step that created the subscription.
    from_status: SubscriptionStatus | None = Field(
        default=None,
        sa_column=Column(
            sa.Enum(SubscriptionStatus, native_enum=False, length=16, values_callable=_enum_values),
            nullable=True,
        ),
    )
    to_status: SubscriptionStatus = _enum_column(
        SubscriptionStatus, default=SubscriptionStatus.ACTIVE
    )
    actor_id: uuid.UUID | None = None
    reason: str | None = Field(default=None, sa_column=Column(sa.Text, nullable=True))
    created_at: datetime = _timestamp()


class AuditEvent(SQLModel, table=True):
    """Who did what to which resource, and whether it worked. Never holds a secret."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_resource", "resource_id", "created_at"),
        sa.Index("ix_audit_events_created_at", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(max_length=64, index=True)
    resource_type: str = Field(max_length=64)
    resource_id: str | None = Field(default=None, max_length=255)
    success: bool = True
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON))
    created_at: datetime = _timestamp()


class SafetyHold(SQLModel, table=True):
    """A mass change an automatic job refused to make, waiting until it clears or is confirmed.

    One row per kind of change at most. `id` names this proposal: a new one is made whenever
    the set of changes differs, so a confirmation applies to exactly what the admin saw.
    """

    __tablename__ = "safety_holds"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=32, unique=True)
    # What the job would change: key ids or model ids.
    items: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON, nullable=False))
    # How many there are of what it would change (active keys, available models).
    total: int
    passes_held: int = 1
    detected_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()
    confirmed_by: uuid.UUID | None = None
    confirmed_at: datetime | None = _timestamp(nullable=True)


class RuntimeSetting(SQLModel, table=True):
    """A setting administrators change while the service runs (every worker reads it again
    within seconds); without a row, the environment variable of the same name decides."""

    __tablename__ = "runtime_settings"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=64)
    updated_at: datetime = _timestamp()
    updated_by: uuid.UUID | None = None


class JobRun(SQLModel, table=True):
    """When a periodic job's latest pass started, whichever process ran it: with several
    processes, a pass runs in the first one due and the others skip it."""

    __tablename__ = "job_runs"

    name: str = Field(primary_key=True, max_length=64)
    started_at: datetime = _timestamp()
    passes: int = 1
