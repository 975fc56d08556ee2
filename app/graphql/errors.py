"""Errors as data: every mutation result is a union of a success type and these error types."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from app.failures import Failure, FailureCode
from app.graphql.enums import ErrorCode, api_value


@strawberry.interface(description="An expected failure, returned as data with a code.")
class UserError:
    code: ErrorCode
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


@strawberry.type
class InvalidStateTransitionError(UserError):
    pass


# Every error type; a mutation's result names the few it may return.
AnyUserError = (
    ValidationError
    | NotFoundError
    | AlreadySubscribedError
    | ModelAccessDeniedError
    | KeyLimitReachedError
    | LitellmUnavailableError
    | UserNotFoundLitellmError
    | InvalidApiKeyError
    | InvalidStateTransitionError
)


def user_error(failure: Failure) -> AnyUserError:
    """The GraphQL error type for a service failure."""
    code, message = api_value(ErrorCode, failure.code), failure.message
    ids = [strawberry.ID(m) for m in failure.model_ids]
    match failure.code:
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
        case FailureCode.INVALID_STATE_TRANSITION:
            return InvalidStateTransitionError(code=code, message=message)


def query_refused(failure: Failure) -> GraphQLError:
    """A query's arguments refused: a top-level error with the failure's code (and field)."""
    extensions: dict[str, object] = {"code": failure.code.value}
    if failure.field is not None:
        extensions["field"] = failure.field
    return GraphQLError(failure.message, extensions=extensions)


def not_in_result(failure: Failure) -> TypeError:
    """For a failure the field's result type has no member for: a bug, never the client's."""
    return TypeError(f"{failure.code.value} is not among this field's results")
