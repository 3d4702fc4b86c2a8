"""GraphQL read → one SQL statement that builds the response JSON in PostgreSQL.

Per-field execution in Python is what makes a nested read slow (thousands of resolver calls for
one purchase graph). For the reads this compiler understands — ``tenant(id:)`` and below it
subscriptions, products, purchasers, orders, assignments and their users — it writes a single
statement instead, whose JSON PostgreSQL assembles. Anything else (a field it does not know, a
cursor, a filter, a directive) raises ``NotCompilable`` and the resolvers run: they remain the
reference, and a differential test holds the two paths to identical data.

Scope is not re-decided here: the policy module's ``Scope`` for the tenant (``whole_tenant``,
``sees_directory``, ``viewer_id``) becomes parameters of the very predicates the query modules
in ``db/queries`` apply, and the statement runs on the request's connection, under row-level
security like every other statement of the request.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)

from purchasegraph.compiled.sql import Params, date, enum_name, global_id, literal, timestamp
from purchasegraph.db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from purchasegraph.policy import ASSIGNMENT_VISIBLE, SUBSCRIPTION_VISIBLE, Scope
from purchasegraph.schema.ids import decode_uuid

# json_build_object takes at most 100 arguments: 50 keys.
MAX_KEYS = 50


class NotCompilable(Exception):
    """The resolvers answer this one."""


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]
    # Response paths (keys, list levels skipped) of every connection's nodes/edges list, for the
    # actual cost: the nodes the connections returned.
    node_lists: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Connection:
    table: str
    type_name: str
    # (expression over the alias, descending?) — the order of the resolvers' query.
    order: tuple[tuple[str, bool], ...]
    # The rows of one parent: a predicate over the alias ``{a}`` and the parent's alias ``{p}``.
    where: str


@dataclass
class _State:
    params: Params = field(default_factory=Params)
    aliases: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    node_lists: list[tuple[str, ...]] = field(default_factory=list)

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self.aliases)}"


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        scope_of: Callable[[uuid.UUID], Scope],
    ) -> None:
        self._schema = schema
        self._fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._variables = variables
        self._scope_of = scope_of
        self._state = _State()

    # -- the operation ----------------------------------------------------------------------

    def compile(self, operation: OperationDefinitionNode) -> Compiled:
        if operation.operation is not OperationType.QUERY or operation.directives:
            raise NotCompilable("only queries")
        pairs: list[tuple[str, str]] = []
        for node in self._fields(operation.selection_set, "Query"):
            name = node.name.value
            if name == "__typename":
                pairs.append((self._key(node), literal("Query")))
            elif name == "tenant":
                pairs.append((self._key(node), self._tenant(node, (self._key(node),))))
            else:
                raise NotCompilable(f"Query.{name}")
        sql = f"SELECT {self._object(pairs)}::text"
        return Compiled(sql, self._state.params.values, tuple(self._state.node_lists))

    def _tenant(self, node: FieldNode, path: tuple[str, ...]) -> str:
        raw = self._argument(node, "id")
        if not isinstance(raw, str):
            raise NotCompilable("tenant id")
        tenant_id = decode_uuid(raw, "Tenant")
        if tenant_id is None:
            return "NULL::json"
        scope = self._scope_of(tenant_id)
        if not scope.sees_anything:
            return "NULL::json"  # outside your scope looks exactly like absent
        t = self._state.alias("t")
        body = self._selection(node, "Tenant", t, scope, path)
        return f"(SELECT {body} FROM tenants {t} WHERE {t}.id = {self._param(tenant_id, 'uuid')})"

    # -- objects ----------------------------------------------------------------------------

    def _selection(self, node: FieldNode, type_name: str, a: str, scope: Scope, path: tuple[str, ...]) -> str:
        if node.selection_set is None:
            raise NotCompilable("object without selection")
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
                raise NotCompilable(f"{type_name}.{name} arguments")
            return scalar(self._schema, a)
        money = MONEY.get(type_name, {}).get(name)
        if money is not None:
            amount, currency = money
            return self._money(node, f"{a}.{amount}", f"{a}.{currency}")
        if type_name == "Tenant" and name == "subscriptions":
            self._only_paging(node)
            return self._connection(node, SUBSCRIPTIONS_OF_TENANT, a, scope, path)
        if type_name == "Subscription" and name == "orders":
            return self._connection(node, ORDERS_OF_SUBSCRIPTION, a, scope, path)
        if type_name == "Subscription" and name == "assignments":
            return self._connection(node, ASSIGNMENTS_OF_SUBSCRIPTION, a, scope, path)
        if type_name == "Subscription" and name == "product":
            p = self._state.alias("p")
            body = self._selection(node, "Product", p, scope, path)
            return f"(SELECT {body} FROM products {p} WHERE {p}.id = {a}.product_id)"
        if (type_name, name) in (("Subscription", "purchaser"), ("Assignment", "user")):
            column = "purchaser_user_id" if name == "purchaser" else "user_id"
            u = self._state.alias("u")
            body = self._selection(node, "User", u, scope, path)
            directory = self._param(scope.sees_directory, "bool")
            viewer = self._param(scope.viewer_id, "uuid")
            return (
                f"(SELECT {body} FROM users {u} WHERE {u}.tenant_id = {a}.tenant_id AND {u}.id = {a}.{column}"
                f" AND ({directory} OR {u}.id = {viewer}))"
            )
        raise NotCompilable(f"{type_name}.{name}")

    def _money(self, node: FieldNode, amount: str, currency: str) -> str:
        if node.selection_set is None or node.arguments:
            raise NotCompilable("Money")
        pairs = []
        for child in self._fields(node.selection_set, "Money"):
            name = child.name.value
            values = {"amount": f"{amount}::text", "currency": f"{currency}::text", "__typename": literal("Money")}
            if name not in values:
                raise NotCompilable(f"Money.{name}")
            pairs.append((self._key(child), values[name]))
        return self._object(pairs)

    # -- connections ------------------------------------------------------------------------

    def _only_paging(self, node: FieldNode) -> None:
        for argument in node.arguments or ():
            if argument.name.value not in ("first", "last"):
                raise NotCompilable(f"argument {argument.name.value}")

    def _page(self, node: FieldNode) -> tuple[int, bool]:
        """(page size, from the end?) — exactly what ``PageArgs.from_relay`` accepts, else the resolvers."""
        for argument in node.arguments or ():
            if argument.name.value not in ("first", "last"):
                raise NotCompilable(f"argument {argument.name.value}")
        first, last = self._argument(node, "first"), self._argument(node, "last")
        if first is not None and last is not None:
            raise NotCompilable("first and last: the resolvers explain the error")
        size = last if last is not None else first if first is not None else DEFAULT_PAGE_SIZE
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_PAGE_SIZE:
            raise NotCompilable("page size")
        return size, last is not None

    def _connection(self, node: FieldNode, spec: Connection, parent: str, scope: Scope, path: tuple[str, ...]) -> str:
        if node.selection_set is None:
            raise NotCompilable("connection without selection")
        size, from_end = self._page(node)
        x = self._state.alias("x")
        where = spec.where.format(
            a=x, p=parent, whole=self._param(scope.whole_tenant, "bool"), viewer=self._param(scope.viewer_id, "uuid")
        )
        forward = ", ".join(f"{expr.format(a=x)} {'DESC' if desc else 'ASC'}" for expr, desc in spec.order)
        backward = ", ".join(f"{expr.format(a=x)} {'ASC' if desc else 'DESC'}" for expr, desc in spec.order)
        # The page's keys, then the rows themselves: a real table alias, which functions over the
        # row type (effective_status) accept.
        keys = (
            f"(SELECT {x}.tenant_id, {x}.id FROM {spec.table} {x} WHERE {where}"
            f" ORDER BY {backward if from_end else forward} LIMIT {size})"
        )
        count = f"(SELECT count(*) FROM {spec.table} {x} WHERE {where})"
        pairs: list[tuple[str, str]] = []
        for child in self._fields(node.selection_set, f"{spec.type_name}Connection"):
            name, key = child.name.value, self._key(child)
            if name == "__typename":
                pairs.append((key, literal(f"{spec.type_name}Connection")))
            elif name == "totalCount":
                pairs.append((key, count))
            elif name in ("nodes", "edges"):
                pairs.append((key, self._page_items(child, spec, keys, scope, (*path, key), edges=name == "edges")))
            elif name == "pageInfo":
                pairs.append((key, self._page_info(child, count, size, from_end)))
            else:
                raise NotCompilable(f"connection field {name}")
        return self._object(pairs)

    def _page_items(
        self, node: FieldNode, spec: Connection, keys: str, scope: Scope, path: tuple[str, ...], *, edges: bool
    ) -> str:
        self._state.node_lists.append(path)
        if node.selection_set is None:
            raise NotCompilable("items without selection")
        r = self._state.alias("r")
        if edges:
            pairs = []
            for child in self._fields(node.selection_set, f"{spec.type_name}Edge"):
                if child.name.value == "node":
                    pairs.append((self._key(child), self._selection(child, spec.type_name, r, scope, path)))
                elif child.name.value == "__typename":
                    pairs.append((self._key(child), literal(f"{spec.type_name}Edge")))
                else:
                    raise NotCompilable("edge cursors")
            item = self._object(pairs)
        else:
            item = self._selection(node, spec.type_name, r, scope, path)
        order = ", ".join(f"{expr.format(a=r)} {'DESC' if desc else 'ASC'}" for expr, desc in spec.order)
        k = self._state.alias("k")
        rows = f"{keys} {k} JOIN {spec.table} {r} ON {r}.tenant_id = {k}.tenant_id AND {r}.id = {k}.id"
        return f"COALESCE((SELECT json_agg({item} ORDER BY {order}) FROM {rows}), '[]'::json)"

    def _page_info(self, node: FieldNode, count: str, size: int, from_end: bool) -> str:
        if node.selection_set is None:
            raise NotCompilable("pageInfo without selection")
        more = f"({count} > {size})"
        values = {
            "hasNextPage": "false" if from_end else more,
            "hasPreviousPage": more if from_end else "false",
            "__typename": literal("PageInfo"),
        }
        pairs = []
        for child in self._fields(node.selection_set, "PageInfo"):
            if child.name.value not in values:
                raise NotCompilable("cursors")
            pairs.append((self._key(child), values[child.name.value]))
        return self._object(pairs)

    # -- the document -----------------------------------------------------------------------

    def _fields(self, selection_set: SelectionSetNode, type_name: str) -> list[FieldNode]:
        """The fields selected on an object type, fragments inlined; one per response key."""
        found: list[FieldNode] = []
        pending = list(selection_set.selections)
        while pending:
            selection = pending.pop(0)
            if selection.directives:
                raise NotCompilable("directives")
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if selection.type_condition is not None and selection.type_condition.name.value != type_name:
                    raise NotCompilable("abstract type condition")
                pending = list(selection.selection_set.selections) + pending
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments[selection.name.value]
                if fragment.type_condition.name.value != type_name:
                    raise NotCompilable("abstract type condition")
                pending = list(fragment.selection_set.selections) + pending
        keys = [self._key(f) for f in found]
        if len(set(keys)) != len(keys):
            raise NotCompilable("fields merged under one key")
        if len(keys) > MAX_KEYS:
            raise NotCompilable("too many keys for one json_build_object")
        return found

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
        raise NotCompilable("argument value")

    @staticmethod
    def _key(node: FieldNode) -> str:
        return node.alias.value if node.alias else node.name.value

    def _param(self, value: Any, cast: str) -> str:
        return self._state.params.add(value, cast)

    def _object(self, pairs: list[tuple[str, str]]) -> str:
        # Response keys are the caller's aliases: parameters, never spliced into the SQL.
        return "json_build_object(" + ", ".join(f"{self._param(k, 'text')}, {v}" for k, v in pairs) + ")"


def _enum(type_name: str, column: str) -> Callable[[GraphQLSchema, str], str]:
    def render(schema: GraphQLSchema, a: str) -> str:
        graphql_enum = schema.get_type(type_name)
        assert isinstance(graphql_enum, GraphQLEnumType)
        return enum_name(column.format(a=a), graphql_enum)

    return render


def _col(expr: str) -> Callable[[GraphQLSchema, str], str]:
    return lambda _schema, a: expr.format(a=a)


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
        "id": _col(global_id("Subscription", "{a}.tenant_id", "{a}.id")),
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
        "id": _col(global_id("Order", "{a}.tenant_id", "{a}.id")),
        "kind": _enum("OrderKind", "{a}.kind"),
        "quantityDelta": _col("{a}.quantity_delta"),
        "quantityAfter": _col("{a}.quantity_after"),
        "createdAt": _col(timestamp("{a}.created_at")),
    },
    "Assignment": {
        "id": _col(global_id("Assignment", "{a}.tenant_id", "{a}.id")),
        "assignedAt": _col(timestamp("{a}.assigned_at")),
        "removedAt": _col(timestamp("{a}.removed_at")),
    },
    "User": {
        "id": _col(global_id("User", "{a}.tenant_id", "{a}.id")),
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
    },
}

# (amount column, currency column) of Money fields.
MONEY: dict[str, dict[str, tuple[str, str]]] = {
    "Subscription": {"unitPrice": ("unit_price", "currency")},
    "Order": {"unitPrice": ("unit_price", "currency"), "total": ("total", "currency")},
}

# The policy's visibility fragments, the very ones db/queries builds its statements from, with
# the row aliases ({a} the row, {p} its parent) and the scope's `whole` and `viewer` left for
# `_connection` to fill in.
_KEEP = {"whole": "{whole}", "viewer": "{viewer}"}
SUBSCRIPTIONS_OF_TENANT = Connection(
    table="subscriptions",
    type_name="Subscription",
    order=(("{a}.created_at", False), ("{a}.id", False)),
    where="{a}.tenant_id = {p}.id AND " + SUBSCRIPTION_VISIBLE.format(s="{a}", **_KEEP),
)
ORDERS_OF_SUBSCRIPTION = Connection(
    table="orders",
    type_name="Order",
    order=(("{a}.created_at", True), ("{a}.id", False)),
    where="{a}.tenant_id = {p}.tenant_id AND {a}.subscription_id = {p}.id AND "
    + SUBSCRIPTION_VISIBLE.format(s="{p}", **_KEEP),
)
ASSIGNMENTS_OF_SUBSCRIPTION = Connection(
    table="license_assignments",
    type_name="Assignment",
    order=(("{a}.assigned_at", False), ("{a}.id", False)),
    where="{a}.tenant_id = {p}.tenant_id AND {a}.subscription_id = {p}.id AND {a}.removed_at IS NULL AND "
    + ASSIGNMENT_VISIBLE.format(s="{p}", a="{a}", **_KEEP),
)
