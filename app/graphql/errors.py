"""Errors as data: every mutation result is a union of a success type and these error types."""

from __future__ import annotations

import strawberry

from app.failures import Failure, FailureCode

ErrorCode = strawberry.enum(
    FailureCode,
    name="ErrorCode",
    description="Why an operation did not succeed; the frontend maps each code to words.",
)


@strawberry.interface(description="An expected failure, returned as data with a code.")
class UserError:
    code: FailureCode
    message: str


@strawberry.type
class ValidationError(UserError):
    field: str | None = strawberry.field(description="The input field at fault, if one is.")


@strawberry.type
class NotFoundError(UserError):
    pass


@strawberry.type
class AlreadySubscribedError(UserError):
    model_id: strawberry.ID


@strawberry.type
class ModelAccessDeniedError(UserError):
    model_ids: list[strawberry.ID] = strawberry.field(
        description="The models the request may not use."
    )


@strawberry.type
class KeyLimitReachedError(UserError):
    pass


@strawberry.type
class LitellmUnavailableError(UserError):
    pass


@strawberry.type
class UserNotFoundLitellmError(UserError):
    pass


@strawberry.type
class InvalidApiKeyError(UserError):
    pass


def user_error(failure: Failure) -> UserError:
    """The GraphQL error type for a service failure."""
    code, message = failure.code, failure.message
    ids = [strawberry.ID(m) for m in failure.model_ids]
    match code:
        case FailureCode.VALIDATION_FAILED:
            return ValidationError(code=code, message=message, field=failure.field)
        case FailureCode.NOT_FOUND:
            return NotFoundError(code=code, message=message)
        case FailureCode.ALREADY_SUBSCRIBED:
            return AlreadySubscribedError(code=code, message=message, model_id=ids[0])
        case FailureCode.MODEL_ACCESS_DENIED:
            return ModelAccessDeniedError(code=code, message=message, model_ids=ids)
        case FailureCode.KEY_LIMIT_REACHED:
            return KeyLimitReachedError(code=code, message=message)
        case FailureCode.LITELLM_UNAVAILABLE:
            return LitellmUnavailableError(code=code, message=message)
        case FailureCode.USER_NOT_FOUND_LITELLM:
            return UserNotFoundLitellmError(code=code, message=message)
        case FailureCode.INVALID_API_KEY:
            return InvalidApiKeyError(code=code, message=message)
