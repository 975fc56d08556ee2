"""Expected failures of the workflow, returned as values with a code the frontend maps to words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import asyncpg
import sqlalchemy.exc

from app.litellm.errors import LiteLLMError, LiteLLMUnavailable


class FailureCode(StrEnum):
    MODEL_ACCESS_DENIED = "MODEL_ACCESS_DENIED"
    USER_NOT_FOUND_LITELLM = "USER_NOT_FOUND_LITELLM"
    LITELLM_UNAVAILABLE = "LITELLM_UNAVAILABLE"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    KEY_LIMIT_REACHED = "KEY_LIMIT_REACHED"
    INVALID_API_KEY = "INVALID_API_KEY"
    INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"


@dataclass(frozen=True, slots=True)
class Failure:
    code: FailureCode
    message: str
    model_ids: tuple[str, ...] = ()
    field: str | None = None


def not_found(what: str) -> Failure:
    return Failure(FailureCode.NOT_FOUND, f"{what} not found")


def invalid_transition(what: str, status: str, action: str) -> Failure:
    return Failure(
        FailureCode.INVALID_STATE_TRANSITION, f"{what} is {status}: it cannot be {action}"
    )


def validation(message: str, *, field: str | None = None) -> Failure:
    return Failure(FailureCode.VALIDATION_FAILED, message, field=field)


def litellm_unavailable() -> Failure:
    return Failure(
        FailureCode.LITELLM_UNAVAILABLE,
        "LiteLLM is unavailable; nothing was changed. Please try again later.",
    )


def from_litellm_error(error: LiteLLMError, *, action: str) -> Failure:
    """A LiteLLM failure during `action`, without LiteLLM's own wording (it may hold key hashes)."""
    if isinstance(error, LiteLLMUnavailable):
        return litellm_unavailable()
    return validation(f"LiteLLM refused to {action}")


# What a request the database could not serve answers (503 outside GraphQL).
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable. Try again shortly."

# The connection could not be made, was lost, or the server is refusing or shutting down.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable host; TimeoutError too
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    # The server will not serve this connection: the database does not exist, or the role is
    # unknown, not allowed in, or its password wrong (InvalidPasswordError is one of these).
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
)


def database_unavailable(error: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, says the database cannot be reached."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, _UNREACHABLE):
            return True
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        error = getattr(error, "orig", None) or error.__cause__
        seen += 1
    return False
