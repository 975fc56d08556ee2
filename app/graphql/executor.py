"""A graphql-core executor that completes plain fields without the per-field machinery.

Most of an answer is plain fields: attributes of strawberry objects that strawberry itself
answers with its default resolver - a basic field (no resolver, no extension, no permission
class), with no arguments and no directive, in the schema or the document - and `__typename`
of an object type (its name; Apollo's cache asks for it on every object). For each of them
graphql-core builds a resolve info, calls strawberry's resolver wrapper and walks
`complete_value`; the API-keys page has about 1,000.
This executor turns each selection set of plain fields into a function written for it (one
call per object: attribute reads, a type check for the values that are their own answer -
strings, booleans, 32-bit ints, finite floats, nulls in nullable fields - and a call only where
a value needs coercing) and completes lists of such objects with it. These plans are kept
across requests for each operation (documents are parsed once per process, `schema.Documents`,
so the same operation comes back as the same nodes), bounded; an operation whose
`@skip`/`@include` take variables, whose selections may change from one request to the next,
is planned per request.

Anything else goes through graphql-core's own path: fields with resolvers, extensions, permission
classes or arguments, abstract types, objects with an `is_type_of` check, deferred fragments and
fields carrying directives. A plain field that would be an error (a null in a non-null field, a
value that does not coerce, an attribute that cannot be read) makes the whole object go through
graphql-core again, so answers, errors and their paths are exactly graphql-core's. Such a
fallback is counted (`Metrics.graphql_executor_fallbacks`) and logged once per document: it
means data the schema does not expect. Any other exception is a bug here and is raised.

Written against the strawberry-graphql and graphql-core versions pinned in pyproject.toml
(tests/test_graphql_executor_differential.py checks both and compares every answer).
"""

from __future__ import annotations

import dataclasses
import functools
import keyword
import logging
import math
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    DirectiveNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Node,
    OperationDefinitionNode,
    Undefined,
    VariableNode,
)
from graphql.execution.collect_fields import DeferUsage, FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from app.metrics import Metrics

log = logging.getLogger(__name__)

# The versions whose internals this executor builds on (pyproject.toml pins them exactly).
WRITTEN_AGAINST = {"strawberry-graphql": "0.341.2", "graphql-core": "3.3.2"}

# Completes a value (or, written for a selection set, the plain fields of a source object);
# raises to hand the object back to graphql-core.
Completer = Callable[[Any], Any]


class _NotPlain(Exception):
    """The value cannot be completed here; graphql-core completes the object instead.

    Its message says why, in words that hold no value of the answer.
    """


@dataclass(frozen=True, slots=True)
class _Plain:
    """A plain field: the attribute it reads and how its value is completed."""

    response_name: str
    attribute: str
    read: Callable[[Any, str], Any]  # strawberry's default resolver: getattr unless configured
    complete: Completer
    # A condition on `{v}`, the value, that holds when the value is its own answer (`_AS_IS`).
    as_is: str | None
    nullable: bool  # a null is its own answer
    constant: str | None = None  # `__typename`: the object type's name, read from nothing


@dataclass(frozen=True, slots=True)
class _Plan:
    """A selection set: its plain fields as one written function, and the other fields."""

    plain: Completer  # source object -> {response name: value} for the plain fields
    order: tuple[str, ...]  # every response name, in the answer's order
    others: tuple[str, ...]  # the fields graphql-core resolves


@dataclass(frozen=True, slots=True)
class _Book:
    """The plans of one operation, by what they were made from (types and the ids of the
    operation's field nodes). Kept, it holds the schema and the operation, so that their ids
    (its key) and those of the nodes are not reused while it is kept."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    kept: bool  # False: its `@skip`/`@include` take variables, planned per request instead
    plans: dict[tuple[Any, ...], _Plan | None] = dataclasses.field(default_factory=dict)
    items: dict[tuple[Any, ...], Completer | None] = dataclasses.field(default_factory=dict)


# By schema, operation and whether middleware runs (then nothing is plain). Bounded: the
# oldest operation's book goes first.
_KEPT_OPERATIONS = 256
_books: dict[tuple[int, int, bool], _Book] = {}


def _book(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    middleware: bool,
) -> _Book:
    """The kept plans of this operation, or a book for this request only."""
    key = (id(schema), id(operation), middleware)
    book = _books.get(key)
    if book is None:
        kept = not _directives_take_variables([operation, *fragments.values()])
        if len(_books) >= _KEPT_OPERATIONS:
            del _books[next(iter(_books))]
        book = _books[key] = _Book(schema, operation, kept)
    return book if book.kept else _Book(schema, operation, kept=False)


def _directives_take_variables(roots: list[Node]) -> bool:
    """Whether a directive anywhere in these nodes has a variable in its arguments."""
    directives = [node for node in _nodes(roots) if isinstance(node, DirectiveNode)]
    return any(isinstance(node, VariableNode) for node in _nodes(directives))


def _nodes(roots: Sequence[Node]) -> Iterator[Node]:
    """These nodes and every node below them."""
    stack: list[Any] = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, Node):
            yield node
            stack.extend(getattr(node, key) for key in node.keys if key != "loc")
        elif isinstance(node, tuple | list):
            stack.extend(node)


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    # Where fallbacks are counted; a schema's own subclass sets it (`counting`).
    metrics: ClassVar[Metrics | None] = None

    @classmethod
    def counting(cls, metrics: Metrics) -> type[PlainFieldExecutor]:
        """This executor, counting its fallbacks in `metrics`."""
        return type(cls.__name__, (cls,), {"metrics": metrics})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Objects handed back to graphql-core in this document, and the first one's reason.
        self._fallbacks = 0
        self._first_fallback: tuple[Path, _NotPlain] | None = None
        # The operation's plans, kept across requests where they may be.
        self._book = _book(
            self.schema,
            self.operation,
            self.fragment_definitions,
            self.middleware_manager is not None and bool(self.middleware_manager.middlewares),
        )
        # This request's plans by selection set (or field group, for lists); the key object is
        # kept alive beside its plan so that its id is not reused, as graphql-core's memo does.
        self._plans: dict[int, tuple[object, _Plan | None]] = {}
        self._items: dict[tuple[int, GraphQLOutputType], tuple[object, Completer | None]] = {}
        self._made = 0

    @property
    def plain_selection_sets(self) -> int:
        """How many selection sets of this document were written as plain-field functions."""
        return sum(plan is not None for _, plan in self._plans.values())

    @property
    def plans_made(self) -> int:
        """How many plans this request made, not finding them among the operation's kept ones."""
        return self._made

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: AsyncIterable[Any] | Iterable[Any],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        if isinstance(result, list | tuple):
            item = self._item_completer(return_type.of_type, field_details_list)
            # On an error graphql-core completes the list again and reports it, with its path.
            if item is not None:
                try:
                    return [item(value) for value in result]
                except _NotPlain as reason:
                    self._fell_back(path, reason)
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path,
        grouped_field_set: GroupedFieldSet,
        new_defer_usages: Sequence[DeferUsage],
        delivery_group_map: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = None
        if delivery_group_map is None and not new_defer_usages:
            plan = self._plan(parent_type, grouped_field_set)
        if plan is None:
            return super().execute_collected_subfields(
                parent_type,
                source_value,
                path,
                grouped_field_set,
                new_defer_usages,
                delivery_group_map,
            )
        try:
            plain: dict[str, Any] = plan.plain(source_value)
        except _NotPlain as reason:  # graphql-core completes it again and reports it
            self._fell_back(path, reason)
            return super().execute_collected_subfields(
                parent_type, source_value, path, grouped_field_set, (), None
            )
        if not plan.others:
            return plain
        # Fields with resolvers run as graphql-core runs them; the answer keeps the order.
        others = {name: grouped_field_set[name] for name in plan.others}
        resolved = self.execute_fields(parent_type, source_value, path, others, None)
        if isinstance(resolved, dict):
            return _merged(plan.order, plain, resolved)
        return _merged_later(plan.order, plain, resolved)

    def _fell_back(self, path: Path, reason: _NotPlain) -> None:
        self._fallbacks += 1
        if self._first_fallback is None:
            self._first_fallback = (path, reason)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        # Once per document, however many objects fell back: the log stays readable when a
        # bad row sits in every answer.
        if self._first_fallback is not None:
            path, reason = self._first_fallback
            operation = self.operation.name.value if self.operation.name else "(anonymous)"
            log.warning(
                "GraphQL operation %s: graphql-core completed %d object(s) the plain-field "
                "executor handed back; the first at %s: %s",
                operation,
                self._fallbacks,
                ".".join(map(str, path.as_list())),
                reason,
            )
            if self.metrics is not None:
                self.metrics.graphql_executor_fallbacks.inc(self._fallbacks)
        return super().build_response(data)

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> _Plan | None:
        """How to complete the selection set; None if no field in it is plain."""
        cached = self._plans.get(id(grouped_field_set))
        if cached is None:
            made_of = (
                parent_type,
                *((name, *map(_node_id, details)) for name, details in grouped_field_set.items()),
            )
            if made_of in self._book.plans:
                plan = self._book.plans[made_of]
            else:
                plan = self._book.plans[made_of] = self._new_plan(parent_type, grouped_field_set)
                self._made += 1
            cached = self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return cached[1]

    def _new_plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> _Plan | None:
        fields = {
            name: self._plain_field(parent_type, name, details)
            for name, details in grouped_field_set.items()
        }
        plain = tuple(f for f in fields.values() if f is not None)
        if not plain:
            return None
        return _Plan(
            plain=_written(plain, non_null=None),
            order=tuple(fields),
            others=tuple(name for name, f in fields.items() if f is None),
        )

    def _item_completer(
        self, item_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Completer | None:
        key = (id(details), item_type)
        cached = self._items.get(key)
        if cached is None:
            made_of = (item_type, *map(_node_id, details))
            if made_of in self._book.items:
                complete = self._book.items[made_of]
            else:
                plain = not any(d.node.directives for d in details)  # @stream, for one
                complete = self._value_completer(item_type, details) if plain else None
                self._book.items[made_of] = complete
                self._made += 1
            cached = self._items[key] = (details, complete)
        return cached[1]

    def _plain_field(
        self, parent_type: GraphQLObjectType, response_name: str, details: FieldDetailsList
    ) -> _Plain | None:
        """How to read and complete a plain field of a source object; None for another field."""
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return None
        if any(d.node.directives or d.node.arguments for d in details):
            return None
        if details[0].node.name.value == "__typename":
            # The object type's name, as graphql-core's meta field answers it; the frontend's
            # documents ask for it on every object (Apollo's cache adds it).
            return _Plain(
                response_name=response_name,
                attribute="__typename",
                read=getattr,
                complete=_identity,
                as_is=None,
                nullable=False,
                constant=parent_type.name,
            )
        field_def = self.schema.get_field(parent_type, details[0].node.name.value)
        if field_def is None or field_def.args:
            return None
        field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(field, StrawberryField) or not _basic(field):
            return None
        complete = self._value_completer(field_def.type, details)
        if complete is None:
            return None
        value_type = field_def.type
        nullable = not isinstance(value_type, GraphQLNonNull)
        if isinstance(value_type, GraphQLNonNull):
            value_type = value_type.of_type
        return _Plain(
            response_name=response_name,
            attribute=field.python_name,
            read=field.default_resolver,
            complete=complete,
            as_is=_AS_IS.get(value_type),
            nullable=nullable,
        )

    def _value_completer(
        self, return_type: GraphQLOutputType, details: FieldDetailsList, *, non_null: bool = False
    ) -> Completer | None:
        """Completes a value of the type as graphql-core would, or raises; None if it cannot."""
        if isinstance(return_type, GraphQLNonNull):
            return self._value_completer(return_type.of_type, details, non_null=True)
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf(return_type, non_null=non_null)
        if isinstance(return_type, GraphQLList):
            item = self._value_completer(return_type.of_type, details)
            return None if item is None else _list(item, non_null=non_null)
        if isinstance(return_type, GraphQLObjectType) and return_type.is_type_of is None:
            grouped_field_set, new_defer_usages, _ = self.collect_subfields(return_type, details)
            if new_defer_usages:
                return None
            fields = []
            for name, sub in grouped_field_set.items():
                field = self._plain_field(return_type, name, sub)
                if field is None:
                    return None
                fields.append(field)
            return _written(tuple(fields), non_null=non_null)
        return None


def _node_id(details: Any) -> int:
    return id(details.node)


def _basic(field: StrawberryField) -> bool:
    """Whether strawberry answers the field by reading its attribute, and nothing else runs.

    `is_basic_field` is strawberry's own test (no resolver, no extension); permission classes
    are an extension today, and schema directives are read by extensions: both are checked
    here too, so that neither can be answered past.
    """
    return (
        field.is_basic_field
        and field.base_resolver is None
        and not field.extensions
        and not field.permission_classes
        and not field.directives
        and not field.is_subscription
    )


# Completers are made of parts that live as long as the schema (its types, strawberry's fields,
# other completers): kept across requests, each is made, and each function written and compiled,
# once per process. Bounded, as the aliases of queries are among those parts.
@functools.lru_cache(maxsize=1024)
def _written(fields: tuple[_Plain, ...], *, non_null: bool | None) -> Completer:
    """A function completing the fields of a source object, written out and compiled.

    `non_null` None: the source is the object being completed (never null); False or True: the
    source is a field's value, which may or may not be null.

    Its text holds only names made here and attribute names checked to be identifiers; the
    response names (aliases come from the query) are values in its namespace.
    """
    namespace: dict[str, Any] = {
        "Undefined": Undefined,
        "NotPlain": _NotPlain,
        "NULL": _NULL,
        "INF": math.inf,
        "MIN_INT": GRAPHQL_MIN_INT,
        "MAX_INT": GRAPHQL_MAX_INT,
    }
    lines = ["def complete(source):"]
    if non_null is not None:
        lines += [
            "    if source is None or source is Undefined:",
            "        raise NotPlain(NULL)" if non_null else "        return None",
        ]
    # Reading an attribute runs the object's code (a property): whatever it raises is the
    # field's error in graphql-core, so it is handed back, as nothing else here is.
    lines.append("    try:" if fields else "    pass")
    for i, field in enumerate(fields):
        namespace[f"name{i}"] = field.response_name
        if field.constant is not None:
            namespace[f"constant{i}"] = field.constant
            lines.append(f"        v{i} = constant{i}")
        elif field.read is getattr and _plain_attribute(field.attribute):
            lines.append(f"        v{i} = source.{field.attribute}")
        else:
            namespace[f"read{i}"] = field.read
            namespace[f"attribute{i}"] = field.attribute
            lines.append(f"        v{i} = read{i}(source, attribute{i})")
    if fields:
        lines += [
            "    except Exception as error:",
            "        raise NotPlain('an attribute that cannot be read') from error",
        ]
    for i, field in enumerate(fields):
        namespace[f"complete{i}"] = field.complete
        if field.constant is not None:
            continue
        # A value that is its own answer is not completed: no call for it.
        own = ([f"v{i} is None"] if field.nullable else []) + (
            [field.as_is.format(v=f"v{i}")] if field.as_is is not None else []
        )
        if own:
            lines.append(f"    if not ({' or '.join(own)}): v{i} = complete{i}(v{i})")
        else:
            lines.append(f"    v{i} = complete{i}(v{i})")
    lines.append("    return {" + ", ".join(f"name{i}: v{i}" for i in range(len(fields))) + "}")
    exec(compile("\n".join(lines), "<plain fields>", "exec"), namespace)  # noqa: S102
    complete: Completer = namespace["complete"]
    return complete


# The values of graphql-core's own scalars that their coercion returns unchanged (or equal): a
# str for String and ID, a bool for Boolean, an int of 32 bits for Int, a finite float for Float
# (NaN fails both comparisons). Anything else, a subclass included, is coerced.
_AS_IS: dict[GraphQLOutputType, str] = {
    GraphQLString: "{v}.__class__ is str",
    GraphQLID: "{v}.__class__ is str",
    GraphQLBoolean: "{v}.__class__ is bool",
    GraphQLInt: "({v}.__class__ is int and MIN_INT <= {v} <= MAX_INT)",
    GraphQLFloat: "({v}.__class__ is float and -INF < {v} < INF)",
}
_NULL = "a null in a non-null field"
_NOT_COERCED = "a value its type does not coerce"


def _identity(value: Any) -> Any:
    return value


def _plain_attribute(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


@functools.lru_cache(maxsize=1024)
def _leaf(return_type: GraphQLScalarType | GraphQLEnumType, *, non_null: bool) -> Completer:
    """Coerces a scalar or enum value."""
    coerce = (
        _remembered(return_type.coerce_output_value)
        if isinstance(return_type, GraphQLEnumType)
        else return_type.coerce_output_value
    )

    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            if non_null:
                raise _NotPlain(_NULL)
            return None
        # A scalar's own code: whatever it raises, graphql-core reports as the field's error.
        try:
            coerced = coerce(value)
        except Exception as error:
            raise _NotPlain(_NOT_COERCED) from error
        if coerced is None or coerced is Undefined:
            raise _NotPlain(_NOT_COERCED)
        return coerced

    return complete


def _remembered(coerce: Completer) -> Completer:
    """An enum's coercion remembered per value: few values, each always given the same name.

    Values that fail to coerce are not remembered; the type is part of the key, as a StrEnum
    member equals its plain string.
    """
    names: dict[tuple[type, Any], Any] = {}

    def remembered(value: Any) -> Any:
        key = (value.__class__, value)
        try:
            return names[key]
        except (KeyError, TypeError):  # not seen yet, or not hashable
            name = coerce(value)
            with suppress(TypeError):
                names[key] = name
            return name

    return remembered


@functools.lru_cache(maxsize=1024)
def _list(item: Completer, *, non_null: bool) -> Completer:
    def complete(value: Any) -> list[Any] | None:
        if value.__class__ is list or value.__class__ is tuple:
            return [item(v) for v in value]
        if value is None or value is Undefined:
            if non_null:
                raise _NotPlain(_NULL)
            return None
        raise _NotPlain("a list field's value that is not a list or tuple")

    return complete


def _merged(
    order: tuple[str, ...], plain: dict[str, Any], resolved: dict[str, Any]
) -> dict[str, Any]:
    return {
        name: plain[name] if name in plain else resolved[name]
        for name in order
        if name in plain or name in resolved
    }


async def _merged_later(
    order: tuple[str, ...], plain: dict[str, Any], resolved: Awaitable[dict[str, Any]]
) -> dict[str, Any]:
    return _merged(order, plain, await resolved)
