"""The plain-field executor answers exactly as graphql-core does, errors included."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from strawberry.types import ExecutionResult

from app.graphql.executor import PlainFieldExecutor
from app.graphql.schema import create_schema
from app.settings import Environment, Settings


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
    compiled = [plan for _, plan in executor._plans.values() if plan is not None]
    assert len(compiled) >= 2


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


@pytest.mark.parametrize("env", list(Environment))
def test_the_service_schema_uses_it(env: Environment) -> None:
    schema = create_schema(Settings.model_construct(env=env))
    assert issubclass(schema.execution_context_class, PlainFieldExecutor)
