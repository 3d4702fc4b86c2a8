"""``node(id:)``: refetch any object by global ID, under the scope of the tenant it names."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from purchasegraph.context import Info
from purchasegraph.db.queries.orders import PURCHASE_KINDS
from purchasegraph.resolvers import purchases, tenants
from purchasegraph.schema.catalogue import load_product
from purchasegraph.schema.directory import load_user
from purchasegraph.schema.ids import GlobalId, decode_id
from purchasegraph.schema.node import Node
from purchasegraph.schema.purchases import (
    Assignment,
    Invoice,
    Order,
    PaymentMethod,
    Purchase,
    load_cancellation_request,
    load_subscription,
)
from purchasegraph.schema.tenants import PartnerRelationship, load_license_request, load_tenant

TenantScoped = Callable[[Info, uuid.UUID, uuid.UUID], Awaitable[Node | None]]


async def _order(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    row = await purchases.order(info, tenant_id, key)
    return Order.from_row(row) if row is not None else None


async def _purchase(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    row = await purchases.order(info, tenant_id, key)
    return Purchase.from_row(row) if row is not None and row["kind"] in PURCHASE_KINDS else None


async def _assignment(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    row = await purchases.assignment(info, tenant_id, key)
    return Assignment.from_row(row) if row is not None else None


async def _invoice(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    row = await purchases.invoice(info, tenant_id, key)
    return Invoice.from_row(row) if row is not None else None


async def _payment_method(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    row = await purchases.payment_method(info, tenant_id, key)
    return PaymentMethod.from_row(row) if row is not None else None


async def _partner_relationship(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    rows = await tenants.partner_relationships_of_tenant(info, tenant_id)
    return next((PartnerRelationship.from_row(r) for r in rows if r["id"] == key), None)


async def _license_request(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    return await load_license_request(info, tenant_id, key)


async def _cancellation_request(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    return await load_cancellation_request(info, tenant_id, key)


TENANT_SCOPED: dict[str, TenantScoped] = {
    "CancellationRequest": _cancellation_request,
    "LicenseRequest": _license_request,
    "User": load_user,
    "Subscription": load_subscription,
    "Order": _order,
    "Purchase": _purchase,
    "Assignment": _assignment,
    "Invoice": _invoice,
    "PaymentMethod": _payment_method,
    "PartnerRelationship": _partner_relationship,
}


async def resolve_node(info: Info, global_id: str) -> Node | None:
    """Null for anything malformed, unknown or outside the viewer's scope: all look alike."""
    gid = decode_id(global_id)
    if gid is None:
        return None
    if gid.type_name == "Product":
        return await load_product(info, gid.key)
    key = _uuid_key(gid)
    if key is None:
        return None
    if gid.type_name == "Tenant":
        return await load_tenant(info, key)
    fetch = TENANT_SCOPED.get(gid.type_name)
    if fetch is None or gid.tenant_id is None:
        return None
    return await fetch(info, gid.tenant_id, key)


def _uuid_key(gid: GlobalId) -> uuid.UUID | None:
    try:
        return gid.uuid
    except ValueError:
        return None
