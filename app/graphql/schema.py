"""The GraphQL schema: every domain's queries and mutations merged into one."""

from __future__ import annotations

import strawberry
from graphql import GraphQLSchema, lexicographic_sort_schema
from graphql import print_schema as print_graphql_schema
from strawberry.extensions import DisableIntrospection, SchemaExtension

from app.graphql.api_keys import ApiKeyMutation, ApiKeyQuery
from app.graphql.errors import UserError
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


def create_schema(*, introspection: bool) -> strawberry.Schema:
    extensions: list[type[SchemaExtension]] = []
    if not introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query, mutation=Mutation, types=[UserError], extensions=extensions
    )


def export_sdl() -> str:
    """The schema as sorted SDL: what `schema.graphql` must hold."""
    graphql_schema: GraphQLSchema = create_schema(introspection=True)._schema
    return print_graphql_schema(lexicographic_sort_schema(graphql_schema)) + "\n"
