"""Plain lists (not Relay connections) below a tenant, a product and a few objects.

Each is a ``json_agg`` over the very row source the resolver's query reads, built from the
fragments ``db/queries`` exports, in the order that query gives, and empty where the resolver
returns an empty list before it asks the database.
"""

from __future__ import annotations

from graphql import FieldNode

from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Emitter
from purchasegraph.compiled.sql import enum_name
from purchasegraph.db.queries import capacity, partners, policies, products
from purchasegraph.policy import PARTNER_RELATIONSHIP_VISIBLE, USER_VISIBLE, Scope
from purchasegraph.schema.ids import product_key

EMPTY = "'[]'::json"


def agg(item: str, source: str, order: str) -> str:
    """The JSON array of ``item`` over the rows of ``source`` in ``order``; empty, not null, for none."""
    return f"COALESCE((SELECT json_agg({item} ORDER BY {order}) {source}), {EMPTY})"


def _item(
    e: Emitter, node: FieldNode, type_name: str, prefix: str, scope: Scope, path: tuple[str, ...]
) -> tuple[str, str]:
    """A fresh alias for the list's row, and the selection over it."""
    a = e._state.alias(prefix)
    return a, e._selection(node, type_name, a, scope, path)


def _market(e: Emitter, node: FieldNode) -> str:
    """The ``market`` argument as the resolvers pass it on: upper-cased in Python, '' as no market."""
    market = e._argument(node, "market")
    if market is not None and not isinstance(market, str):
        raise NotCompilable(Reason.INVALID_INPUT, "market")
    return e._param(market.upper() if market else None, "text")


def products_in_market(e: Emitter, node: FieldNode, scope: Scope, path: tuple[str, ...]) -> str:
    """``Query.products``: the catalogue, in its order, of one market or all."""
    p, body = _item(e, node, "Product", "p", scope, path)
    where = products.SOLD_IN_MARKET.format(p=p, market=_market(e, node))
    return agg(body, f"FROM products {p} WHERE {where}", products.ORDER.format(p=p))


def product_prices(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Product.prices(market:)``."""
    pp, body = _item(e, node, "ProductPrice", "pp", scope, path)
    where = f"{pp}.product_id = {a}.id AND " + products.PRICE_IN_MARKET.format(pp=pp, market=_market(e, node))
    return agg(body, f"FROM product_prices {pp} WHERE {where}", products.PRICE_ORDER.format(pp=pp))


def _policies(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...], product: str | None) -> str:
    """The rows ``policies`` lists for the tenant row ``a``, selected: all of them in its order, or
    with ``product`` (an SQL expression) that product's row or null."""
    sp, body = _item(e, node, "SelfServicePolicy", "sp", scope, path)
    source = policies.POLICIES_OF_TENANT.format(
        p="p", ssp="ssp", tenant=f"{a}.id", sees=e._param(scope.sees_policies, "bool")
    )
    columns = f"p.id AS product_id, {policies.POLICY_VALUE.format(ssp='ssp')} AS value, ssp.updated_at"
    if product is not None:
        one = policies.ONE_PRODUCT.format(p="p", product=product)
        return f"(SELECT {body} FROM (SELECT {columns} {source} AND {one}) {sp})"
    position = f"row_number() OVER (ORDER BY {policies.ORDER.format(p='p')}) AS rn"
    return agg(body, f"FROM (SELECT {columns}, {position} {source}) {sp}", f"{sp}.rn")


def tenant_policies(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Tenant.policies``: for whole-tenant viewers and applications allowed the policies."""
    return _policies(e, node, a, scope, path, None) if scope.sees_policies else EMPTY


def tenant_policy(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Tenant.policy(productId:)``: the row ``policies`` lists for the product, null where that
    list is empty or holds no such product (the resolver's ``product_key`` reads the argument)."""
    raw = e._argument(node, "productId")
    if not isinstance(raw, str):
        raise NotCompilable(Reason.INVALID_INPUT, "policy(productId:)")
    if not scope.sees_policies:
        return "NULL::json"
    return _policies(e, node, a, scope, path, e._param(product_key(raw), "text"))


def tenant_capacity(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Tenant.capacity``: licenses per product within the viewer's scope."""
    if not scope.sees_anything:
        return EMPTY
    c, body = _item(e, node, "ProductCapacity", "cap", scope, path)
    rows = capacity.capacity_of_tenant(
        tenant=f"{a}.id", whole=e._param(scope.whole_tenant, "bool"), viewer=e._param(scope.viewer_id, "uuid")
    )
    return agg(body, f"FROM ({rows}) {c}", capacity.ORDER.format(s=c))


def tenant_partner_relationships(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Tenant.partnerRelationships``: whole-tenant viewers; a partner only its own."""
    if not scope.whole_tenant:
        return EMPTY
    p, body = _item(e, node, "PartnerRelationship", "pr", scope, path)
    visible = PARTNER_RELATIONSHIP_VISIBLE.format(
        p=p, whole=e._param(scope.whole_tenant, "bool"), partner=e._param(scope.partner_tenant_id, "uuid")
    )
    source = f"FROM partner_relationships {p} WHERE {p}.tenant_id = {a}.id AND {visible}"
    return agg(body, source, partners.ORDER.format(p=p))


def relationship_roles(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``PartnerRelationship.roles``: the stored array's order, each role by its GraphQL name."""
    if node.arguments or node.selection_set is not None:
        raise NotCompilable(Reason.ARGUMENT, "PartnerRelationship.roles")
    r = e._state.alias("role")
    return agg(
        enum_name(f"{r}.role", e._schema, "DirectoryRole"),
        f"FROM unnest({a}.roles) WITH ORDINALITY AS {r}(role, ord)",
        f"{r}.ord",
    )


def requested_for_users(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``LicenseRequest.forUsers``: each id of the request in its order, the users the viewer may
    see (``USER_VISIBLE``); the others left out, as the resolver drops its nulls."""
    if not scope.sees_anything:
        return EMPTY
    f, u = e._state.alias("f"), e._state.alias("u")
    body = e._selection(node, "User", u, scope, path)
    visible = USER_VISIBLE.format(
        u=u, directory=e._param(scope.sees_directory, "bool"), viewer=e._param(scope.viewer_id, "uuid")
    )
    source = (
        f"FROM unnest({a}.for_user_ids) WITH ORDINALITY AS {f}(id, ord)"
        f" JOIN users {u} ON {u}.tenant_id = {a}.tenant_id AND {u}.id = {f}.id WHERE {visible}"
    )
    return agg(body, source, f"{f}.ord")
