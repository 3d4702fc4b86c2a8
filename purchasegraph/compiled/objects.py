"""One object by its key, as the resolvers' by-id loaders find it, or null.

Each function answers the SQL of one JSON object (or ``NULL::json``) for a selection, under the
scope of the object's tenant, with the visibility fragments of ``policy`` that the by-id queries
of ``db/queries`` are built from; a row outside the scope is null exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from graphql import FieldNode

from purchasegraph.compiled.emitter import Emitter
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


def user_object(e: Emitter, node: FieldNode, scope: Scope, tenant: str, user_id: str, path: tuple[str, ...]) -> str:
    """``load_user`` of the user ``user_id`` of ``tenant`` (SQL expressions): the directory for
    those who see it, themselves for anyone else (``USER_VISIBLE``)."""
    if not scope.sees_anything:
        return NULL
    visible = USER_VISIBLE.format(
        u="{a}", directory=e._param(scope.sees_directory, "bool"), viewer=e._param(scope.viewer_id, "uuid")
    )
    return _row(
        e, node, "User", "users", f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {user_id} AND {visible}", scope, path
    )


def subscription_object(
    e: Emitter, node: FieldNode, scope: Scope, tenant: str, subscription_id: str, path: tuple[str, ...]
) -> str:
    """``load_subscription``: whole-tenant viewers, and its purchaser (``SUBSCRIPTION_VISIBLE``)."""
    if not scope.sees_anything:
        return NULL
    visible = SUBSCRIPTION_VISIBLE.format(s="{a}", **_scoped(e, scope))
    where = f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {subscription_id} AND {visible}"
    return _row(e, node, "Subscription", "subscriptions", where, scope, path)


def cancellation_request_of_subscription(
    e: Emitter, node: FieldNode, scope: Scope, subscription: str, path: tuple[str, ...]
) -> str:
    """``Subscription.cancellationRequest`` of the subscription row ``subscription``: its open
    request, else its latest (``cancellations.CURRENT_ORDER``), where the viewer sees requests."""
    if not scope.sees_anything:
        return NULL
    a, j = e._state.alias("r"), e._state.alias("j")
    body = e._selection(node, "CancellationRequest", a, scope, path)
    visible = CANCELLATION_REQUEST_VISIBLE.format(c=a, j=j, **_scoped(e, scope))
    where = CURRENT_OF_SUBSCRIPTION.format(c=a, s=subscription)
    return (
        f"(SELECT {body} FROM cancellation_requests {a} WHERE {where} AND {visible}"
        f" ORDER BY {CURRENT_ORDER.format(c=a)} LIMIT 1)"
    )


def _cancellation_request(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key_id: uuid.UUID, path: tuple[str, ...]
) -> str:
    if not scope.sees_anything:
        return NULL
    tenant, key = _keys(e, tenant_id, key_id)
    j = e._state.alias("j")
    visible = CANCELLATION_REQUEST_VISIBLE.format(c="{a}", j=j, **_scoped(e, scope))
    where = f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key} AND {visible}"
    return _row(e, node, "CancellationRequest", "cancellation_requests", where, scope, path)


# -- node(id:): an object of a tenant by its key, as resolve_node's TENANT_SCOPED loaders ------

# (emitter, selection, scope of the tenant, tenant id, key, path); the caller has checked that the
# scope sees something of the tenant. Parameters are made only for what the statement uses.
ById = Callable[[Emitter, FieldNode, Scope, uuid.UUID, uuid.UUID, tuple[str, ...]], str]


def _keys(e: Emitter, tenant_id: uuid.UUID, key: uuid.UUID) -> tuple[str, str]:
    return e._param(tenant_id, "uuid"), e._param(key, "uuid")


def _subscription(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key: uuid.UUID, path: tuple[str, ...]
) -> str:
    return subscription_object(e, node, scope, *_keys(e, tenant_id, key), path)


def _user(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key: uuid.UUID, path: tuple[str, ...]
) -> str:
    return user_object(e, node, scope, *_keys(e, tenant_id, key), path)


def _order_of_kinds(type_name: str, kinds: tuple[str, ...] | None) -> ById:
    """An order line (``Order``), or one that bought licenses (``Purchase``): visible wherever its
    subscription is."""

    def compile_order(
        e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key_id: uuid.UUID, path: tuple[str, ...]
    ) -> str:
        if not scope.sees_anything:
            return NULL
        tenant, key = _keys(e, tenant_id, key_id)
        visible = SUBSCRIPTION_VISIBLE.format(s="s", **_scoped(e, scope))
        where = (
            f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key}"
            + (f" AND {{a}}.kind = ANY({e._param(list(kinds), 'text[]')})" if kinds is not None else "")
            + " AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = {a}.tenant_id"
            + f" AND s.id = {{a}}.subscription_id AND {visible})"
        )
        return _row(e, node, type_name, "orders", where, scope, path)

    return compile_order


def _assignment(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key_id: uuid.UUID, path: tuple[str, ...]
) -> str:
    if not scope.sees_anything:
        return NULL
    tenant, key = _keys(e, tenant_id, key_id)
    visible = ASSIGNMENT_VISIBLE.format(s="s", a="{a}", **_scoped(e, scope))
    where = (
        f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key} AND EXISTS (SELECT 1 FROM subscriptions s"
        f" WHERE s.tenant_id = {{a}}.tenant_id AND s.id = {{a}}.subscription_id AND {visible})"
    )
    return _row(e, node, "Assignment", "license_assignments", where, scope, path)


def _invoice(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key_id: uuid.UUID, path: tuple[str, ...]
) -> str:
    if not scope.sees_anything:
        return NULL
    tenant, key = _keys(e, tenant_id, key_id)
    visible = INVOICE_VISIBLE.format(i="{a}", **_scoped(e, scope))
    return _row(
        e, node, "Invoice", "invoices", f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key} AND {visible}", scope, path
    )


def payment_method_object(
    e: Emitter, node: FieldNode, scope: Scope, tenant: str, key: str, path: tuple[str, ...]
) -> str:
    """Only the card's owner gets it (``PAYMENT_METHOD_VISIBLE``); whole tenant is no way in."""
    if not scope.sees_anything:
        return NULL
    visible = PAYMENT_METHOD_VISIBLE.format(pm="{a}", viewer=e._param(scope.viewer_id, "uuid"))
    where = f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key} AND {visible}"
    return _row(e, node, "PaymentMethod", "payment_methods", where, scope, path)


def _payment_method(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key: uuid.UUID, path: tuple[str, ...]
) -> str:
    return payment_method_object(e, node, scope, *_keys(e, tenant_id, key), path)


def _partner_relationship(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key_id: uuid.UUID, path: tuple[str, ...]
) -> str:
    if not scope.whole_tenant:
        return NULL  # the list the resolver picks it from is empty
    tenant, key = _keys(e, tenant_id, key_id)
    visible = PARTNER_RELATIONSHIP_VISIBLE.format(
        p="{a}", whole=e._param(scope.whole_tenant, "bool"), partner=e._param(scope.partner_tenant_id, "uuid")
    )
    where = f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key} AND {visible}"
    return _row(e, node, "PartnerRelationship", "partner_relationships", where, scope, path)


def _license_request(
    e: Emitter, node: FieldNode, scope: Scope, tenant_id: uuid.UUID, key_id: uuid.UUID, path: tuple[str, ...]
) -> str:
    if not scope.sees_anything:
        return NULL
    tenant, key = _keys(e, tenant_id, key_id)
    visible = LICENSE_REQUEST_VISIBLE.format(r="{a}", **_scoped(e, scope))
    where = f"{{a}}.tenant_id = {tenant} AND {{a}}.id = {key} AND {visible}"
    return _row(e, node, "LicenseRequest", "license_requests", where, scope, path)


# The types resolve_node finds in a tenant, by the global ID's type name.
BY_ID: dict[str, ById] = {
    "CancellationRequest": _cancellation_request,
    "LicenseRequest": _license_request,
    "User": _user,
    "Subscription": _subscription,
    "Order": _order_of_kinds("Order", None),
    "Purchase": _order_of_kinds("Purchase", PURCHASE_KINDS),
    "Assignment": _assignment,
    "Invoice": _invoice,
    "PaymentMethod": _payment_method,
    "PartnerRelationship": _partner_relationship,
}
