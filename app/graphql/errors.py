"""Errors as data: every mutation result is a union of a success type and these error types."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Why an operation did not succeed; the frontend maps each to words.")
class ErrorCode(Enum):
    MODEL_ACCESS_DENIED = "MODEL_ACCESS_DENIED"
    USER_NOT_FOUND_LITELLM = "USER_NOT_FOUND_LITELLM"
    LITELLM_UNAVAILABLE = "LITELLM_UNAVAILABLE"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    KEY_LIMIT_REACHED = "KEY_LIMIT_REACHED"
    INVALID_API_KEY = "INVALID_API_KEY"


@strawberry.interface(description="An expected failure, returned as data with a code.")
class UserError:
    code: ErrorCode
    message: str
