"""The roots of ``Query`` beside ``tenant``: ``products``, ``node``, ``viewer`` and ``quote``."""

from __future__ import annotations

import uuid

from graphql import FieldNode

from purchasegraph.compiled import lists
from purchasegraph.compiled.catalogue import checkout_eligibility
from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Emitter, RootCompiler
from purchasegraph.compiled.fleet import accessible_tenants
from purchasegraph.compiled.objects import KEYED, NULL, keyed_object, product_object, tenant_object
from purchasegraph.compiled.quote import quote
from purchasegraph.compiled.viewer import viewer
from purchasegraph.policy import nothing
from purchasegraph.schema.ids import decode_id
from purchasegraph.schema.nodes import TENANT_SCOPED

# The catalogue is public: nothing below a product depends on a scope, so none is given.
PUBLIC = nothing(uuid.UUID(int=0))


def products(e: Emitter, node: FieldNode, path: tuple[str, ...]) -> str:
    return lists.products_in_market(e, node, PUBLIC, path)


def node_by_id(e: Emitter, node: FieldNode, path: tuple[str, ...]) -> str:
    """``resolve_node``: the concrete type the global ID names, under the scope of the tenant it
    carries; malformed, unknown and out of scope are all null. A type the resolvers know and the
    compiler does not is declined."""
    raw = e._argument(node, "id")
    if not isinstance(raw, str):
        raise NotCompilable(Reason.INVALID_INPUT, "node id")
    gid = decode_id(raw)
    if gid is None:
        return NULL
    if gid.type_name == "Product":
        return product_object(e, node, e._param(gid.key, "text"), PUBLIC, path)
    try:
        key = gid.uuid
    except ValueError:
        return NULL
    if gid.type_name == "Tenant":
        return tenant_object(e, node, key, path)
    if gid.type_name not in TENANT_SCOPED or gid.tenant_id is None:
        return NULL
    keyed = KEYED.get(gid.type_name)
    if keyed is None:
        raise NotCompilable(Reason.FIELD, f"node of {gid.type_name}")
    scope = e._scope_of(gid.tenant_id)
    if not scope.sees_anything or not keyed.reaches(scope):
        return NULL  # outside your scope looks exactly like absent
    tenant, key_sql = e._param(gid.tenant_id, "uuid"), e._param(key, "uuid")
    return keyed_object(e, node, gid.type_name, scope, tenant, key_sql, path)


ROOTS: dict[str, RootCompiler] = {
    "products": products,
    "node": node_by_id,
    "viewer": viewer,
    "accessibleTenants": accessible_tenants,
    "quote": quote,
    "checkoutEligibility": checkout_eligibility,
}
