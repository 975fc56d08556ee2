"""The fast executor answers every query over the service's schema exactly as graphql-core does.

hypothesis-graphql generates valid queries over every root field of `Query` (arguments from the
seeded rows' ids, inline fragments on the members of unions); each query is then rewritten at
random with what hypothesis-graphql does not generate: aliases, fields selected twice, named and
inline fragments (on the selection's own type, and on the interfaces of a union's members),
variables (with and without defaults), `@skip`/`@include` and `__typename`. Each runs on seeded
data - a user with subscriptions and keys over two models, an admin who may read that user's
data, an anonymous caller, with or without an API key - through the service's schema twice: with
its plain-field executor and with strawberry's stock graphql-core execution. `data` and `errors`
(messages, paths, locations, extensions) must be identical.

Mutations are not generated: they change the rows the next example reads. Their answers are
completed by the same executor, on the same types, as the queries'.

`EXECUTOR_DIFFERENTIAL_EXAMPLES` sets the number of examples (300 by default, a fixed sequence);
run it with 5000 before moving the pins of strawberry-graphql or graphql-core.
"""

from __future__ import annotations

import gc
import os
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import graphql
import httpx
import hypothesis
import pytest
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    ConstValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    parse_type,
    print_ast,
    value_from_ast_untyped,
)
from graphql.validation.validate import ValidationAbortedError
from hypothesis import HealthCheck, given, note
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from app.auth.session import SESSION_COOKIE, SessionCookie
from app.graphql.context import Context
from app.graphql.executor import WRITTEN_AGAINST, PlainFieldExecutor
from app.graphql.schema import create_schema
from app.metrics import Metrics
from app.resources import Resources
from app.settings import Settings
from tests.conftest import EMULATOR_MASTER_KEY, EMULATOR_URL, make_settings
from tests.portal import Portal

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("EXECUTOR_DIFFERENTIAL_EXAMPLES", "300"))


def test_the_executor_runs_on_the_versions_it_was_written_against() -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = {
        name: pin
        for name, _, pin in (d.partition("==") for d in dependencies)
        if name in WRITTEN_AGAINST
    }
    installed = {name: version(name) for name in WRITTEN_AGAINST}
    written = ", ".join(f"{name} {v}" for name, v in WRITTEN_AGAINST.items())
    assert pinned == installed == WRITTEN_AGAINST, (
        f"the fast executor was written against {written} (pyproject.toml pins {pinned}, "
        f"{installed} are installed); re-run this test with the long setting "
        "(EXECUTOR_DIFFERENTIAL_EXAMPLES=5000) on the new versions, then update the pins and "
        "WRITTEN_AGAINST in app/graphql/executor.py"
    )


@pytest.fixture
def settings(database_url: str, db_engine: AsyncEngine) -> Settings:
    # Generated queries are larger than the frontend's: the document limits would refuse them
    # before either executor ran.
    return make_settings(
        database_url=database_url,
        litellm_url=EMULATOR_URL,
        litellm_master_key=EMULATOR_MASTER_KEY,
        graphql_max_tokens=100_000,
        graphql_max_aliases=10_000,
        graphql_max_depth=100,
    )


@dataclass
class Seeded:
    # Kept out of a failing example's report, as secrets are.
    cookies: dict[str, str] = field(repr=False)  # caller -> session cookie ("" for anonymous)
    keys: dict[str, str] = field(repr=False)  # which key -> its secret
    ids: list[str] = field(default_factory=list)  # every id worth asking for


@pytest.fixture
async def seeded(app: Starlette, client: httpx.AsyncClient) -> Seeded:
    """Rows through the service's own API: a user's subscriptions and keys, an admin.

    Set up once for all the examples of a test; no example writes.
    """
    user = Portal(client)
    user_id = await user.login()
    subscribed = {m: (await user.subscribe(m))["subscription"]["id"] for m in ("m1", "m2")}
    both = await user.create_key(["m1", "m2"], name="both")
    only_m2 = await user.create_key(["m2"], name="only m2")
    revoked = await user.create_key(["m1"], name="revoked", maxBudget=1.5, rpmLimit=3)
    await user.revoke(revoked["apiKey"]["id"])
    # Cancelling m2 takes it off the keys: `only m2` is revoked, `both` keeps m1.
    await user.cancel(subscribed["m2"])
    again = await user.subscribe("m2")
    newest = await user.create_key(["m1", "m2"], name="newest", tpmLimit=100)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        admin = Portal(other)
        admin_id = await admin.login(groups=["litemaas-admins"])
        await admin.subscribe("m1")
        admin_key = await admin.create_key(["m1"], name="admin's")
        admin_cookie = other.cookies[SESSION_COOKIE]

    keys = [both, only_m2, revoked, newest, admin_key]
    return Seeded(
        cookies={"user": client.cookies[SESSION_COOKIE], "admin": admin_cookie, "anonymous": ""},
        keys={
            "active": newest["secret"],
            "revoked": revoked["secret"],
            "admin's": admin_key["secret"],
            "garbage": "sk-not-a-key",
        },
        ids=[
            user_id,
            admin_id,
            *subscribed.values(),
            again["subscription"]["id"],
            *(k["apiKey"]["id"] for k in keys),
            "m1",
            "m2",
            "m3",
            str(uuid.uuid4()),
            "not-an-id",
        ],
    )


def _document(node: DocumentNode) -> DocumentNode:
    return node


@dataclass
class _Rewrite:
    """Rewrites a generated query with what hypothesis-graphql does not generate."""

    draw: st.DrawFn
    schema: GraphQLSchema
    variables: list[VariableDefinitionNode] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    fragments: list[FragmentDefinitionNode] = field(default_factory=list)
    aliases: int = 0

    def document(self, generated: DocumentNode) -> tuple[DocumentNode, dict[str, Any]]:
        (operation,) = generated.definitions
        assert isinstance(operation, OperationDefinitionNode)
        query_type = self.schema.query_type
        assert query_type is not None
        selection_set = self.selection_set(operation.selection_set, query_type)
        named = self.draw(st.booleans())
        rewritten = OperationDefinitionNode(
            operation=OperationType.QUERY,
            name=NameNode(value="Generated") if named else None,
            variable_definitions=tuple(self.variables),
            directives=(),
            selection_set=selection_set,
        )
        return DocumentNode(definitions=(rewritten, *self.fragments)), self.values

    def chance(self, one_in: int) -> bool:
        return self.draw(st.integers(1, one_in)) == 1

    def selection_set(
        self, node: SelectionSetNode, parent: GraphQLCompositeType
    ) -> SelectionSetNode:
        selections: list[SelectionNode] = []
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                selections += self.field(selection, parent)
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition = selection.type_condition
                on = self.schema.type_map[condition.name.value] if condition else parent
                assert isinstance(on, GraphQLObjectType | GraphQLInterfaceType)
                selections.append(
                    InlineFragmentNode(
                        type_condition=condition,
                        directives=self.directives(),
                        selection_set=self.selection_set(selection.selection_set, on),
                    )
                )
        if self.chance(5):
            at = self.draw(st.integers(0, len(selections)))
            selections.insert(at, _field("__typename"))
        if isinstance(parent, GraphQLUnionType) and self.chance(2):
            # hypothesis-graphql spreads only the union's members; the frontend reads errors
            # through the interface they implement (`... on UserError { code message }`).
            interfaces = sorted(
                {i.name: i for member in parent.types for i in member.interfaces}.items()
            )
            if interfaces:
                _, interface = self.draw(st.sampled_from(interfaces))
                leaves = [_field(name) for name in sorted(interface.fields)]
                at = self.draw(st.integers(0, len(selections)))
                selections.insert(
                    at,
                    InlineFragmentNode(
                        type_condition=NamedTypeNode(name=NameNode(value=interface.name)),
                        directives=self.directives(),
                        selection_set=SelectionSetNode(selections=tuple(leaves)),
                    ),
                )
        if self.chance(3):
            # Some of the selections (their order kept) move into a fragment.
            start = self.draw(st.integers(0, len(selections) - 1))
            end = self.draw(st.integers(start + 1, len(selections)))
            moved = SelectionSetNode(selections=tuple(selections[start:end]))
            condition = NamedTypeNode(name=NameNode(value=parent.name))
            fragment: SelectionNode
            if self.draw(st.booleans()):
                name = f"F{len(self.fragments)}"
                self.fragments.append(
                    FragmentDefinitionNode(
                        name=NameNode(value=name),
                        type_condition=condition,
                        directives=(),
                        selection_set=moved,
                    )
                )
                fragment = FragmentSpreadNode(
                    name=NameNode(value=name), directives=self.directives()
                )
            else:
                with_condition = self.draw(st.booleans())
                fragment = InlineFragmentNode(
                    type_condition=condition if with_condition else None,
                    directives=self.directives(),
                    selection_set=moved,
                )
            selections[start:end] = [fragment]
        return SelectionSetNode(selections=tuple(selections))

    def field(self, node: FieldNode, parent: GraphQLCompositeType) -> list[SelectionNode]:
        assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
        definition = parent.fields[node.name.value]
        selection_set = None
        if node.selection_set is not None:
            target = get_named_type(definition.type)
            assert isinstance(target, GraphQLCompositeType)
            selection_set = self.selection_set(node.selection_set, target)
        alias = node.alias
        if alias is None and self.chance(4):
            self.aliases += 1
            alias = NameNode(value=f"a{self.aliases}")
        rewritten = FieldNode(
            alias=alias,
            name=node.name,
            arguments=tuple(
                self.argument(argument, definition.args[argument.name.value])
                for argument in node.arguments or ()
            ),
            directives=self.directives(),
            selection_set=selection_set,
        )
        # The same field twice: graphql-core merges them into one answer.
        return [rewritten, rewritten] if self.chance(8) else [rewritten]

    def argument(self, node: ArgumentNode, definition: GraphQLArgument) -> ArgumentNode:
        if not self.chance(2):
            return node
        variable = self.variable(parse_type(str(definition.type)))
        if self.chance(3):
            # The value as the variable's default, and none given: generated values are
            # constants, as a default must be.
            self.variables[-1] = VariableDefinitionNode(
                variable=self.variables[-1].variable,
                type=self.variables[-1].type,
                default_value=cast(ConstValueNode, node.value),
                directives=(),
            )
        else:
            self.values[variable.name.value] = value_from_ast_untyped(node.value)
        return ArgumentNode(name=node.name, value=variable)

    def variable(self, type_node: Any) -> VariableNode:
        variable = VariableNode(name=NameNode(value=f"v{len(self.variables)}"))
        self.variables.append(
            VariableDefinitionNode(variable=variable, type=type_node, directives=())
        )
        return variable

    def directives(self) -> tuple[DirectiveNode, ...]:
        if not self.chance(6):
            return ()
        directive = self.draw(st.sampled_from(["skip", "include"]))
        condition = self.draw(st.booleans())
        value: Any = BooleanValueNode(value=condition)
        if self.draw(st.booleans()):
            value = self.variable(parse_type("Boolean!"))
            self.values[value.name.value] = condition
        argument = ArgumentNode(name=NameNode(value="if"), value=value)
        return (DirectiveNode(name=NameNode(value=directive), arguments=(argument,)),)


def _field(name: str) -> FieldNode:
    return FieldNode(name=NameNode(value=name), arguments=(), directives=())


@st.composite
def _operations(
    draw: st.DrawFn, schema: GraphQLSchema, generated: st.SearchStrategy[DocumentNode]
) -> tuple[str, dict[str, Any]]:
    document, variables = _Rewrite(draw, schema).document(draw(generated))
    errors = graphql.validate(schema, document)
    # graphql-core's validation gives up on some of the largest generated documents (its
    # overlapping-fields check runs out of stack): the service refuses those with that error
    # before either executor runs, so there is no answer to compare.
    hypothesis.assume(not any(isinstance(e, ValidationAbortedError) for e in errors))
    assert not errors, (print_ast(document), errors)
    return print_ast(document), variables


def _answer(result: ExecutionResult) -> Any:
    """The answer as a client reads it, the order of keys included.

    The errors are sorted: graphql-core lists those of concurrent fields (root fields that each
    wait on the database) in the order they happen to fail.
    """
    errors = sorted((_ordered(e.formatted) for e in result.errors or []), key=repr)
    return [("data", _ordered(result.data)), ("errors", errors)]


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def _request(cookie: str, key: str | None) -> Request:
    headers = [(b"content-type", b"application/json")]
    if cookie:
        headers.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    return Request({"type": "http", "method": "POST", "path": "/graphql", "headers": headers})


# When a field's error reaches a non-null parent, graphql-core cancels the sibling fields still
# awaiting (`gather_with_cancel`). A sibling whose task had not started yet drops the
# coroutines it was handed (its resolver's, its sub-selection's) without running them, and
# Python reports each as "never awaited" when it is collected. Whether a task had started
# depends on how fast the database answered, so stock execution does it too, now and then;
# the answers compared here are the same either way.
@pytest.fixture
def coroutines_collected() -> Iterator[None]:
    """Such coroutines still held in reference cycles when the examples end are collected in
    this test's teardown, where their warnings are expected, not during a later test (where
    they would be errors) or at the session's end."""
    yield
    gc.collect()


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <coroutine object :pytest.PytestUnraisableExceptionWarning"
)
@hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # The rows are seeded once for all examples; no example writes.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_generated_query_answers_as_graphql_core(
    data: st.DataObject,
    seeded: Seeded,
    resources: Resources,
    settings: Settings,
    coroutines_collected: None,
) -> None:
    fast = create_schema(settings, metrics=Metrics())
    stock = create_schema(settings, metrics=Metrics())
    stock.execution_context_class = StrawberryGraphQLCoreExecutionContext
    assert issubclass(fast.execution_context_class, PlainFieldExecutor)
    ids = st.sampled_from(seeded.ids).map(nodes.String)
    generated = queries(
        fast._schema,
        custom_scalars={
            "ID": ids,
            "DateTime": st.datetimes(timezones=st.just(UTC)).map(
                lambda at: nodes.String(at.isoformat())
            ),
        },
        print_ast=_document,
        allow_x00=False,
    )
    query, variables = data.draw(_operations(fast._schema, generated), label="operation")
    caller = data.draw(st.sampled_from(sorted(seeded.cookies)), label="caller")
    key = data.draw(st.none() | st.sampled_from(sorted(seeded.keys)), label="API key")
    session_cookie = seeded.cookies[caller]
    request = _request(session_cookie, None if key is None else seeded.keys[key])
    # One context for both: the same caller, and what the request reads once (the database
    # probe's latency) is the same in both answers.
    context = Context(
        request=request,
        response=Response(),
        resources=resources,
        session=SessionCookie(settings).session(request),
    )
    got = await fast.execute(query, variable_values=variables, context_value=context)
    expected = await stock.execute(query, variable_values=variables, context_value=context)
    note(f"{datetime.now(UTC)} {query} {variables}")
    assert _answer(got) == _answer(expected)
