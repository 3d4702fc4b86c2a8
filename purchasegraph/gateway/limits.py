"""How big a query is, measured on its syntax tree before anything executes.

Two passes. ``check_shape`` runs before validation, because validation itself is what alias
bombs attack (overlapping-field checks grow with the square of the fields): it measures depth,
aliases and root fields, expanding fragment spreads once each (memoized, cycle-safe: a cycle
is left for validation to report). ``query_cost`` runs after validation, on a document known to
fit the schema: GitHub's node count, where a connection asked for ``first: 50`` inside one asked
for ``first: 10`` may return 500 nodes. Both are linear in the document, whatever it spreads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from purchasegraph.db.pagination import DEFAULT_PAGE_SIZE
from purchasegraph.gateway.errors import RequestCode, RequestError
from purchasegraph.settings import QueryLimits

# The playground's own introspection query nests TypeRef fragments deeper than any data query.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Shape:
    depth: int
    aliases: int
    root_fields: int


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _ShapeMeter:
    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._depth: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._roots: dict[str, int] = {}
        self._visiting: set[str] = set()

    def fragment(self, name: str) -> tuple[int, int]:
        if name not in self._depth:
            fragment = self._fragments.get(name)
            if fragment is None or name in self._visiting:
                return 0, 0  # unknown or cyclic: validation reports it
            self._visiting.add(name)
            try:
                self._depth[name], self._aliases[name] = self.measure(fragment.selection_set)
            finally:
                self._visiting.discard(name)
        return self._depth[name], self._aliases[name]

    def measure(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        """(depth, aliases) below a selection set, fragments expanded."""
        if selection_set is None:
            return 0, 0
        depth = aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                if selection.name.value in INTROSPECTION_FIELDS:
                    depth = max(depth, 1)
                    continue
                below_depth, below_aliases = self.measure(selection.selection_set)
                depth = max(depth, 1 + below_depth)
                aliases += below_aliases
            elif isinstance(selection, InlineFragmentNode):
                below_depth, below_aliases = self.measure(selection.selection_set)
                depth, aliases = max(depth, below_depth), aliases + below_aliases
            elif isinstance(selection, FragmentSpreadNode):
                below_depth, below_aliases = self.fragment(selection.name.value)
                depth, aliases = max(depth, below_depth), aliases + below_aliases
        return depth, aliases

    def root_fields(self, selection_set: SelectionSetNode) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self.root_fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment_root_fields(selection.name.value)
        return count

    def _fragment_root_fields(self, name: str) -> int:
        if name not in self._roots:
            fragment = self._fragments.get(name)
            if fragment is None or name in self._visiting:
                return 0
            self._visiting.add(name)
            try:
                self._roots[name] = self.root_fields(fragment.selection_set)
            finally:
                self._visiting.discard(name)
        return self._roots[name]


def measure_shape(document: DocumentNode, operation: OperationDefinitionNode) -> Shape:
    meter = _ShapeMeter(fragments_of(document))
    depth, aliases = meter.measure(operation.selection_set)
    # A fragment the operation never spreads still costs validation time: count its aliases too.
    in_fragments = max((meter.fragment(name)[1] for name in fragments_of(document)), default=0)
    root_fields = meter.root_fields(operation.selection_set)
    return Shape(depth=depth, aliases=max(aliases, in_fragments), root_fields=root_fields)


def check_shape(document: DocumentNode, operation: OperationDefinitionNode, limits: QueryLimits) -> Shape:
    shape = measure_shape(document, operation)
    if shape.depth > limits.max_depth:
        raise RequestError(
            RequestCode.MAX_DEPTH_EXCEEDED,
            f"The query is nested {shape.depth} levels deep; at most {limits.max_depth} are allowed.",
            extensions={"depth": shape.depth, "maximum": limits.max_depth},
        )
    if shape.aliases > limits.max_aliases:
        raise RequestError(
            RequestCode.MAX_ALIASES_EXCEEDED,
            f"The query uses {shape.aliases} aliases (counting fragment spreads); "
            f"at most {limits.max_aliases} are allowed.",
            extensions={"aliases": shape.aliases, "maximum": limits.max_aliases},
        )
    if shape.root_fields > limits.max_root_fields:
        raise RequestError(
            RequestCode.MAX_ROOT_FIELDS_EXCEEDED,
            f"The operation selects {shape.root_fields} root fields; at most {limits.max_root_fields} are allowed.",
            extensions={"rootFields": shape.root_fields, "maximum": limits.max_root_fields},
        )
    return shape


def _page_size(field: FieldNode, variables: Mapping[str, Any], limits: QueryLimits) -> int:
    """The page a connection field asks for; `first` and `last` together mean the larger."""
    sizes: list[int] = []
    for argument in field.arguments or ():
        if argument.name.value not in ("first", "last"):
            continue
        value: Any = None
        if isinstance(argument.value, IntValueNode):
            value = int(argument.value.value)
        elif isinstance(argument.value, VariableNode):
            value = variables.get(argument.value.name.value)
        if isinstance(value, int) and not isinstance(value, bool):
            if value > limits.max_page_size:
                raise RequestError(
                    RequestCode.PAGE_SIZE_EXCEEDED,
                    f"`{field.name.value}({argument.name.value}: {value})` asks for more than "
                    f"{limits.max_page_size} items; page through the connection instead.",
                    extensions={"field": field.name.value, "maximum": limits.max_page_size},
                )
            sizes.append(max(value, 0))
    return max(sizes) if sizes else DEFAULT_PAGE_SIZE


def _is_connection(named: GraphQLNamedType) -> bool:
    return named.name.endswith("Connection") and isinstance(named, GraphQLObjectType)


class _CostMeter:
    """Cost is linear in the parent's multiplier, so each fragment is costed once per type."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        limits: QueryLimits,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self._limits = limits
        self._memo: dict[tuple[str, str], int] = {}

    def cost(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        """Nodes below ``selection_set`` per one ``parent`` object."""
        if selection_set is None or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return self._cost_of_fragments_only(selection_set, parent)
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent)
            else:
                total += self._fragment_cost(selection, parent)
        return total

    def _cost_of_fragments_only(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        # Unions select through fragments; their own fields are only __typename.
        if selection_set is None:
            return 0
        return sum(self._fragment_cost(s, parent) for s in selection_set.selections if not isinstance(s, FieldNode))

    def _field_cost(self, field: FieldNode, parent: GraphQLObjectType | GraphQLInterfaceType) -> int:
        definition = parent.fields.get(field.name.value)
        if definition is None:  # __typename and introspection
            return 0
        named = get_named_type(definition.type)
        if _is_connection(named):
            page = _page_size(field, self._variables, self._limits)
            return page + page * self.cost(field.selection_set, named)
        return self.cost(field.selection_set, named)

    def _fragment_cost(self, selection: Any, parent: GraphQLNamedType) -> int:
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            named = self._schema.get_type(condition.name.value) if condition is not None else parent
            return self.cost(selection.selection_set, named or parent)
        if isinstance(selection, FragmentSpreadNode):
            fragment = self._fragments.get(selection.name.value)
            if fragment is None:
                return 0
            named = self._schema.get_type(fragment.type_condition.name.value) or parent
            key = (fragment.name.value, named.name)
            if key not in self._memo:
                self._memo[key] = 0  # a cycle (validation rejects it first) counts nothing
                self._memo[key] = self.cost(fragment.selection_set, named)
            return self._memo[key]
        return 0


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    limits: QueryLimits,
) -> int:
    """1 for the operation plus every node its connections could return (GitHub's way)."""
    root: GraphQLCompositeType | None = schema.get_root_type(operation.operation)
    if root is None:
        return 1
    return 1 + _CostMeter(schema, fragments_of(document), variables, limits).cost(operation.selection_set, root)


def check_cost(cost: int, limits: QueryLimits) -> None:
    if cost > limits.max_cost:
        raise RequestError(
            RequestCode.QUERY_COST_EXCEEDED,
            f"The query could return {cost} nodes; at most {limits.max_cost} are allowed per request. "
            "Ask for smaller pages.",
            extensions={"cost": cost, "maximum": limits.max_cost},
        )
