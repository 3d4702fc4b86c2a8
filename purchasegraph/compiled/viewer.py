"""``Query.viewer``: the signed-in user, their home tenant, roles, tenants and notifications, and
their eligibility, whose rules live in Python (``purchasegraph.eligibility``) and are resolved
beside the statement by the very resolver the schema runs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import FieldNode

from purchasegraph.compiled.connections import INVOICES_OF_VIEWER, NOTIFICATIONS_OF_VIEWER, ConnectionSource
from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Beside, Emitter, beside_info, beside_selection
from purchasegraph.compiled.lists import agg
from purchasegraph.compiled.objects import NULL, keyed_object, tenant_object
from purchasegraph.compiled.sql import enum_names, literal
from purchasegraph.context import Context
from purchasegraph.db.queries.payment_methods import OWN_CARDS, PAYMENT_METHOD_ORDER
from purchasegraph.policy import Access, Scope, own_billing_scope, own_notifications_scope, tenants_in_reach
from purchasegraph.principals import SignedInUser
from purchasegraph.resolvers import viewer as viewer_resolvers
from purchasegraph.schema.viewer import product_key


def viewer(e: Emitter, node: FieldNode, path: tuple[str, ...]) -> str:
    """Null for anyone but a user (anonymous, an application), as ``Query.viewer``."""
    principal = e._viewer
    if not isinstance(principal, SignedInUser):
        return NULL
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, "Viewer without selection")
    home = e._scope_of(principal.tenant_id)
    pairs: list[tuple[str, str]] = []
    for child in e._fields(node.selection_set, "Viewer"):
        key = e._key(child)
        name, at = child.name.value, (*path, key)
        if name == "__typename":
            value = literal("Viewer")
        elif name == "user":
            tenant, user = e._param(principal.tenant_id, "uuid"), e._param(principal.user_id, "uuid")
            value = keyed_object(e, child, "User", home, tenant, user, at)
        elif name == "homeTenant":
            value = tenant_object(e, child, principal.tenant_id, at)
        elif name == "directoryRoles":
            value = _directory_roles(e, principal)
        elif name == "tenants":
            value = _tenants(e, child, principal, at)
        elif name == "notifications":
            value = _home_connection(
                e, child, principal, NOTIFICATIONS_OF_VIEWER, own_notifications_scope(principal), at
            )
        elif name == "invoices":
            value = _home_connection(e, child, principal, INVOICES_OF_VIEWER, own_billing_scope(principal), at)
        elif name == "paymentMethods":
            value = _payment_methods(e, child, principal, at)
        elif name == "eligibility":
            e._state.beside.append(Beside(at, _eligibility(e, child)))
            value = NULL  # the key keeps its place; run_compiled puts the value there
        else:
            raise NotCompilable(Reason.FIELD, f"Viewer.{name}")
        pairs.append((key, value))
    return e._object(pairs)


def _directory_roles(e: Emitter, principal: SignedInUser) -> str:
    """The viewer's roles, read with the viewer, sorted by value as the resolver sorts them."""
    names = enum_names(e._schema, "DirectoryRole")
    if not principal.roles <= names.keys():
        raise NotCompilable(Reason.FIELD, "Viewer.directoryRoles")  # the resolver would raise
    return f"({e._param(json.dumps([names[role] for role in sorted(principal.roles)]), 'text')})::json"


def _tenants(e: Emitter, node: FieldNode, principal: SignedInUser, path: tuple[str, ...]) -> str:
    """Every tenant in reach, home first, as ``tenants_in_reach`` lists them; a tenant the loader
    does not find is left out."""
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, "TenantAccess without selection")
    access_names = enum_names(e._schema, "AccessLevel")
    items = []
    for position, reach in enumerate(tenants_in_reach(principal)):
        t = e._state.alias("t")
        scope = e._scope_of(reach.tenant_id)
        pairs = []
        for child in e._fields(node.selection_set, "TenantAccess"):
            name = child.name.value
            if name == "__typename":
                pairs.append((e._key(child), literal("TenantAccess")))
            elif name == "tenant":
                pairs.append((e._key(child), e._selection(child, "Tenant", t, scope, (*path, e._key(child)))))
            elif name == "access":
                pairs.append((e._key(child), literal(access_names[(reach.access or Access.GUEST).value])))
            else:
                raise NotCompilable(Reason.FIELD, f"TenantAccess.{name}")
        row = f"(SELECT {e._object(pairs)} FROM tenants {t} WHERE {t}.id = {e._param(reach.tenant_id, 'uuid')})"
        items.append(f"({position}, {row})")
    if not items:
        return "'[]'::json"
    v = e._state.alias("v")
    return (
        f"(SELECT COALESCE(json_agg({v}.item ORDER BY {v}.position), '[]'::json)"
        f" FROM (VALUES {', '.join(items)}) {v}(position, item) WHERE {v}.item IS NOT NULL)"
    )


def _home_connection(
    e: Emitter,
    node: FieldNode,
    principal: SignedInUser,
    spec: ConnectionSource,
    scope: Scope | None,
    path: tuple[str, ...],
) -> str:
    """A connection of the viewer's own under their home tenant, in the scope the policy gives the
    viewer for it, as the resolvers read it: ``NOTIFICATIONS_OF_VIEWER`` in
    ``policy.own_notifications_scope``, my bills (``INVOICES_OF_VIEWER``) in ``own_billing_scope``."""
    assert scope is not None, "a user has their own notifications and billing"
    t = e._state.alias("t")
    page = e._connection(node, spec, t, scope, path)
    return f"(SELECT {page} FROM tenants {t} WHERE {t}.id = {e._param(principal.tenant_id, 'uuid')})"


def _payment_methods(e: Emitter, node: FieldNode, principal: SignedInUser, path: tuple[str, ...]) -> str:
    """My cards: ``payment_methods.OWN_CARDS`` in its order, as the resolver's statement."""
    scope = own_billing_scope(principal)
    assert scope is not None, "a user has their own billing scope"
    pm = e._state.alias("pm")
    body = e._selection(node, "PaymentMethod", pm, scope, path)
    mine = OWN_CARDS.format(pm=pm, tenant=e._param(scope.tenant_id, "uuid"), viewer=e._param(scope.viewer_id, "uuid"))
    return agg(body, f"FROM payment_methods {pm} WHERE {mine}", PAYMENT_METHOD_ORDER.format(pm=pm))


def _eligibility(e: Emitter, node: FieldNode) -> Callable[[Context], Awaitable[Any]]:
    """``Viewer.eligibility(productId:)``, serialized for the selection: the same resolver function
    (``resolvers.viewer.eligibility``) on the request's context, after the statement."""
    raw = e._argument(node, "productId")
    if not isinstance(raw, str):
        raise NotCompilable(Reason.INVALID_INPUT, "eligibility(productId:)")
    product_id = product_key(raw)
    reasons = enum_names(e._schema, "EligibilityReason")
    selection = beside_selection(e, node, "Eligibility", ("eligible", "reasons", "message", "canStartTrial"))

    async def resolve(context: Context) -> Any:
        assessment = await viewer_resolvers.eligibility(beside_info(context), product_id)
        if assessment is None:
            return None
        return selection(
            {
                "eligible": assessment.eligible,
                "reasons": [reasons[reason.value] for reason in assessment.reasons],
                "message": assessment.message,
                "canStartTrial": assessment.can_start_trial,
            }
        )

    return resolve
