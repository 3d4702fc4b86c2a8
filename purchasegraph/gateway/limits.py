"""How big a query is, measured on its syntax tree before anything executes.

Two passes. ``check_shape`` runs before validation, because validation itself is what alias
bombs attack (overlapping-field checks grow with the square of the fields): it measures depth,
aliases and root fields, expanding fragment spreads once each (memoized, cycle-safe: a cycle
is left for validation to report). ``query_cost`` runs after validation, on a document known to
fit the schema: GitHub's node count, where a connection asked for ``first: 50`` inside one asked
for ``first: 10`` may return 500 nodes. It reads the arguments as execution will, after coercion
(variable defaults, ``100.0`` for an Int, argument defaults), and multiplies plain lists of
objects too. Both are linear in the document, whatever it spreads.
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
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from purchasegraph.db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from purchasegraph.gateway.refusals import RequestCode, RequestError
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


def _requested_size(field: FieldNode, arguments: Mapping[str, Any], *, default: int) -> int:
    """The items a list field asks for, from its coerced arguments; `first` and `last` together
    mean the larger, neither means ``default``."""
    sizes: list[int] = []
    for name in ("first", "last"):
        value = arguments.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            if value > MAX_PAGE_SIZE:
                raise RequestError(
                    RequestCode.PAGE_SIZE_EXCEEDED,
                    f"`{field.name.value}({name}: {value})` asks for more than "
                    f"{MAX_PAGE_SIZE} items; page through the connection instead.",
                    extensions={"field": field.name.value, "maximum": MAX_PAGE_SIZE},
                )
            sizes.append(max(value, 0))
    return max(sizes) if sizes else default


def _is_connection(named: GraphQLNamedType) -> bool:
    return named.name.endswith("Connection") and isinstance(named, GraphQLObjectType)


def _is_list_of_objects(output: GraphQLOutputType) -> bool:
    """A plain list of objects (not a connection): `viewer.tenants`, `viewer.paymentMethods`."""
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    return isinstance(inner, GraphQLList) and isinstance(get_named_type(inner), GraphQLCompositeType)


class _CostMeter:
    """Cost is linear in the parent's multiplier, so each fragment is costed once per type."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        *,
        hide_suggestions: bool,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self._hide_suggestions = hide_suggestions
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

    def _arguments(self, definition: GraphQLField, field: FieldNode) -> dict[str, Any]:
        """The field's arguments as execution will see them: variables (with their defaults)
        substituted, literals and variables coerced (``100.0`` is the Int 100), defaults filled in."""
        try:
            return get_argument_values(definition, field, self._variables, hide_suggestions=self._hide_suggestions)
        except GraphQLError as error:
            raise RequestError(
                RequestCode.BAD_VARIABLES, error.message, legacy_status=200, errors=[_coded(error)]
            ) from None

    def _field_cost(self, field: FieldNode, parent: GraphQLObjectType | GraphQLInterfaceType) -> int:
        definition = parent.fields.get(field.name.value)
        if definition is None:  # __typename and introspection
            return 0
        named = get_named_type(definition.type)
        if _is_connection(named):
            page = _requested_size(field, self._arguments(definition, field), default=DEFAULT_PAGE_SIZE)
            return page + page * self.cost(field.selection_set, named)
        # A connection's `nodes` and `edges` are its page, counted above; any other list of objects
        # is multiplied.
        if _is_list_of_objects(definition.type) and not _is_connection(parent):
            # A list the API does not page may hold as many items as the largest page: a
            # partner's `viewer.tenants` multiplies whatever each tenant asks for.
            items = _requested_size(field, self._arguments(definition, field), default=MAX_PAGE_SIZE)
            return items + items * self.cost(field.selection_set, named)
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


def _coded(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": RequestCode.BAD_VARIABLES.value}
    return formatted


def coerce_variables(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    *,
    hide_suggestions: bool = False,
) -> VariableValues:
    """The variables as execution will coerce them (defaults applied), or BAD_VARIABLES."""
    coerced = get_variable_values(
        schema,
        operation.variable_definitions or (),
        dict(variables or {}),
        max_errors=20,
        hide_suggestions=hide_suggestions,
    )
    if isinstance(coerced, list):
        raise RequestError(
            RequestCode.BAD_VARIABLES,
            "The variables do not fit the operation.",
            legacy_status=200,
            errors=[_coded(error) for error in coerced],
        )
    return coerced


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    *,
    hide_suggestions: bool = False,
) -> int:
    """1 for the operation plus every node its lists could return (GitHub's way), measured on the
    arguments after coercion: a page size from a variable's default or a float variable counts."""
    root: GraphQLCompositeType | None = schema.get_root_type(operation.operation)
    if root is None:
        return 1
    coerced = coerce_variables(schema, operation, variables, hide_suggestions=hide_suggestions)
    meter = _CostMeter(schema, fragments_of(document), coerced, hide_suggestions=hide_suggestions)
    return 1 + meter.cost(operation.selection_set, root)


def check_cost(cost: int, limits: QueryLimits) -> None:
    if cost > limits.max_cost:
        raise RequestError(
            RequestCode.QUERY_COST_EXCEEDED,
            f"The query could return {cost} nodes; at most {limits.max_cost} are allowed per request. "
            "Ask for smaller pages.",
            extensions={"cost": cost, "maximum": limits.max_cost},
        )
