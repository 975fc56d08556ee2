"""Which fields of which object types an operation selects, through all of its fragments.

A resolver reads the data of a field it does not resolve itself (the caller's subscription of
each `Model`, a plain attribute) only when the operation selects that field somewhere. Worked
out once per operation (documents are parsed once per process, `schema.Documents`), bounded.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)

from app.graphql.context import Info

# (object type name, field name) of every field an operation selects.
Selected = frozenset[tuple[str, str]]

_KEPT = 256
# By operation: the schema and operation are kept beside the answer so that their ids, the
# key, are not reused while it is kept.
_selected: dict[tuple[int, int], tuple[GraphQLSchema, OperationDefinitionNode, Selected]] = {}


def selects(info: Info, type_name: str, field_name: str) -> bool:
    """Whether the operation being executed selects this field of this object type anywhere."""
    raw = info._raw_info
    return (type_name, field_name) in selected_fields(raw.schema, raw.operation, raw.fragments)


def selected_fields(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Selected:
    key = (id(schema), id(operation))
    kept = _selected.get(key)
    if kept is None:
        root = schema.get_root_type(operation.operation)
        found: set[tuple[str, str]] = set()
        if root is not None:
            _walk(schema, fragments, root, operation.selection_set, found, set())
        if len(_selected) >= _KEPT:
            del _selected[next(iter(_selected))]
        kept = _selected[key] = (schema, operation, frozenset(found))
    return kept[2]


def _walk(
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode,
    found: set[tuple[str, str]],
    spread: set[str],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            found.update((object_type.name, name) for object_type in _objects(schema, parent))
            fields = getattr(parent, "fields", {})
            if selection.selection_set is not None and name in fields:
                field_type = get_named_type(fields[name].type)
                _walk(schema, fragments, field_type, selection.selection_set, found, spread)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            on = parent if condition is None else schema.get_type(condition.name.value)
            if on is not None:
                _walk(schema, fragments, on, selection.selection_set, found, spread)
        elif isinstance(selection, FragmentSpreadNode):
            # A fragment's fields are the same wherever it is spread: walked once.
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.name.value in spread:
                continue
            spread.add(fragment.name.value)
            on = schema.get_type(fragment.type_condition.name.value)
            if on is not None:
                _walk(schema, fragments, on, fragment.selection_set, found, spread)


def _objects(schema: GraphQLSchema, parent: GraphQLNamedType) -> list[GraphQLObjectType]:
    """The object types a selection on this type may be completed as."""
    if isinstance(parent, GraphQLObjectType):
        return [parent]
    if isinstance(parent, GraphQLInterfaceType | GraphQLUnionType):
        return list(schema.get_possible_types(parent))
    return []
