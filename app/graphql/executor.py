"""A graphql-core executor that completes plain fields without the per-field machinery.

Most of an answer is plain fields: attributes of strawberry objects that have no resolver, no
arguments, no permission and no extension. For each of them graphql-core builds a resolve info,
calls strawberry's resolver wrapper and walks `complete_value`; the API-keys page has about 500.
This executor compiles each selection set (and each list of plain objects) once per request
into closures that read those attributes and coerce leaf values directly.

Anything else goes through graphql-core's own path: fields with resolvers or arguments, abstract
types, objects with an `is_type_of` check, deferred fragments and fields carrying directives. A
plain field that would be an error (a null in a non-null field, a value that does not coerce)
makes the whole object go through graphql-core again, so answers, errors and their paths are
exactly graphql-core's.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from graphql.execution.collect_fields import DeferUsage, FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# Reads one field of a source object and completes it; raises to hand the object back.
Completer = Callable[[Any], Any]
# (response name, completer) for a plain field, (response name, None) for any other.
Step = tuple[str, Completer | None]


class _NotPlain(Exception):
    """The value cannot be completed here; graphql-core completes the object instead."""


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Plans by selection set (or field group, for lists); the key object is kept alive
        # beside its plan so that its id is not reused, as graphql-core's own memo does.
        self._plans: dict[int, tuple[object, list[Step] | None]] = {}
        self._items: dict[tuple[int, str], tuple[object, Completer | None]] = {}

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
                with suppress(Exception):
                    return [item(value) for value in result]
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
            plain = {name: complete(source_value) for name, complete in plan if complete}
        except Exception:  # graphql-core completes it again and reports it, with its path
            return super().execute_collected_subfields(
                parent_type, source_value, path, grouped_field_set, (), None
            )
        if len(plain) == len(plan):
            return plain
        # Fields with resolvers run as graphql-core runs them; the answer keeps the order.
        others = {name: grouped_field_set[name] for name, complete in plan if complete is None}
        resolved = self.execute_fields(parent_type, source_value, path, others, None)
        if isinstance(resolved, dict):
            return _merged(plan, plain, resolved)
        return _merged_later(plan, plain, resolved)

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[Step] | None:
        """How to complete the selection set; None if no field in it is plain."""
        cached = self._plans.get(id(grouped_field_set))
        if cached is None:
            steps = [
                (name, self._field_completer(parent_type, details))
                for name, details in grouped_field_set.items()
            ]
            plan = steps if any(complete for _, complete in steps) else None
            cached = self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return cached[1]

    def _item_completer(
        self, item_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Completer | None:
        key = (id(details), str(item_type))
        cached = self._items.get(key)
        if cached is None:
            plain = not any(d.node.directives for d in details)  # @stream, for one
            complete = self._value_completer(item_type, details) if plain else None
            cached = self._items[key] = (details, complete)
        return cached[1]

    def _field_completer(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList
    ) -> Completer | None:
        """Read-and-complete for a plain field of a source object, or None."""
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return None
        if any(d.node.directives or d.node.arguments for d in details):
            return None
        field_def = self.schema.get_field(parent_type, details[0].node.name.value)
        if field_def is None or field_def.args:
            return None
        field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(field, StrawberryField) or not getattr(
            field_def.resolve, "_is_default", False
        ):
            return None
        name = field.python_name
        resolve = field.default_resolver
        read = attrgetter(name) if resolve is getattr else lambda source: resolve(source, name)
        return_type = field_def.type
        if isinstance(return_type, GraphQLNonNull):
            if isinstance(return_type.of_type, GraphQLScalarType | GraphQLEnumType):
                return _leaf_field(read, return_type.of_type, non_null=True)
        elif isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf_field(read, return_type, non_null=False)
        complete = self._value_completer(return_type, details)
        if complete is None:
            return None
        return lambda source: complete(read(source))

    def _value_completer(
        self, return_type: GraphQLOutputType, details: FieldDetailsList, *, non_null: bool = False
    ) -> Completer | None:
        """Completes a value of the type as graphql-core would, or raises; None if it cannot."""
        if isinstance(return_type, GraphQLNonNull):
            return self._value_completer(return_type.of_type, details, non_null=True)
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf_field(_same, return_type, non_null=non_null)
        if isinstance(return_type, GraphQLList):
            item = self._value_completer(return_type.of_type, details)
            return None if item is None else _list(item, non_null=non_null)
        if isinstance(return_type, GraphQLObjectType) and return_type.is_type_of is None:
            grouped_field_set, new_defer_usages, _ = self.collect_subfields(return_type, details)
            if new_defer_usages:
                return None
            steps = []
            for name, sub in grouped_field_set.items():
                complete = self._field_completer(return_type, sub)
                if complete is None:
                    return None
                steps.append((name, complete))
            return _object(steps, non_null=non_null)
        return None


def _same(value: Any) -> Any:
    return value


def _leaf_field(
    read: Completer, return_type: GraphQLScalarType | GraphQLEnumType, *, non_null: bool
) -> Completer:
    """Reads a scalar or enum and coerces it."""
    coerce = (
        _remembered(return_type.coerce_output_value)
        if isinstance(return_type, GraphQLEnumType)
        else return_type.coerce_output_value
    )
    # graphql-core's String and ID give a str back as it is.
    as_is = str if return_type is GraphQLString or return_type is GraphQLID else None

    def complete(source: Any) -> Any:
        value = read(source)
        if value.__class__ is as_is:
            return value
        if value is None or value is Undefined:
            if non_null:
                raise _NotPlain
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _NotPlain
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


def _list(item: Completer, *, non_null: bool) -> Completer:
    def complete(value: Any) -> list[Any] | None:
        if value.__class__ is list or value.__class__ is tuple:
            return [item(v) for v in value]
        if value is None or value is Undefined:
            if non_null:
                raise _NotPlain
            return None
        raise _NotPlain

    return complete


def _object(steps: list[tuple[str, Completer]], *, non_null: bool) -> Completer:
    def complete(value: Any) -> dict[str, Any] | None:
        if value is None or value is Undefined:
            if non_null:
                raise _NotPlain
            return None
        return {name: field(value) for name, field in steps}

    return complete


def _merged(plan: list[Step], plain: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    return {
        name: plain[name] if complete else resolved[name]
        for name, complete in plan
        if complete or name in resolved
    }


async def _merged_later(
    plan: list[Step], plain: dict[str, Any], resolved: Awaitable[dict[str, Any]]
) -> dict[str, Any]:
    return _merged(plan, plain, await resolved)
