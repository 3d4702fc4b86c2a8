"""One object by its key, as the resolvers' by-id loaders find it, or null.

Each function answers the SQL of one JSON object (or ``NULL::json``) for a selection, under the
scope of the object's tenant, with the visibility fragments of ``policy`` that the by-id queries
of ``db/queries`` are built from; a row outside the scope is null exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from graphql import FieldNode

from purchasegraph.compiled.emitter import Emitter
from purchasegraph.compiled.subscription_of_row import SUBSCRIPTION_OF_ROW
from purchasegraph.db.queries.cancellations import CURRENT_OF_SUBSCRIPTION, CURRENT_ORDER
from purchasegraph.db.queries.orders import PURCHASE_KINDS
from purchasegraph.policy import (
    ASSIGNMENT_VISIBLE,
    CANCELLATION_REQUEST_VISIBLE,
    INVOICE_VISIBLE,
    LICENSE_REQUEST_VISIBLE,
    PARTNER_RELATIONSHIP_VISIBLE,
    PAYMENT_METHOD_VISIBLE,
    SUBSCRIPTION_VISIBLE,
    USER_VISIBLE,
    Scope,
)

NULL = "NULL::json"


def _row(
    e: Emitter, node: FieldNode, type_name: str, table: str, where: str, scope: Scope, path: tuple[str, ...]
) -> str:
    """The selection over the row of ``table`` that ``where`` (over the alias ``{a}``) picks."""
    a = e._state.alias("r")
    body = e._selection(node, type_name, a, scope, path)
    return f"(SELECT {body} FROM {table} {a} WHERE {where.format(a=a)})"


def _scoped(e: Emitter, scope: Scope) -> dict[str, str]:
    return {"whole": e._param(scope.whole_tenant, "bool"), "viewer": e._param(scope.viewer_id, "uuid")}


def tenant_object(e: Emitter, node: FieldNode, tenant_id: uuid.UUID, path: tuple[str, ...]) -> str:
    """``load_tenant``: a tenant exists for a viewer only if the viewer has some scope in it."""
    scope = e._scope_of(tenant_id)
    if not scope.sees_anything:
        return NULL  # outside your scope looks exactly like absent
    return _row(e, node, "Tenant", "tenants", "{a}.id = " + e._param(tenant_id, "uuid"), scope, path)


def product_object(e: Emitter, node: FieldNode, product_id: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``load_product``: the public catalogue, whoever asks; ``product_id`` an SQL expression."""
    return _row(e, node, "Product", "products", "{a}.id = " + product_id, scope, path)


# The predicate a scope sees one row `{a}` by: its parameters made only when it is written.
Visible = Callable[[Emitter, Scope], str]


def _whole_or_own(fragment: str, row: str) -> Visible:
    """A ``policy`` fragment over the row (named ``row`` in it) with the scope's whole tenant and
    viewer, and a spare alias ``{j}`` for a row it joins."""
    return lambda e, scope: fragment.format(**{row: "{a}"}, j=e._state.alias("j"), **_scoped(e, scope))


def _through_subscription(fragment: str, kinds: tuple[str, ...] | None = None) -> Visible:
    """A ``policy`` fragment over the row's subscription `{s}` (and the row itself, `{a}`); with
    ``kinds``, an order of those kinds only (``Purchase``)."""

    def visible(e: Emitter, scope: Scope) -> str:
        kind = f"{{a}}.kind = ANY({e._param(list(kinds), 'text[]')}) AND " if kinds is not None else ""
        j = e._state.alias("j")
        exists = SUBSCRIPTION_OF_ROW.format(j=j, a="{a}")
        return kind + exists + fragment.format(s=j, a="{a}", **_scoped(e, scope)) + ")"

    return visible


def _user_visible(e: Emitter, scope: Scope) -> str:
    """The directory for those who see it, themselves for anyone else."""
    return USER_VISIBLE.format(
        u="{a}", directory=e._param(scope.sees_directory, "bool"), viewer=e._param(scope.viewer_id, "uuid")
    )


def _owner_visible(e: Emitter, scope: Scope) -> str:
    """Only the card's owner: whole tenant is no way in."""
    return PAYMENT_METHOD_VISIBLE.format(pm="{a}", viewer=e._param(scope.viewer_id, "uuid"))


def _partner_visible(e: Emitter, scope: Scope) -> str:
    return PARTNER_RELATIONSHIP_VISIBLE.format(
        p="{a}", whole=e._param(scope.whole_tenant, "bool"), partner=e._param(scope.partner_tenant_id, "uuid")
    )


@dataclass(frozen=True)
class Keyed:
    """A type found by (tenant, key): its table, what a scope sees of it, and whether the scope
    reaches the type at all (else null without a statement, as the resolver returns before asking)."""

    table: str
    visible: Visible
    reaches: Callable[[Scope], bool] = lambda scope: scope.sees_anything


# The types of a tenant the compiler finds by key (``resolve_node``'s TENANT_SCOPED loaders, and
# the objects a row references), by GraphQL type name.
KEYED: dict[str, Keyed] = {
    "CancellationRequest": Keyed("cancellation_requests", _whole_or_own(CANCELLATION_REQUEST_VISIBLE, "c")),
    "LicenseRequest": Keyed("license_requests", _whole_or_own(LICENSE_REQUEST_VISIBLE, "r")),
    "User": Keyed("users", _user_visible),
    "Subscription": Keyed("subscriptions", _whole_or_own(SUBSCRIPTION_VISIBLE, "s")),
    # An order line, or one that bought licenses: visible wherever its subscription is.
    "Order": Keyed("orders", _through_subscription(SUBSCRIPTION_VISIBLE)),
    "Purchase": Keyed("orders", _through_subscription(SUBSCRIPTION_VISIBLE, PURCHASE_KINDS)),
    "Assignment": Keyed("license_assignments", _through_subscription(ASSIGNMENT_VISIBLE)),
    "Invoice": Keyed("invoices", _whole_or_own(INVOICE_VISIBLE, "i")),
    "PaymentMethod": Keyed("payment_methods", _owner_visible),
    # The list the resolver picks it from is empty for anyone but whole-tenant viewers.
    "PartnerRelationship": Keyed("partner_relationships", _partner_visible, lambda scope: scope.whole_tenant),
}


def keyed_object(
    e: Emitter, node: FieldNode, type_name: str, scope: Scope, tenant: str, key: str, path: tuple[str, ...]
) -> str:
    """The object of ``KEYED[type_name]`` with ``key`` in ``tenant`` (SQL expressions) as far as
    ``scope`` sees it; null outside it, exactly like a key that does not exist."""
    keyed = KEYED[type_name]
    if not keyed.reaches(scope):
        return NULL
    where = f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key} AND {keyed.visible(e, scope)}"
    return _row(e, node, type_name, keyed.table, where, scope, path)


def cancellation_request_of_subscription(
    e: Emitter, node: FieldNode, scope: Scope, subscription: str, path: tuple[str, ...]
) -> str:
    """``Subscription.cancellationRequest`` of the subscription row ``subscription``: its open
    request, else its latest (``cancellations.CURRENT_ORDER``), where the viewer sees requests."""
    if not scope.sees_anything:
        return NULL
    a = e._state.alias("r")
    body = e._selection(node, "CancellationRequest", a, scope, path)
    visible = _whole_or_own(CANCELLATION_REQUEST_VISIBLE, "c")(e, scope).format(a=a)
    where = CURRENT_OF_SUBSCRIPTION.format(c=a, s=subscription)
    return (
        f"(SELECT {body} FROM cancellation_requests {a} WHERE {where} AND {visible}"
        f" ORDER BY {CURRENT_ORDER.format(c=a)} LIMIT 1)"
    )
