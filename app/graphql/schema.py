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
    lexicographic_sort_schema,
    validate,
)
from graphql import print_schema as print_graphql_schema
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from app.failures import database_unavailable
from app.graphql.api_keys import ApiKeyMutation, ApiKeyQuery
from app.graphql.errors import UserError
from app.graphql.executor import PlainFieldExecutor
from app.graphql.health import HealthQuery
from app.graphql.models import ModelQuery
from app.graphql.safety import SafetyMutation
from app.graphql.subscriptions import SubscriptionMutation, SubscriptionQuery
from app.graphql.users import UserMutation, UserQuery
from app.metrics import Metrics
from app.settings import Settings

log = logging.getLogger(__name__)


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


@lru_cache(maxsize=128)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    return validate(schema, document, rules, hide_suggestions=hide_suggestions)


class CachedValidation(SchemaExtension):
    """Validation with the document limits, once per process for each document (bounded).

    Production hides "Did you mean ...?" suggestions, which would spell out the schema.
    """

    def __init__(
        self, *, limits: tuple[type[ASTValidationRule], ...], hide_suggestions: bool
    ) -> None:
        super().__init__()
        self.limits = limits
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        rules = (
            *context.validation_rules,
            *self.limits,
            # What strawberry's own validation adds to graphql-core's rules.
            MaybeNullValidationRule,
            OneOfInputValidationRule,
        )
        context.pre_execution_errors = _validate(
            context.schema._schema, context.graphql_document, rules, self.hide_suggestions
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
    # (the caches are bounded, so unique documents cannot grow memory). The token limit is set
    # before parsing: the parser stops at it.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        ParserCache,
        partial(CachedValidation, limits=limits, hide_suggestions=production),
        UnexpectedErrors,
    ]
    if not settings.ide_enabled:
        extensions.append(DisableIntrospection)
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
