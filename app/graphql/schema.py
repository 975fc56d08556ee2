"""The GraphQL schema: every domain's queries and mutations merged into one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    lexicographic_sort_schema,
    parse,
    validate,
)
from graphql import (
    ExecutionResult as GraphQLExecutionResult,
)
from graphql import print_schema as print_graphql_schema
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext, ExecutionResult

from app.failures import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE, database_unavailable
from app.graphql.api_keys import ApiKeyMutation, ApiKeyQuery
from app.graphql.audit import AuditQuery
from app.graphql.enforcement import EnforcementMutation, EnforcementQuery
from app.graphql.errors import UserError
from app.graphql.executor import PlainFieldExecutor
from app.graphql.health import HealthQuery
from app.graphql.models import ModelMutation, ModelQuery
from app.graphql.safety import SafetyMutation
from app.graphql.subscriptions import (
    SubscriptionDecisionMutation,
    SubscriptionMutation,
    SubscriptionQuery,
)
from app.graphql.users import UserAdminMutation, UserMutation, UserQuery
from app.metrics import Metrics
from app.settings import Settings

log = logging.getLogger(__name__)


@strawberry.type
class Query(
    UserQuery,
    ModelQuery,
    SubscriptionQuery,
    ApiKeyQuery,
    HealthQuery,
    AuditQuery,
    EnforcementQuery,
):
    pass


@strawberry.type
class Mutation(
    SubscriptionMutation,
    SubscriptionDecisionMutation,
    ApiKeyMutation,
    UserMutation,
    UserAdminMutation,
    SafetyMutation,
    ModelMutation,
    EnforcementMutation,
):
    pass


# Refusals the client caused: answered in `errors`, not worth a traceback in the log.
_CLIENT_ERROR_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "VALIDATION_FAILED"})


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # A document that does not parse, validate or take its variables is the client's
        # mistake: one line, with no text of the document (it could forge log lines).
        invalid = [e for e in errors if _before_execution(e)]
        if invalid:
            log.info("GraphQL document refused: %d error(s) before execution", len(invalid))
        unexpected = [
            e
            for e in errors
            if not _before_execution(e)
            if (e.extensions or {}).get("code") not in _CLIENT_ERROR_CODES
        ]
        super().process_errors(unexpected, execution_context)


def _before_execution(error: GraphQLError) -> bool:
    """A parse, validation or variable error (no field ran), not an exception of ours."""
    original = error.original_error
    return error.path is None and (original is None or isinstance(original, GraphQLError))


# Top-level error codes of failures the client did not cause.
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class UnexpectedErrors(SchemaExtension):
    """Failures the client did not cause, answered with a code and a plain message.

    The exception's own text (hosts, SQL, file names) stays in the log, where `process_errors`
    has already written it with its traceback.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            result.errors = [_masked(e) if _unexpected(e) else e for e in result.errors]


def _masked(error: GraphQLError) -> GraphQLError:
    if database_unavailable(error.original_error):
        code, message = DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE
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


@lru_cache(maxsize=128)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


# Keyed by the query's text, as the parse is: a document's own hash walks all of its nodes.
@lru_cache(maxsize=128)
def _validate(
    schema: GraphQLSchema,
    query: str,
    max_tokens: int,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    return validate(schema, _parse(query, max_tokens), rules, hide_suggestions=hide_suggestions)


class Documents(SchemaExtension):
    """Each document parsed and validated once per process (bounded), in one extension.

    The parser stops at the token limit; validation adds the document limits and, where
    introspection is off, refuses it. Production hides "Did you mean ...?" suggestions, which
    would spell out the schema.
    """

    def __init__(
        self,
        *,
        max_tokens: int,
        limits: tuple[type[ASTValidationRule], ...],
        introspection: bool,
        hide_suggestions: bool,
    ) -> None:
        super().__init__()
        self.max_tokens = max_tokens
        self.limits = limits
        self.refused = () if introspection else (NoSchemaIntrospectionCustomRule,)
        self.hide_suggestions = hide_suggestions

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            context.graphql_document = _parse(context.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None  # else strawberry raised MissingQueryError
        rules = (
            *context.validation_rules,
            *self.refused,
            *self.limits,
            # What strawberry's own validation adds to graphql-core's rules.
            MaybeNullValidationRule,
            OneOfInputValidationRule,
        )
        context.pre_execution_errors = _validate(
            context.schema._schema, context.query, self.max_tokens, rules, self.hide_suggestions
        )
        yield


class _NoSuggestionsExecutor(PlainFieldExecutor):
    """The same executor; variables that do not coerce get no "Did you mean ...?" either."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})


def _introspection_field(context: IgnoreContext) -> bool:
    # The IDE's introspection query nests `ofType` deeper than any page; it is development only.
    return context.field_name.startswith("__")


def create_schema(settings: Settings, *, metrics: Metrics) -> strawberry.Schema:
    production = settings.is_production
    limits = (
        max_aliases_rule(settings.graphql_max_aliases),
        max_depth_rule(settings.graphql_max_depth, _introspection_field),
    )
    # The frontend sends a handful of documents: each is parsed and validated once per process
    # (the caches are bounded, so unique documents cannot grow memory). Each extension runs
    # for every request: two, where strawberry's own would take five.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        partial(
            Documents,
            max_tokens=settings.graphql_max_tokens,
            limits=limits,
            introspection=settings.ide_enabled,
            hide_suggestions=production,
        ),
        UnexpectedErrors,
    ]
    return Schema(
        query=Query,
        mutation=Mutation,
        types=[UserError],
        extensions=extensions,
        execution_context_class=(
            _NoSuggestionsExecutor if production else PlainFieldExecutor
        ).counting(metrics),
    )


def export_sdl() -> str:
    """The schema as sorted SDL: what `schema.graphql` must hold."""
    schema = create_schema(Settings.model_construct(), metrics=Metrics())
    graphql_schema: GraphQLSchema = schema._schema
    return print_graphql_schema(lexicographic_sort_schema(graphql_schema)) + "\n"
