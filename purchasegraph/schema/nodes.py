"""``node(id:)``: refetch any object by global ID, under the scope of the tenant it names."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from purchasegraph.context import Info
from purchasegraph.db.executor import Record
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
FetchRow = Callable[[Info, uuid.UUID, uuid.UUID], Awaitable[Record | None]]


def _by_row(
    fetch: FetchRow, make: Callable[[Record], Node], *, only: Callable[[Record], bool] = lambda row: True
) -> TenantScoped:
    """The object ``make`` reads from the row ``fetch`` finds in the tenant's scope, if ``only`` admits it."""

    async def load(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
        row = await fetch(info, tenant_id, key)
        return make(row) if row is not None and only(row) else None

    return load


async def _partner_relationship(info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Node | None:
    rows = await tenants.partner_relationships_of_tenant(info, tenant_id)
    return next((PartnerRelationship.from_row(r) for r in rows if r["id"] == key), None)


TENANT_SCOPED: dict[str, TenantScoped] = {
    "CancellationRequest": load_cancellation_request,
    "LicenseRequest": load_license_request,
    "User": load_user,
    "Subscription": load_subscription,
    "Order": _by_row(purchases.order, Order.from_row),
    "Purchase": _by_row(purchases.order, Purchase.from_row, only=lambda row: row["kind"] in PURCHASE_KINDS),
    "Assignment": _by_row(purchases.assignment, Assignment.from_row),
    "Invoice": _by_row(purchases.invoice, Invoice.from_row),
    "PaymentMethod": _by_row(purchases.payment_method, PaymentMethod.from_row),
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
