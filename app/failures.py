"""Expected failures of the workflow, returned as values with a code the frontend maps to words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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


@dataclass(frozen=True, slots=True)
class Failure:
    code: FailureCode
    message: str
    model_ids: tuple[str, ...] = ()
    field: str | None = None


def not_found(what: str) -> Failure:
    return Failure(FailureCode.NOT_FOUND, f"{what} not found")


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
