"""The GraphQL schema: every domain's queries and mutations merged into one."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError, GraphQLSchema, lexicographic_sort_schema
from graphql import print_schema as print_graphql_schema
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from app.db.errors import database_unavailable
from app.graphql.api_keys import ApiKeyMutation, ApiKeyQuery
from app.graphql.errors import UserError
from app.graphql.executor import PlainFieldExecutor
from app.graphql.health import HealthQuery
from app.graphql.models import ModelQuery
from app.graphql.safety import SafetyMutation
from app.graphql.subscriptions import SubscriptionMutation, SubscriptionQuery
from app.graphql.users import UserMutation, UserQuery


@strawberry.type
class Query(UserQuery, ModelQuery, SubscriptionQuery, ApiKeyQuery, HealthQuery):
    pass


@strawberry.type
class Mutation(SubscriptionMutation, ApiKeyMutation, UserMutation, SafetyMutation):
    pass


# Refusals the client caused: answered in `errors`, not worth a traceback in the log.
_CLIENT_ERROR_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            e for e in errors if (e.extensions or {}).get("code") not in _CLIENT_ERROR_CODES
        ]
        super().process_errors(unexpected, execution_context)


# Top-level error codes of failures the client did not cause.
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class UnexpectedErrors(MaskErrors):
    """Failures the client did not cause, answered with a code and a plain message.

    The exception's own text (hosts, SQL, file names) stays in the log, where `process_errors`
    has already written it with its traceback.
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if database_unavailable(error.original_error):
            code, message = DATABASE_UNAVAILABLE, "The database is unavailable. Try again shortly."
        else:
            code, message = INTERNAL_SERVER_ERROR, "Something went wrong on our side."
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": code},
        )


def _unexpected(error: GraphQLError) -> bool:
    # Validation and permission errors are GraphQLErrors of their own, or carry a code.
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, GraphQLError)
        and not (error.extensions or {}).get("code")
    )


def create_schema(*, introspection: bool) -> strawberry.Schema:
    # The frontend sends a handful of documents: each is parsed and validated once per process
    # (the caches are bounded, so unique documents cannot grow memory).
    extensions: list[type[SchemaExtension]] = [ParserCache, ValidationCache, UnexpectedErrors]
    if not introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        query=Query,
        mutation=Mutation,
        types=[UserError],
        extensions=extensions,
        execution_context_class=PlainFieldExecutor,
    )


def export_sdl() -> str:
    """The schema as sorted SDL: what `schema.graphql` must hold."""
    graphql_schema: GraphQLSchema = create_schema(introspection=True)._schema
    return print_graphql_schema(lexicographic_sort_schema(graphql_schema)) + "\n"
