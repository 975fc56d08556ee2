"""The plain-field executor answers exactly as graphql-core does, errors included."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import strawberry
from strawberry.extensions import FieldExtension, ParserCache
from strawberry.permission import BasePermission
from strawberry.types import ExecutionResult

from app.graphql.executor import PlainFieldExecutor
from app.graphql.schema import create_schema
from app.metrics import Metrics
from app.resources import Resources
from app.settings import Environment, Settings
from tests.scrape import recorded, sample

FALLBACKS = "litemaas_graphql_executor_fallbacks_total"


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Tag(Named):
    weight: int


@strawberry.type
class Leaf:
    id: strawberry.ID
    label: str | None
    colour: Colour
    at: datetime
    count: int = 1
    share: float | None = 0.5
    lit: bool = True


@strawberry.type
class Branch:
    id: strawberry.ID
    title: str  # non-null: a None here is an error
    leaves: list[Leaf]
    optional_leaves: list[Leaf | None] | None
    tags: list[Tag]  # an interface's implementer: graphql-core checks its type
    first: Leaf | None

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        return self.title.upper() + suffix

    @strawberry.field
    async def later(self) -> Leaf:
        return self.leaves[0]


def _leaf(i: int, *, label: str | None = "x") -> Leaf:
    return Leaf(
        id=strawberry.ID(f"l{i}"),
        label=label,
        colour=Colour.BLUE if i % 2 else Colour.RED,
        at=datetime(2026, 1, i + 1, tzinfo=UTC),
    )


def _branch(i: int, **changes: Any) -> Branch:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"b{i}"),
        "title": f"branch {i}",
        "leaves": [_leaf(j, label=None if j == 1 else f"leaf {j}") for j in range(3)],
        "optional_leaves": [None, _leaf(7)],
        "tags": [Tag(name="t", weight=i)],
        "first": None if i % 2 else _leaf(9),
    }
    values.update(changes)
    return Branch(**values)


BRANCHES: list[Branch] = []


@strawberry.type
class Query:
    @strawberry.field
    def branches(self) -> list[Branch]:
        return BRANCHES

    @strawberry.field
    def leaves(self) -> list[Leaf]:
        return [leaf for branch in BRANCHES for leaf in branch.leaves]


FULL = """
query Full($withTags: Boolean!) {
  branches {
    id title shout(suffix: "?") later { id }
    leaves { id label colour at }
    optionalLeaves { id colour }
    tags { name weight }
    first { ...LeafFields }
    alias: title @include(if: $withTags)
  }
}
fragment LeafFields on Leaf { id label at }
"""


async def _both(
    branches: list[Branch], query: str = FULL, **variables: Any
) -> tuple[ExecutionResult, ExecutionResult, PlainFieldExecutor]:
    BRANCHES[:] = branches
    used: list[PlainFieldExecutor] = []

    class Spy(PlainFieldExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            used.append(self)

    plain = strawberry.Schema(query=Query, types=[Tag], execution_context_class=Spy)
    reference = strawberry.Schema(query=Query, types=[Tag])
    got = await plain.execute(query, variable_values=variables)
    expected = await reference.execute(query, variable_values=variables)
    (executor,) = used
    return got, expected, executor


def _answer(result: ExecutionResult) -> tuple[Any, Any]:
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize("with_tags", [True, False])
async def test_same_answer_as_graphql_core(with_tags: bool) -> None:
    got, expected, executor = await _both([_branch(i) for i in range(4)], withTags=with_tags)
    assert expected.errors is None
    assert _answer(got) == _answer(expected)
    # Key order too: clients and byte-for-byte comparisons see it.
    assert got.data is not None
    assert expected.data is not None
    assert [list(b) for b in got.data["branches"]] == [list(b) for b in expected.data["branches"]]
    # The plain selection sets were compiled: Leaf's, Branch's (mixed) and LeafFields'.
    assert executor.plain_selection_sets >= 2


async def test_plans_are_kept_across_requests_unless_variables_choose_the_fields() -> None:
    BRANCHES[:] = [_branch(i) for i in range(3)]
    used: list[PlainFieldExecutor] = []

    class Spy(PlainFieldExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            used.append(self)

    # Parsed once, as the service's schema does: the same operation comes back.
    plain = strawberry.Schema(
        query=Query, types=[Tag], execution_context_class=Spy, extensions=[ParserCache]
    )
    reference = strawberry.Schema(query=Query, types=[Tag])
    constant = "{ branches { id leaves { id label colour } first { id } } }"
    chosen = """
      query Chosen($label: Boolean!) {
        branches { id leaves { id ... @include(if: $label) { label } colour } }
      }
    """
    requests: list[tuple[str, dict[str, Any]]] = [
        (constant, {}),
        (constant, {}),
        (chosen, {"label": True}),
        (chosen, {"label": False}),
        (chosen, {"label": True}),
    ]
    for query, variables in requests:
        got = await plain.execute(query, variable_values=variables)
        expected = await reference.execute(query, variable_values=variables)
        assert expected.errors is None
        assert _answer(got) == _answer(expected), (query, variables)

    made = [executor.plans_made for executor in used]
    assert made[0] > 0
    assert made[1] == 0  # the first request's plans, kept
    assert all(m > 0 for m in made[2:])  # `$label` chooses the fields: planned per request


async def test_null_in_non_null_field_is_graphql_cores_error() -> None:
    broken = _branch(1, title=None)
    got, expected, _ = await _both([_branch(0), broken], withTags=True)
    assert expected.errors
    assert _answer(got) == _answer(expected)
    assert got.errors is not None
    assert got.errors[0].path == ["branches", 1, "title"]


async def test_null_deep_in_a_plain_list_is_graphql_cores_error() -> None:
    leaf = _leaf(0)
    leaf.colour = None  # type: ignore[assignment]
    got, expected, _ = await _both([_branch(0, leaves=[_leaf(1), leaf])], withTags=False)
    assert expected.errors
    assert _answer(got) == _answer(expected)
    assert got.errors is not None
    assert got.errors[0].path == ["branches", 0, "leaves", 1, "colour"]


async def test_null_in_a_plain_root_list_is_graphql_cores_error() -> None:
    leaf = _leaf(0)
    leaf.id = None  # type: ignore[assignment]
    query = "{ leaves { id colour } }"
    got, expected, _ = await _both([_branch(0, leaves=[_leaf(1), leaf])], query)
    assert expected.errors
    assert _answer(got) == _answer(expected)
    assert got.errors is not None
    assert got.errors[0].path == ["leaves", 1, "id"]


@pytest.mark.parametrize(("attribute", "value"), [("at", "yesterday"), ("colour", "purple")])
async def test_value_that_does_not_coerce_is_graphql_cores_error(
    attribute: str, value: str
) -> None:
    # The good leaves first: the enum's remembered names must not let a bad value through.
    bad = _leaf(0)
    setattr(bad, attribute, value)
    got, expected, _ = await _both([_branch(0, leaves=[_leaf(1), _leaf(2), bad])], withTags=False)
    assert expected.errors
    assert _answer(got) == _answer(expected)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("count", 2**31),  # beyond 32 bits: an error
        ("count", -(2**31) - 1),
        ("count", True),  # 1
        ("count", 3.0),  # 3
        ("count", 2.5),  # an error
        ("share", float("nan")),  # an error
        ("share", float("inf")),
        ("share", 1),  # 1.0
        ("share", True),  # 1
        ("share", None),
        ("lit", 1),  # True
        ("lit", "yes"),  # an error
        ("id", 7),  # "7"
        ("label", Colour.RED),  # not a str: String's coercion decides
    ],
)
async def test_scalars_are_their_own_answer_only_where_graphql_core_returns_them_unchanged(
    attribute: str, value: Any
) -> None:
    odd = _leaf(0)
    setattr(odd, attribute, value)
    query = "{ leaves { id label count share lit } }"
    got, expected, _ = await _both([_branch(0, leaves=[_leaf(1), odd])], query)
    # repr: 1, 1.0 and True are equal in Python, not in the answer.
    assert repr(_answer(got)) == repr(_answer(expected))


async def test_not_a_list_is_graphql_cores_error() -> None:
    got, expected, _ = await _both([_branch(0, leaves="nope")], withTags=False)
    assert expected.errors
    assert _answer(got) == _answer(expected)


@dataclass
class Impostor:
    name: str
    weight: int


async def test_wrong_object_under_an_interface_is_graphql_cores_error() -> None:
    # It has Tag's attributes, but graphql-core checks that it is a Tag.
    wrong = _branch(0, tags=[Impostor(name="t", weight=1)])
    got, expected, _ = await _both([wrong], withTags=True)
    assert expected.errors
    assert _answer(got) == _answer(expected)


class Deny(BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


class Shout(FieldExtension):
    def resolve(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Vault:
    name: str
    secret: str = strawberry.field(permission_classes=[Deny])
    motto: str = strawberry.field(extensions=[Shout()])


@strawberry.type
class VaultQuery:
    @strawberry.field
    def vaults(self) -> list[Vault]:
        return [Vault(name=f"v{i}", secret=f"s{i}", motto="keep out") for i in range(3)]

    @strawberry.field
    def vault(self) -> Vault:
        return Vault(name="v", secret="s", motto="keep out")


async def _both_on_vaults(query: str) -> tuple[ExecutionResult, ExecutionResult]:
    plain = strawberry.Schema(query=VaultQuery, execution_context_class=PlainFieldExecutor)
    reference = strawberry.Schema(query=VaultQuery)
    return await plain.execute(query), await reference.execute(query)


@pytest.mark.parametrize("query", ["{ vaults { name secret } }", "{ vault { name secret } }"])
async def test_a_field_with_a_permission_class_is_refused_as_graphql_core_refuses_it(
    query: str,
) -> None:
    got, expected = await _both_on_vaults(query)
    assert expected.errors
    assert {e.message for e in expected.errors} == {"denied"}
    assert _answer(got) == _answer(expected)
    assert got.data is None  # `secret` is non-null: nothing of the vault is answered


@pytest.mark.parametrize("query", ["{ vaults { name motto } }", "{ vault { name motto } }"])
async def test_a_field_extension_is_applied(query: str) -> None:
    got, expected = await _both_on_vaults(query)
    assert expected.errors is None
    assert _answer(got) == _answer(expected)
    assert "KEEP OUT" in str(got.data)


@pytest.mark.parametrize("env", list(Environment))
def test_the_service_schema_uses_it(env: Environment) -> None:
    schema = create_schema(Settings.model_construct(env=env), metrics=Metrics())
    assert issubclass(schema.execution_context_class, PlainFieldExecutor)


async def test_fallbacks_are_counted_and_logged_once_per_document(
    caplog: pytest.LogCaptureFixture,
) -> None:
    BRANCHES[:] = [_branch(0), _branch(1, title=None), _branch(2, title=None)]
    for branch in BRANCHES:
        branch.leaves[0].colour = None  # type: ignore[assignment]
    metrics = Metrics()
    schema = strawberry.Schema(
        query=Query, types=[Tag], execution_context_class=PlainFieldExecutor.counting(metrics)
    )
    query = "query Broken { branches { id title leaves { id colour } } }"
    with caplog.at_level(logging.WARNING, logger="app.graphql.executor"):
        got = await schema.execute(query)
    assert got.errors
    # Handed back: the list of branches, then branch 0 and its leaves, then branch 1, whose
    # null title ends the answer (`branches` is non-null all the way up).
    assert recorded(metrics, FALLBACKS) == 4
    (record,) = _executor_records(caplog)
    assert "operation Broken" in record.getMessage()
    assert "4 object(s)" in record.getMessage()
    assert "a null in a non-null field" in record.getMessage()
    # Another document, another line; nothing of the data is in either.
    with caplog.at_level(logging.WARNING, logger="app.graphql.executor"):
        await schema.execute(query)
    assert len(_executor_records(caplog)) == 2
    assert recorded(metrics, FALLBACKS) == 8
    assert not any("branch " in r.getMessage() for r in _executor_records(caplog))


async def test_a_document_without_fallbacks_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    BRANCHES[:] = [_branch(0), _branch(1)]
    metrics = Metrics()
    schema = strawberry.Schema(
        query=Query, types=[Tag], execution_context_class=PlainFieldExecutor.counting(metrics)
    )
    with caplog.at_level(logging.WARNING, logger="app.graphql.executor"):
        got = await schema.execute("{ branches { id title leaves { id colour } } }")
    assert got.errors is None
    assert recorded(metrics, FALLBACKS) == 0
    assert not _executor_records(caplog)


def _executor_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "app.graphql.executor"]


async def test_fallbacks_are_on_metrics(client: httpx.AsyncClient, resources: Resources) -> None:
    before = recorded(resources.metrics, FALLBACKS)
    resources.metrics.graphql_executor_fallbacks.inc(3)
    response = await client.get("/metrics")
    assert sample(response.text, FALLBACKS) == before + 3
