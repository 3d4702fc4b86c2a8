"""GraphQL read → one SQL statement that builds the response JSON in PostgreSQL.

Per-field execution in Python is what makes a nested read slow (thousands of resolver calls for
one purchase graph). For the reads this compiler understands — ``tenant(id:)`` and below it
every connection of ``connections`` with its filters, and the roots and fields it hands to
``roots``, ``viewer``, ``objects``, ``fields`` and ``lists`` (``products``, ``node(id:)``,
``viewer``, the tenant's plain lists) — it writes a single statement instead, whose JSON
PostgreSQL assembles, shaped as Relay and Apollo clients ask:
``edges { cursor node }``, ``pageInfo`` with its cursors, ``first/after/last/before``, ``orderBy``,
``__typename``, fragments, ``@include``/``@skip`` and repeated fields merged. Anything else (a
field it does not know, introspection, a value the resolvers would refuse) raises
``NotCompilable`` with a ``Reason`` and the resolvers run: they remain the reference, and a
differential test holds the two paths to identical data.

Scope is not re-decided here: the policy module's ``Scope`` for the tenant (``whole_tenant``,
``sees_directory``, ``viewer_id``) becomes parameters of the very predicates the query modules
in ``db/queries`` apply, and the statement runs on the request's connection, under row-level
security like every other statement of the request.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    is_abstract_type,
    print_ast,
)

from purchasegraph.compiled.connections import CONNECTIONS, ConnectionSource
from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Beside
from purchasegraph.compiled.fields import FIELDS
from purchasegraph.compiled.fleet import tenant_by_domain
from purchasegraph.compiled.objects import keyed_object, tenant_object
from purchasegraph.compiled.roots import ROOTS
from purchasegraph.compiled.sql import Params, date, enum_name, global_id, literal, timestamp
from purchasegraph.compiled.subscription_of_row import of_subscription
from purchasegraph.db.ordering import ID, Ordering, Sortable, cursor_sql, keyset, probe
from purchasegraph.db.pagination import PageArgs
from purchasegraph.db.queries.requests import AUDIT_NEW_VALUE, AUDIT_PREVIOUS_VALUE
from purchasegraph.errors import BadUserInput
from purchasegraph.policy import RELATIONSHIP_IN_FORCE, Scope
from purchasegraph.principals import Principal
from purchasegraph.schema.ids import INVOICE_PAGE_PREFIX, decode_uuid

# Every parameter appears as ``$n::type`` (``Params.add``).
PLACEHOLDER = re.compile(r"\$(\d+)::")

# json_build_object takes at most 100 arguments: 50 keys.
MAX_KEYS = 50


# The Relay arguments every compiled connection takes.
PAGING = ("first", "after", "last", "before", "orderBy")


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]
    # Response paths (keys, list levels skipped) of every connection's nodes/edges list, for the
    # actual cost: the nodes the connections returned.
    node_lists: tuple[tuple[str, ...], ...]
    # Fields resolved in Python beside the statement (eligibility), merged in at their paths.
    beside: tuple[Beside, ...] = ()


@dataclass
class _State:
    params: Params = field(default_factory=Params)
    aliases: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    node_lists: list[tuple[str, ...]] = field(default_factory=list)
    beside: list[Beside] = field(default_factory=list)

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self.aliases)}"


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        scope_of: Callable[[uuid.UUID], Scope],
        viewer: Principal | None = None,
    ) -> None:
        self._schema = schema
        self._fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._variables = variables
        self._scope_of = scope_of
        self._viewer = viewer
        self._state = _State()

    # -- the operation ----------------------------------------------------------------------

    def compile(self, operation: OperationDefinitionNode) -> Compiled:
        if operation.operation is not OperationType.QUERY or operation.directives:
            raise NotCompilable(Reason.OPERATION, "only queries")
        pairs: list[tuple[str, str]] = []
        for node in self._fields(operation.selection_set, "Query"):
            name = node.name.value
            if name == "__typename":
                pairs.append((self._key(node), literal("Query")))
            elif name == "tenant":
                pairs.append((self._key(node), self._tenant(node, (self._key(node),))))
            elif name in ROOTS:
                pairs.append((self._key(node), ROOTS[name](self, node, (self._key(node),))))
            else:
                raise NotCompilable(Reason.FIELD, f"Query.{name}")
        sql = f"SELECT {self._object(pairs)}::text"
        state = self._state
        if len(set(PLACEHOLDER.findall(sql))) != len(state.params.values):
            raise NotCompilable(Reason.UNREAD_PARAMETER, operation.name.value if operation.name else "anonymous")
        # Each response path once: a list the compiler unrolls item by item (accessibleTenants)
        # compiles the same nested connection for every item, and its lists are counted at
        # their path across all items.
        node_lists = tuple(dict.fromkeys(state.node_lists))
        return Compiled(sql, state.params.values, node_lists, tuple(state.beside))

    def _tenant(self, node: FieldNode, path: tuple[str, ...]) -> str:
        raw = self._argument(node, "id")
        if not isinstance(raw, str):
            raise NotCompilable(Reason.INVALID_INPUT, "tenant id")
        tenant_id = decode_uuid(raw, "Tenant")
        if tenant_id is None:
            return tenant_by_domain(self, node, raw, path)
        return tenant_object(self, node, tenant_id, path)

    # -- objects ----------------------------------------------------------------------------

    def _selection(self, node: FieldNode, type_name: str, a: str, scope: Scope, path: tuple[str, ...]) -> str:
        if node.selection_set is None:
            raise NotCompilable(Reason.FIELD, f"{type_name} without selection")
        pairs = []
        for child in self._fields(node.selection_set, type_name):
            key = self._key(child)
            pairs.append((key, self._field(child, type_name, a, scope, (*path, key))))
        return self._object(pairs)

    def _field(self, node: FieldNode, type_name: str, a: str, scope: Scope, path: tuple[str, ...]) -> str:
        name = node.name.value
        if name == "__typename":
            return literal(type_name)
        scalar = SCALARS.get(type_name, {}).get(name)
        if scalar is not None:
            if node.arguments or node.selection_set is not None:
                raise NotCompilable(Reason.ARGUMENT, f"{type_name}.{name}")
            return scalar(self._schema, a)
        money = MONEY.get(type_name, {}).get(name)
        if money is not None:
            amount, currency = money
            return self._money(node, f"{a}.{amount}", f"{a}.{currency}")
        connection = CONNECTIONS.get((type_name, name))
        if connection is not None:
            return self._connection(node, connection, a, scope, path)
        if type_name == "Subscription" and name == "product":
            p = self._state.alias("p")
            body = self._selection(node, "Product", p, scope, path)
            return f"(SELECT {body} FROM products {p} WHERE {p}.id = {a}.product_id)"
        column = USER_COLUMNS.get((type_name, name))
        if column is not None:
            return keyed_object(self, node, "User", scope, f"{a}.tenant_id", f"{a}.{column}", path)
        compile_field = FIELDS.get((type_name, name))
        if compile_field is not None:
            return compile_field(self, node, a, scope, path)
        raise NotCompilable(Reason.FIELD, f"{type_name}.{name}")

    def _money(self, node: FieldNode, amount: str, currency: str) -> str:
        if node.selection_set is None or node.arguments:
            raise NotCompilable(Reason.ARGUMENT, "Money")
        pairs = []
        for child in self._fields(node.selection_set, "Money"):
            name = child.name.value
            values = {"amount": f"{amount}::text", "currency": f"{currency}::text", "__typename": literal("Money")}
            if name not in values:
                raise NotCompilable(Reason.FIELD, f"Money.{name}")
            pairs.append((self._key(child), values[name]))
        return self._object(pairs)

    # -- connections ------------------------------------------------------------------------

    def _page(self, node: FieldNode, spec: ConnectionSource) -> PageArgs:
        """The page exactly as ``PageArgs.from_relay`` reads it; what it refuses, the resolvers report."""
        sortable = spec.sortable
        taken = {*PAGING, *(f.argument for f in spec.filters)}
        for argument in node.arguments or ():
            if argument.name.value not in taken:
                raise NotCompilable(Reason.ARGUMENT, f"argument {argument.name.value}")
        first, last = self._argument(node, "first"), self._argument(node, "last")
        after, before = self._argument(node, "after"), self._argument(node, "before")
        for size in (first, last):
            if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
                raise NotCompilable(Reason.INVALID_INPUT, "page size")
        for cursor_value in (after, before):
            if cursor_value is not None and not isinstance(cursor_value, str):
                raise NotCompilable(Reason.INVALID_INPUT, "cursor")
        ordering = _ordering(sortable, self._argument(node, "orderBy"))
        try:
            return PageArgs.from_relay(first=first, after=after, last=last, before=before, ordering=ordering)
        except BadUserInput:
            raise NotCompilable(Reason.INVALID_INPUT, "page arguments") from None  # a foreign cursor, say

    def _filters(self, node: FieldNode, spec: ConnectionSource) -> dict[str, tuple[Any, str]]:
        """The connection's filter arguments as the resolver reads them: each slot's value and type."""
        return {f.slot: (f.read(self._schema, self._argument(node, f.argument)), f.cast) for f in spec.filters}

    def _rows(
        self, spec: ConnectionSource, parent: str, scope: Scope, filters: Mapping[str, tuple[Any, str]]
    ) -> tuple[str, str]:
        """A fresh alias over the connection's table, and the ``FROM … WHERE`` of the parent's rows in
        scope that the filters keep."""
        x, j = self._state.alias("x"), self._state.alias("j")
        where = spec.where.format(
            a=x,
            p=parent,
            j=j,
            whole=self._param(spec.whole(scope), "bool"),
            viewer=self._param(scope.viewer_id, "uuid"),
            **{slot: self._param(value, cast) for slot, (value, cast) in filters.items()},
        )
        return x, f"FROM {spec.table} {x} WHERE {where}"

    def _connection(
        self, node: FieldNode, spec: ConnectionSource, parent: str, scope: Scope, path: tuple[str, ...]
    ) -> str:
        """The page as ``db/pagination.py`` cuts it: the first (or last) rows of the keyset window
        between the cursors, one row more to tell whether more follow, cursors computed by the
        same ``cursor_sql``; the probes and the count run only for the fields that read them."""
        if node.selection_set is None:
            raise NotCompilable(Reason.FIELD, "connection without selection")
        page = self._page(node, spec)
        rows: _Rows = partial(self._rows, spec, parent, scope, self._filters(node, spec))
        ordering = page.ordering
        children = self._fields(node.selection_set, f"{spec.type_name}Connection")
        after = self._param(list(page.after), "text[]") if page.after is not None else None
        before = self._param(list(page.before), "text[]") if page.before is not None else None
        size = self._param(page.size, "int")
        w = self._state.alias("w")
        direction = " DESC" if page.backward else ""
        page_order = f"{w}q.pos{direction}"
        on_page = f"FILTER (WHERE {w}q.pos <= {size})"
        beyond = f"({w}.n > {size})"
        # The page's aggregates beside its row count: each items list and, when read, the cursors.
        aggregates: list[str] = []
        cursors = _CursorUse()
        pairs: list[tuple[str, str]] = []
        for child in children:
            name, key = child.name.value, self._key(child)
            if name == "__typename":
                pairs.append((key, literal(f"{spec.type_name}Connection")))
            elif name == "totalCount":
                pairs.append((key, f"(SELECT count(*)::int {rows()[1]})"))
            elif name in ("nodes", "edges"):
                item = self._page_item(child, spec, w, scope, (*path, key), cursors, edges=name == "edges")
                column = f"items{len(aggregates)}"
                aggregates.append(f"json_agg({item} ORDER BY {page_order}) {on_page} AS {column}")
                pairs.append((key, f"COALESCE({w}.{column}, '[]'::json)"))
            elif name == "pageInfo":
                # Built only when read: a probe adds parameters, and one the statement never
                # references has no type PostgreSQL can infer.
                probes = _Probes(
                    upto_after=lambda: _probe(rows, ordering, after, after=False),
                    from_before=lambda: _probe(rows, ordering, before, after=True),
                )
                pairs.append((key, self._page_info(child, w, beyond, probes, cursors, backward=page.backward)))
            else:
                raise NotCompilable(Reason.FIELD, f"{spec.type_name}Connection.{name}")
        if cursors.listed:
            aggregates.append(f"array_agg({w}q.cur ORDER BY {page_order}) {on_page} AS curs")
        fetched = _window(rows, page, (after, before), size, cursors.read)
        paged = f"(SELECT {', '.join(['count(*) AS n', *aggregates])} FROM {fetched} {w}q) {w}"
        return f"(SELECT {self._object(pairs)} FROM {paged})"

    def _page_item(
        self,
        node: FieldNode,
        spec: ConnectionSource,
        w: str,
        scope: Scope,
        path: tuple[str, ...],
        cursors: _CursorUse,
        *,
        edges: bool,
    ) -> str:
        """One item of the page: the selection over the window's row ``({w}q.r)``."""
        self._state.node_lists.append(path)
        if node.selection_set is None:
            raise NotCompilable(Reason.FIELD, "items without selection")
        r = f"({w}q.r)"
        if not edges:
            return self._selection(node, spec.type_name, r, scope, path)
        pairs = []
        for child in self._fields(node.selection_set, f"{spec.type_name}Edge"):
            name, key = child.name.value, self._key(child)
            if name == "node":
                pairs.append((key, self._selection(child, spec.type_name, r, scope, (*path, key))))
            elif name == "cursor":
                cursors.read = True
                pairs.append((key, f"{w}q.cur"))
            elif name == "__typename":
                pairs.append((key, literal(f"{spec.type_name}Edge")))
            else:
                raise NotCompilable(Reason.FIELD, f"{spec.type_name}Edge.{name}")
        return self._object(pairs)

    def _page_info(
        self, node: FieldNode, w: str, beyond: str, probes: _Probes, cursors: _CursorUse, *, backward: bool
    ) -> str:
        """``db/pagination.py``'s rules: the row fetched beyond the page, or a probe past a cursor."""
        if node.selection_set is None:
            raise NotCompilable(Reason.FIELD, "pageInfo without selection")
        values: dict[str, Callable[[], str]] = {
            "hasNextPage": lambda: probes.from_before() if backward else f"({beyond} OR {probes.from_before()})",
            "hasPreviousPage": lambda: f"({beyond} OR {probes.upto_after()})" if backward else probes.upto_after(),
            "startCursor": lambda: cursors.list(f"{w}.curs[1]"),
            "endCursor": lambda: cursors.list(f"{w}.curs[cardinality({w}.curs)]"),
            "__typename": lambda: literal("PageInfo"),
        }
        pairs = []
        for child in self._fields(node.selection_set, "PageInfo"):
            if child.name.value not in values:
                raise NotCompilable(Reason.FIELD, f"PageInfo.{child.name.value}")
            pairs.append((self._key(child), values[child.name.value]()))
        return self._object(pairs)

    # -- the document -----------------------------------------------------------------------

    def _fields(self, selection_set: SelectionSetNode, type_name: str) -> list[FieldNode]:
        """The fields selected on an object type, one per response key, as GraphQL's CollectFields
        gathers them: @skip/@include applied, fragments that apply to the type inlined (each named
        one once), and fields of the same key merged into one with their sub-selections joined.
        https://spec.graphql.org/October2021/#sec-Field-Collection"""
        grouped: dict[str, list[FieldNode]] = {}
        self._collect(selection_set, type_name, grouped, set())
        if len(grouped) > MAX_KEYS:
            raise NotCompilable(Reason.TOO_WIDE, type_name)
        return [_merged(nodes) for nodes in grouped.values()]

    def _collect(
        self, selection_set: SelectionSetNode, type_name: str, grouped: dict[str, list[FieldNode]], visited: set[str]
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                grouped.setdefault(self._key(selection), []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, type_name):
                    self._collect(selection.selection_set, type_name, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self._fragments.get(name)
                if fragment is None:
                    raise NotCompilable(Reason.FIELD, f"fragment {name}")  # validation refuses it
                if self._applies(fragment.type_condition.name.value, type_name):
                    self._collect(fragment.selection_set, type_name, grouped, visited)

    def _applies(self, condition: str, type_name: str) -> bool:
        """DoesFragmentTypeApply: the type itself, or an interface or union it belongs to."""
        if condition == type_name:
            return True
        abstract, concrete = self._schema.get_type(condition), self._schema.get_type(type_name)
        return (
            abstract is not None
            and is_abstract_type(abstract)
            and isinstance(concrete, GraphQLObjectType)
            and self._schema.is_sub_type(abstract, concrete)
        )

    def _included(self, selection: SelectionNode) -> bool:
        """@skip(if:) and @include(if:), literal or variable; any other directive declines."""
        included = True
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                raise NotCompilable(Reason.DIRECTIVE, f"@{name}")
            arguments = directive.arguments or ()
            condition = self._value(arguments[0].value) if len(arguments) == 1 else None
            if not isinstance(condition, bool):
                raise NotCompilable(Reason.INVALID_INPUT, f"@{name}(if:)")
            if condition is (name == "skip"):
                included = False
        return included

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return self._value(argument.value)
        return None

    def _value(self, value: ValueNode) -> Any:
        if isinstance(value, VariableNode):
            return self._variables.get(value.name.value)
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, StringValueNode):
            return value.value
        if isinstance(value, BooleanValueNode):
            return value.value
        if isinstance(value, NullValueNode):
            return None
        if isinstance(value, EnumValueNode):
            return value.value
        if isinstance(value, ListValueNode):
            return [self._value(item) for item in value.values]
        if isinstance(value, ObjectValueNode):
            return {f.name.value: self._value(f.value) for f in value.fields}
        raise NotCompilable(Reason.ARGUMENT, "argument value")

    @staticmethod
    def _key(node: FieldNode) -> str:
        return node.alias.value if node.alias else node.name.value

    def _param(self, value: Any, cast: str) -> str:
        return self._state.params.add(value, cast)

    def _object(self, pairs: list[tuple[str, str]]) -> str:
        # Response keys are the caller's aliases: parameters, never spliced into the SQL.
        return "json_build_object(" + ", ".join(f"{self._param(k, 'text')}, {v}" for k, v in pairs) + ")"


@dataclass
class _CursorUse:
    """Which of a connection's cursors the document reads: each row's (``read``), and the page's
    list of them for ``startCursor``/``endCursor`` (``listed``)."""

    read: bool = False
    listed: bool = False

    def list(self, expression: str) -> str:
        self.read = self.listed = True
        return expression


@dataclass(frozen=True)
class _Probes:
    """SQL of the two probes past the cursors: a row at or before ``after``, at or after ``before``."""

    upto_after: Callable[[], str]
    from_before: Callable[[], str]


# A fresh alias over a connection's rows, and the ``FROM … WHERE`` of one parent's rows in scope.
_Rows = Callable[[], tuple[str, str]]


def _window(rows: _Rows, page: PageArgs, cursors: tuple[str | None, str | None], size: str, cursor_read: bool) -> str:
    """The window's rows whole (a value of the table's row type, which functions over it such as
    effective_status accept) between the cursors (``after``, ``before``: their key values), one
    more than the page to tell whether more follow; each row's cursor only when a field reads it
    (it costs more than the rest of the row)."""
    x, source = rows()
    ordering = page.ordering
    window = "".join(
        f" AND {keyset(ordering, x, values, after=is_after, inclusive=False)}"
        for values, is_after in zip(cursors, (True, False), strict=True)
        if values is not None
    )
    cursor = cursor_sql(ordering, x) if cursor_read else "NULL::text"
    order = ordering.order_by(x, reverse=page.backward)
    return (
        f"(SELECT {x} AS r, {cursor} AS cur, row_number() OVER (ORDER BY {order}) AS pos"
        f" {source}{window} ORDER BY {order} LIMIT {size} + 1)"
    )


def _probe(rows: _Rows, ordering: Ordering, values: str | None, *, after: bool) -> str:
    """A row in scope at or beyond a cursor (``after``: at or after it), or false without one."""
    if values is None:
        return "false"
    y, source = rows()
    return probe(ordering, y, source, values, after=after)


def _ordering(sortable: Sortable, value: Any) -> Ordering:
    """``orderBy`` as a literal or a variable's coerced value (a list, or one item for a list)
    of objects or input instances whose field and direction are enum names or members."""
    if value is None:
        return sortable.ordering(None)
    items = value if isinstance(value, list) else [value]
    asked: list[tuple[str, bool]] = []
    for item in items:
        field_value = item.get("field") if isinstance(item, dict) else getattr(item, "field", None)
        direction = item.get("direction", "ASC") if isinstance(item, dict) else getattr(item, "direction", "ASC")
        field_name = field_value.name if isinstance(field_value, Enum) else field_value
        direction_name = direction.name if isinstance(direction, Enum) else direction
        if not isinstance(field_name, str) or field_name not in sortable.fields or field_name == ID:
            raise NotCompilable(Reason.INVALID_INPUT, "orderBy")
        if direction_name not in ("ASC", "DESC"):
            raise NotCompilable(Reason.INVALID_INPUT, "orderBy")
        asked.append((field_name, direction_name == "DESC"))
    return sortable.ordering(asked)


def _merged(nodes: list[FieldNode]) -> FieldNode:
    """Fields of one response key as one field. Validation (OverlappingFieldsCanBeMerged) has made
    them the same field with the same arguments; should it not have, the resolvers answer."""
    if len(nodes) == 1:
        return nodes[0]
    first = nodes[0]
    arguments = [print_ast(a) for a in first.arguments or ()]
    for other in nodes[1:]:
        if other.name.value != first.name.value or [print_ast(a) for a in other.arguments or ()] != arguments:
            raise NotCompilable(Reason.FIELD, f"fields of one key that differ: {first.name.value}")
    selections = [s for node in nodes if node.selection_set is not None for s in node.selection_set.selections]
    return FieldNode(
        alias=first.alias,
        name=first.name,
        arguments=first.arguments,
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(selections)) if first.selection_set is not None else None,
    )


def _enum(type_name: str, column: str) -> Callable[[GraphQLSchema, str], str]:
    return lambda schema, a: enum_name(column.format(a=a), schema, type_name)


def _col(expr: str) -> Callable[[GraphQLSchema, str], str]:
    return lambda _schema, a: expr.format(a=a)


def _row_id(type_name: str) -> Callable[[GraphQLSchema, str], str]:
    """The global ID of a row of a tenant: its type, tenant and id."""
    return _col(global_id(type_name, "{a}.tenant_id", "{a}.id"))


# Fields that are a user of the row's tenant, and the column holding that user's id: compiled as
# ``load_user`` reads them (null where the viewer may not see that user).
USER_COLUMNS: dict[tuple[str, str], str] = {
    ("Subscription", "purchaser"): "purchaser_user_id",
    ("Assignment", "user"): "user_id",
    ("Assignment", "assignedBy"): "assigned_by",
}

SCALARS: dict[str, dict[str, Callable[[GraphQLSchema, str], str]]] = {
    "Tenant": {
        "id": _col(global_id("Tenant", None, "{a}.id")),
        "tenantId": _col("{a}.id::text"),
        "name": _col("{a}.name"),
        "primaryDomain": _col("{a}.primary_domain"),
        "managed": _col("{a}.managed"),
        "organizationType": _enum("OrganizationType", "{a}.organization_type"),
        "country": _col("{a}.country::text"),
        "currency": _col("{a}.currency::text"),
    },
    "Subscription": {
        "id": _row_id("Subscription"),
        "channel": _enum("SubscriptionChannel", "{a}.channel"),
        "controlledBy": _enum("ControlledBy", "{a}.controlled_by"),
        "quantity": _col("{a}.quantity"),
        "status": _enum("SubscriptionStatus", "effective_status({a})"),
        "isTrial": _col("{a}.is_trial"),
        "termStart": _col(timestamp("{a}.term_start")),
        "expiresAt": _col(timestamp("{a}.expires_at")),
        "autoRenew": _col("{a}.auto_renew"),
        "billingFrequency": _enum("BillingFrequency", "{a}.billing_frequency"),
        "createdAt": _col(timestamp("{a}.created_at")),
        "canceledAt": _col(timestamp("{a}.canceled_at")),
        "cancelReason": _col("{a}.cancel_reason"),
    },
    "Order": {
        "id": _row_id("Order"),
        "kind": _enum("OrderKind", "{a}.kind"),
        "quantityDelta": _col("{a}.quantity_delta"),
        "quantityAfter": _col("{a}.quantity_after"),
        "createdAt": _col(timestamp("{a}.created_at")),
    },
    "Assignment": {
        "id": _row_id("Assignment"),
        "assignedAt": _col(timestamp("{a}.assigned_at")),
        "removedAt": _col(timestamp("{a}.removed_at")),
    },
    "User": {
        "id": _row_id("User"),
        "userId": _col("{a}.id::text"),
        "displayName": _col("{a}.display_name"),
        "userPrincipalName": _col("{a}.user_principal_name"),
        "mail": _col("{a}.mail"),
        "userType": _enum("UserType", "{a}.user_type"),
        "source": _enum("UserSource", "{a}.source"),
        "accountEnabled": _col("{a}.account_enabled"),
        "departedAt": _col(date("{a}.departed_at")),
    },
    "Product": {
        "id": _col(global_id("Product", None, "{a}.id")),
        "productId": _col("{a}.id"),
        "name": _col("{a}.name"),
        "family": _enum("ProductFamily", "{a}.family"),
        "selfService": _col("{a}.self_service"),
        "trialAvailable": _col("{a}.trial_available"),
        "trialDays": _col("{a}.trial_days"),
        "trialRequiresPaymentMethod": _col("{a}.trial_requires_payment_method"),
        "learnMoreUrl": _col("{a}.learn_more_url"),
        "supportUrl": _col("{a}.support_url"),
    },
    # Rows of `orders` whose kind is a purchase (PURCHASE_KINDS).
    "Purchase": {
        "id": _row_id("Purchase"),
        "kind": _enum("OrderKind", "{a}.kind"),
        # A renewal buys the whole quantity again for a new term.
        "quantity": _col("CASE WHEN {a}.kind = 'renew' THEN {a}.quantity_after ELSE {a}.quantity_delta END"),
        "purchasedAt": _col(timestamp("{a}.created_at")),
        "channel": _enum("SubscriptionChannel", of_subscription("channel")),
    },
    "Invoice": {
        "id": _row_id("Invoice"),
        "periodStart": _col(date("{a}.period_start")),
        "periodEnd": _col(date("{a}.period_end")),
        "status": _enum("InvoiceStatus", "{a}.status"),
        "dueDate": _col(date("{a}.due_date")),
        "paidAt": _col(timestamp("{a}.paid_at")),
        "number": _col("{a}.number"),
        "printUrl": _col(literal(INVOICE_PAGE_PREFIX) + " || " + global_id("Invoice", "{a}.tenant_id", "{a}.id")),
    },
    "PaymentMethod": {
        "id": _row_id("PaymentMethod"),
        "kind": _col("{a}.kind"),
        "brand": _col("{a}.brand"),
        "last4": _col("{a}.last4"),
        "expMonth": _col("{a}.exp_month"),
        "expYear": _col("{a}.exp_year"),
    },
    "PartnerRelationship": {
        "id": _row_id("PartnerRelationship"),
        "displayName": _col("{a}.display_name"),
        "partnerTenantId": _col("{a}.partner_tenant_id::text"),
        "status": _enum("PartnerRelationshipStatus", "{a}.status"),
        "startsAt": _col(timestamp("{a}.starts_at")),
        "endsAt": _col(timestamp("{a}.ends_at")),
        "inForce": _col(RELATIONSHIP_IN_FORCE.format(p="{a}")),
    },
    "LicenseRequest": {
        "id": _row_id("LicenseRequest"),
        "status": _enum("LicenseRequestStatus", "{a}.status"),
        "createdAt": _col(timestamp("{a}.created_at")),
        "decidedAt": _col(timestamp("{a}.decided_at")),
    },
    "CancellationRequest": {
        "id": _row_id("CancellationRequest"),
        "status": _enum("CancellationRequestStatus", "{a}.status"),
        "message": _col("{a}.message"),
        "responseMessage": _col("{a}.response_message"),
        "createdAt": _col(timestamp("{a}.created_at")),
        "resolvedAt": _col(timestamp("{a}.resolved_at")),
    },
    # Who acted is in fields.FIELDS: the policy decides per viewer whether it is shown.
    "AuditEvent": {
        "action": _col("{a}.action"),
        "outcome": _col("{a}.outcome"),
        "errorCodes": _col("array_to_json({a}.error_codes)"),
        "targetType": _col("{a}.target_type"),
        "targetId": _col("{a}.target_id"),
        "onBehalfOfTenantId": _col("{a}.on_behalf_of_tenant_id::text"),
        "requestId": _col("{a}.request_id"),
        "occurredAt": _col(timestamp("{a}.occurred_at")),
        "previousValue": _col(AUDIT_PREVIOUS_VALUE.format(e="{a}")),
        "newValue": _col(AUDIT_NEW_VALUE.format(e="{a}")),
    },
    "ProductPrice": {
        "market": _col("{a}.market"),
        "channel": _enum("SubscriptionChannel", "{a}.channel"),
    },
    # Rows of lists.POLICY_ROWS and lists.CAPACITY_ROWS.
    "SelfServicePolicy": {
        "value": _enum("SelfServicePolicyValue", "{a}.value"),
        "updatedAt": _col(timestamp("{a}.updated_at")),
    },
    "ProductCapacity": {
        "selfServiceLicenses": _col("{a}.self_service_quantity"),
        "centralLicenses": _col("{a}.central_quantity"),
        "assignedLicenses": _col("{a}.assigned"),
        "selfServiceSubscriptions": _col("{a}.self_service_subscriptions"),
        "centralSubscriptions": _col("{a}.central_subscriptions"),
        "freeLicenses": _col("({a}.self_service_quantity + {a}.central_quantity - {a}.assigned)"),
    },
    "Notification": {
        "id": _row_id("Notification"),
        "kind": _col("{a}.kind"),
        "message": _col("{a}.message"),
        "subjectId": _col("{a}.subject_id::text"),
        "createdAt": _col(timestamp("{a}.created_at")),
        "readAt": _col(timestamp("{a}.read_at")),
    },
}

# (amount column, currency column) of Money fields.
MONEY: dict[str, dict[str, tuple[str, str]]] = {
    "Subscription": {"unitPrice": ("unit_price", "currency")},
    "Order": {"unitPrice": ("unit_price", "currency"), "total": ("total", "currency")},
    "Purchase": {"unitPrice": ("unit_price", "currency"), "total": ("total", "currency")},
    "Invoice": {"amount": ("amount", "currency")},
    "ProductPrice": {"unitPrice": ("unit_price", "currency")},
}
