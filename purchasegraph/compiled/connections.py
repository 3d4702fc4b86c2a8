"""The Relay connections the compiler pages, each built from the resolver path's own fragments.

A ``ConnectionSource`` is the row source of one connection field: the table, a predicate of one
parent's rows in scope and the connection's filters, all from the constants ``policy`` and
``db/queries`` build the resolver path's statements from, with row aliases and parameters left
open for the compiler. A ``Filter`` reads one filter argument as the resolver reads it, and
declines where the resolver would refuse the value with an error of its own, so that the
resolvers report it in their words.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from graphql import GraphQLScalarType, GraphQLSchema

from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.sql import enum_names
from purchasegraph.compiled.subscription_of_row import SUBSCRIPTION_OF_ROW
from purchasegraph.db import ordering as sortables
from purchasegraph.db.ordering import Sortable
from purchasegraph.db.queries import assignments, cancellations, invoices, orders, requests, subscriptions, users
from purchasegraph.errors import BadUserInput
from purchasegraph.instants import utc_instant
from purchasegraph.policy import (
    ASSIGNMENT_VISIBLE,
    AUDIT_VISIBLE,
    CANCELLATION_REQUEST_VISIBLE,
    INVOICE_VISIBLE,
    LICENSE_REQUEST_VISIBLE,
    SUBSCRIPTION_VISIBLE,
    USER_VISIBLE,
    Scope,
    own_only,
    sees_audit,
)
from purchasegraph.schema.ids import decode_uuid

# Reads an argument's value (literal or coerced variable; None when absent or null) into the
# parameter's value, or declines.
Reader = Callable[[GraphQLSchema, Any], Any]


@dataclass(frozen=True)
class Filter:
    """A filter argument: its GraphQL name, the slot it fills in ``where``, the parameter's type."""

    argument: str
    slot: str
    cast: str
    read: Reader


def _whole_tenant(scope: Scope) -> bool:
    return scope.whole_tenant


@dataclass(frozen=True)
class ConnectionSource:
    """The rows one connection field pages (see the module docstring)."""

    table: str
    type_name: str
    # The keys it sorts by: the very ones the resolvers' query reads (db/ordering.py).
    sortable: Sortable
    # The rows of one parent: a predicate over the alias ``{a}``, the parent's alias ``{p}``, a
    # spare alias ``{j}`` for a joined row, the scope's ``{whole}`` and ``{viewer}``, and a slot
    # per filter.
    where: str
    filters: tuple[Filter, ...] = ()
    # What fills ``{whole}``: the resolver's ``widen_to`` where an entity is wider (the directory).
    whole: Callable[[Scope], bool] = _whole_tenant


# -- reading filter arguments as the resolvers do -------------------------------------------------


def _enum_value(type_name: str) -> Reader:
    """One enum value as its stored value; None when absent or null."""

    def read(schema: GraphQLSchema, value: Any) -> Any:
        return None if value is None else _stored(schema, type_name, value)

    return read


def _stored(schema: GraphQLSchema, type_name: str, item: Any) -> str:
    """An enum value, by its GraphQL name (a literal) or as the member a variable coerced to."""
    if isinstance(item, enum.Enum):
        stored = item.value
    else:
        by_name = {name: value for value, name in enum_names(schema, type_name).items()}
        stored = by_name.get(item) if isinstance(item, str) else None
    if not isinstance(stored, str):
        raise NotCompilable(Reason.INVALID_INPUT, type_name)
    return stored


def _channels(schema: GraphQLSchema, value: Any) -> list[str] | None:
    """``channel``: every channel (the default) is no filter, any other one channel."""
    if value is None:
        return None
    stored = _stored(schema, "ChannelFilter", value)
    return None if stored == "all" else [stored]


def _text(_schema: GraphQLSchema, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise NotCompilable(Reason.INVALID_INPUT, "String")
    return value


def _user_id(schema: GraphQLSchema, value: Any) -> Any:
    """A User ID, which the resolver refuses with an error when it is not one."""
    if value is None:
        return None
    user_id = decode_uuid(str(value), "User") if isinstance(value, str | int) else None
    if user_id is None:
        raise NotCompilable(Reason.INVALID_INPUT, "user ID")
    return user_id


def _search(schema: GraphQLSchema, value: Any) -> str | None:
    return users.search_prefix(_text(schema, value))


def _scalar(type_name: str, python_type: type) -> Reader:
    """A custom scalar (DateTime, Date): a variable arrives coerced, a literal is parsed by the
    schema's own scalar, as the resolvers receive it; a value it refuses is the resolvers' to report."""

    def read(schema: GraphQLSchema, value: Any) -> Any:
        if value is None or isinstance(value, python_type):
            return value
        scalar = schema.get_type(type_name)
        assert isinstance(scalar, GraphQLScalarType)
        try:
            parsed = scalar.parse_value(value) if isinstance(value, str) else None
        except Exception:  # whatever the scalar refuses, the resolvers report
            parsed = None
        if not isinstance(parsed, python_type):
            raise NotCompilable(Reason.INVALID_INPUT, type_name)
        return parsed

    return read


def _date(_schema: GraphQLSchema, value: Any) -> datetime.date | None:
    """A Date: the day a variable coerced to, or a literal's ISO text as the scalar parses it."""
    if value is None or (isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise NotCompilable(Reason.INVALID_INPUT, "Date")


PRODUCT = Filter("productId", "product", "text", _text)
CHANNEL = Filter("channel", "channels", "text[]", _channels)


def _instant(argument: str) -> Reader:
    """A DateTime filter as the resolvers read it: parsed by the schema's scalar, then made UTC by
    ``utc_instant``; what that refuses, the resolvers report."""
    parse = _scalar("DateTime", datetime.datetime)

    def read(schema: GraphQLSchema, value: Any) -> Any:
        try:
            return utc_instant(parse(schema, value), argument)
        except BadUserInput:
            raise NotCompilable(Reason.INVALID_INPUT, argument) from None

    return read


def _statuses(type_name: str) -> Filter:
    """``status``: a list of the type's statuses (one value coerces to a list of it), as stored."""

    def read(schema: GraphQLSchema, value: Any) -> Any:
        if value is None:
            return None
        return [_stored(schema, type_name, item) for item in (value if isinstance(value, list) else [value])]

    return Filter("status", "statuses", "text[]", read)


PURCHASER = Filter("purchaserId", "purchaser", "uuid", _user_id)
EXPIRES_BEFORE = Filter("expiresBefore", "expires_before", "timestamptz", _instant("expiresBefore"))
PURCHASED_SINCE = Filter("purchasedSince", "purchased_since", "timestamptz", _instant("purchasedSince"))

# -- the connections ------------------------------------------------------------------------------


class _Open(dict[str, str]):
    def __missing__(self, slot: str) -> str:
        return "{" + slot + "}"


def _open(fragment: str, **rows: str) -> str:
    """A fragment of ``policy`` or ``db/queries`` with its row aliases named as given, every other
    slot (the scope's, the filters') left open for the compiler."""
    return fragment.format_map(_Open(rows))


def _of_tenant(
    sortable: Sortable,
    table: str,
    row: str,
    *terms: str,
    type_name: str | None = None,
    filters: tuple[Filter, ...] = (),
    whole: Callable[[Scope], bool] = _whole_tenant,
) -> ConnectionSource:
    """The rows of ``table`` in the tenant row ``{p}`` that every one of ``terms`` keeps: fragments
    whose row (named ``row`` in them) is the one paged."""
    where = " AND ".join(("{a}.tenant_id = {p}.id", *(_open(term, **{row: "{a}"}) for term in terms)))
    return ConnectionSource(table, type_name or sortable.entity, sortable, where, filters, whole)


def _of_subscription(sortable: Sortable, table: str, row: str, *terms: str) -> ConnectionSource:
    """The rows of ``table`` that belong to the subscription row ``{p}`` and ``terms`` keep."""
    where = " AND ".join(
        ("{a}.tenant_id = {p}.tenant_id AND {a}.subscription_id = {p}.id", *(_open(t, **{row: "{a}"}) for t in terms))
    )
    return ConnectionSource(table, sortable.entity, sortable, where)


SUBSCRIPTIONS_OF_TENANT = _of_tenant(
    sortables.SUBSCRIPTION,
    "subscriptions",
    "s",
    SUBSCRIPTION_VISIBLE,
    subscriptions.FILTERS,
    filters=(CHANNEL, PRODUCT, _statuses("SubscriptionStatus"), PURCHASER, EXPIRES_BEFORE, PURCHASED_SINCE),
)
ORDERS_OF_SUBSCRIPTION = _of_subscription(sortables.ORDER, "orders", "o", _open(SUBSCRIPTION_VISIBLE, s="{p}"))
ASSIGNMENTS_OF_SUBSCRIPTION = _of_subscription(
    sortables.ASSIGNMENT, "license_assignments", "a", "{a}.removed_at IS NULL", _open(ASSIGNMENT_VISIBLE, s="{p}")
)
INVOICES_OF_SUBSCRIPTION = _of_subscription(sortables.INVOICE, "invoices", "i", INVOICE_VISIBLE)
INVOICES_OF_TENANT = _of_tenant(
    sortables.INVOICE,
    "invoices",
    "i",
    INVOICE_VISIBLE,
    invoices.FILTERS,
    filters=(_statuses("InvoiceStatus"), Filter("dueBefore", "due_before", "date", _date)),
)
# "My bills": the tenant's bills narrowed to the viewer's own by policy.own_only (in
# policy.own_billing_scope, which compiled/viewer.py gives it), as the resolvers' query.
INVOICES_OF_VIEWER = replace(INVOICES_OF_TENANT, whole=own_only)
# A purchase's visibility and most of its filters are its subscription's `{j}`.
PURCHASES_OF_TENANT = _of_tenant(
    sortables.ORDER,
    "orders",
    "o",
    orders.IS_PURCHASE,
    SUBSCRIPTION_OF_ROW + _open(SUBSCRIPTION_VISIBLE + " AND " + orders.PURCHASE_FILTERS, s="{j}") + ")",
    orders.PURCHASE_ORDER_FILTERS,
    type_name="Purchase",
    filters=(PRODUCT, PURCHASER, CHANNEL, EXPIRES_BEFORE, PURCHASED_SINCE),
)
ASSIGNMENTS_OF_TENANT = _of_tenant(
    sortables.ASSIGNMENT,
    "license_assignments",
    "a",
    "{a}.removed_at IS NULL",
    SUBSCRIPTION_OF_ROW + _open(ASSIGNMENT_VISIBLE + " AND " + assignments.FILTERS, s="{j}") + ")",
    filters=(PRODUCT, Filter("userId", "user", "uuid", _user_id)),
)
USERS_OF_TENANT = _of_tenant(
    sortables.USER,
    "users",
    "u",
    _open(USER_VISIBLE, directory="{whole}"),
    users.SEARCH,
    filters=(Filter("search", "prefix", "text", _search),),
    whole=lambda scope: scope.sees_directory,
)
LICENSE_REQUESTS_OF_TENANT = _of_tenant(
    sortables.LICENSE_REQUEST,
    "license_requests",
    "r",
    LICENSE_REQUEST_VISIBLE,
    requests.LICENSE_REQUEST_FILTERS,
    filters=(Filter("status", "status", "text", _enum_value("LicenseRequestStatus")),),
)
CANCELLATION_REQUESTS_OF_TENANT = _of_tenant(
    sortables.CANCELLATION_REQUEST,
    "cancellation_requests",
    "c",
    CANCELLATION_REQUEST_VISIBLE,
    cancellations.FILTERS,
    filters=(_statuses("CancellationRequestStatus"),),
)


def _unread_only(_schema: GraphQLSchema, value: Any) -> bool:
    """``unreadOnly``: absent is its default, false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise NotCompilable(Reason.INVALID_INPUT, "unreadOnly")
    return value


# The viewer's own notifications in their home tenant `{p}`, in policy.own_notifications_scope
# (compiled/viewer.py gives it) with `{whole}` from policy.own_only, as the resolvers' query.
NOTIFICATIONS_OF_VIEWER = _of_tenant(
    sortables.NOTIFICATION,
    "notifications",
    "n",
    _open(requests.NOTIFICATIONS_OF_VIEWER, tenant="{p}.id", user="{viewer}"),
    filters=(Filter("unreadOnly", "unread_only", "bool", _unread_only),),
    whole=own_only,
)
AUDIT_EVENTS_OF_TENANT = _of_tenant(
    sortables.AUDIT_EVENT,
    "audit_events",
    "e",
    _open(AUDIT_VISIBLE),
    whole=sees_audit,
)

# Every connection field the compiler pages, by (type, field).
CONNECTIONS: dict[tuple[str, str], ConnectionSource] = {
    ("Tenant", "subscriptions"): SUBSCRIPTIONS_OF_TENANT,
    ("Tenant", "purchases"): PURCHASES_OF_TENANT,
    ("Tenant", "assignments"): ASSIGNMENTS_OF_TENANT,
    ("Tenant", "users"): USERS_OF_TENANT,
    ("Tenant", "licenseRequests"): LICENSE_REQUESTS_OF_TENANT,
    ("Tenant", "auditEvents"): AUDIT_EVENTS_OF_TENANT,
    ("Tenant", "cancellationRequests"): CANCELLATION_REQUESTS_OF_TENANT,
    ("Tenant", "invoices"): INVOICES_OF_TENANT,
    ("Subscription", "orders"): ORDERS_OF_SUBSCRIPTION,
    ("Subscription", "assignments"): ASSIGNMENTS_OF_SUBSCRIPTION,
    ("Subscription", "invoices"): INVOICES_OF_SUBSCRIPTION,
}
