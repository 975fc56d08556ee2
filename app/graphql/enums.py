"""The API's own enums. Each mirrors a storage or service enum member for member, by name, so
either side may change its values (or grow members it keeps to itself) without the schema
changing under the frontend; `api_value` maps one to the other."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

import strawberry

E = TypeVar("E", bound=Enum)


def api_value(enum: type[E], value: Enum) -> E:
    """The API's member of the same name as `value`."""
    return enum[value.name]


@strawberry.enum(name="ApiKeyStatus")
class ApiKeyStatusEnum(Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@strawberry.enum(name="SubscriptionStatus")
class SubscriptionStatusEnum(Enum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    DENIED = "DENIED"
    CANCELLED = "CANCELLED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"


@strawberry.enum(name="LitellmSyncStatus")
class LitellmSyncStatusEnum(Enum):
    PENDING = "PENDING"
    SYNCED = "SYNCED"
    ERROR = "ERROR"


@strawberry.enum(name="SafetyHoldKind")
class SafetyHoldKindEnum(Enum):
    REVOKE_MISSING_KEYS = "REVOKE_MISSING_KEYS"
    DELETE_ORPHAN_KEYS = "DELETE_ORPHAN_KEYS"
    RETIRE_MODELS = "RETIRE_MODELS"
    UNBLOCK_KEYS = "UNBLOCK_KEYS"
    NARROW_KEYS = "NARROW_KEYS"


@strawberry.enum(
    name="ModelAccessEnforcementMode",
    description="ENFORCE refuses a key a model it lacks; LOG_ONLY grants it but records and "
    "counts the would-be denial; OFF grants it.",
)
class ModelAccessEnforcementModeEnum(Enum):
    ENFORCE = "ENFORCE"
    LOG_ONLY = "LOG_ONLY"
    OFF = "OFF"


@strawberry.enum(name="HealthStatus")
class HealthStatusEnum(Enum):
    OK = "OK"
    DEGRADED = "DEGRADED"
    DOWN = "DOWN"


@strawberry.enum(name="CircuitBreakerState")
class CircuitBreakerStateEnum(Enum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@strawberry.enum(
    name="ErrorCode",
    description="Why an operation did not succeed; the frontend maps each code to words.",
)
class ErrorCode(Enum):
    MODEL_ACCESS_DENIED = "MODEL_ACCESS_DENIED"
    USER_NOT_FOUND_LITELLM = "USER_NOT_FOUND_LITELLM"
    LITELLM_UNAVAILABLE = "LITELLM_UNAVAILABLE"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    KEY_LIMIT_REACHED = "KEY_LIMIT_REACHED"
    INVALID_API_KEY = "INVALID_API_KEY"
    INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"
