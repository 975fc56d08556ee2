"""The GraphQL schema: every domain's queries and mutations merged into one."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError, GraphQLSchema, lexicographic_sort_schema
from graphql import print_schema as print_graphql_schema
from strawberry.extensions import (
    DisableIntrospection,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from app.graphql.api_keys import ApiKeyMutation, ApiKeyQuery
from app.graphql.errors import UserError
from app.graphql.executor import PlainFieldExecutor
from app.graphql.health import HealthQuery
from app.graphql.models import ModelQuery
from app.graphql.subscriptions import SubscriptionMutation, SubscriptionQuery
from app.graphql.users import UserMutation, UserQuery


@strawberry.type
class Query(UserQuery, ModelQuery, SubscriptionQuery, ApiKeyQuery, HealthQuery):
    pass


@strawberry.type
class Mutation(SubscriptionMutation, ApiKeyMutation, UserMutation):
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


def create_schema(*, introspection: bool) -> strawberry.Schema:
    # The frontend sends a handful of documents: each is parsed and validated once per process
    # (the caches are bounded, so unique documents cannot grow memory).
    extensions: list[type[SchemaExtension]] = [ParserCache, ValidationCache]
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
