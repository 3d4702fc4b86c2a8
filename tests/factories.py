"""Rows for tests, inserted with SQL inside the test's transaction (rolled back afterwards)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

INSERT_TENANT = """
INSERT INTO tenants (id, name, primary_domain, managed, organization_type, country, currency)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
INSERT_USER = """
INSERT INTO users (tenant_id, id, display_name, user_principal_name, user_type, source, account_enabled)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
INSERT_ROLE = "INSERT INTO directory_roles (tenant_id, user_id, role) VALUES ($1, $2, $3)"
INSERT_SUBSCRIPTION = """
INSERT INTO subscriptions (tenant_id, id, product_id, channel, purchaser_user_id, controlled_by, quantity,
                           status, term_start, expires_at, unit_price, currency, created_at)
VALUES ($1, $2, $3, 'self_service', $4, 'purchaser', $5, 'active',
        app_now() - interval '30 days', app_now() + interval '335 days', $6, 'USD',
        app_now() - $7 * interval '1 minute')
"""
INSERT_ORDER = """
INSERT INTO orders (tenant_id, id, subscription_id, kind, actor_user_id, actor_tenant_id, quantity_delta,
                    quantity_after, unit_price, total, currency, created_at)
VALUES ($1, $2, $3, $4, $5, $1, $6, $7, $8, $9, 'USD', app_now() - $10 * interval '1 hour')
"""
INSERT_ASSIGNMENT = """
INSERT INTO license_assignments (tenant_id, id, subscription_id, user_id, assigned_by)
VALUES ($1, $2, $3, $4, $5)
"""

PRODUCTS = ["CFQ7TTC0H9MP", "CFQ7TTC0LH2H", "CFQ7TTC0LH3L", "CFQ7TTC0H6RP", "CFQ7TTC0HD32"]


@dataclass
class TenantRows:
    tenant_id: uuid.UUID
    admin_upn: str
    admin_id: uuid.UUID
    user_ids: list[uuid.UUID] = field(default_factory=list)
    subscription_ids: list[uuid.UUID] = field(default_factory=list)


async def create_tenant(
    conn: asyncpg.Connection,
    *,
    country: str = "US",
    organization_type: str = "commercial",
    managed: bool = True,
    users: int = 3,
) -> TenantRows:
    """A fresh tenant with a global admin and ``users`` members."""
    tenant_id = uuid.uuid4()
    domain = f"t{tenant_id.hex[:12]}.example"
    await conn.execute(INSERT_TENANT, tenant_id, f"Tenant {domain}", domain, managed, organization_type, country, "USD")
    admin_id = uuid.uuid4()
    admin_upn = f"admin@{domain}"
    await conn.execute(INSERT_USER, tenant_id, admin_id, "Admin", admin_upn, "member", "cloud", True)
    await conn.execute(INSERT_ROLE, tenant_id, admin_id, "global_admin")
    rows = TenantRows(tenant_id=tenant_id, admin_upn=admin_upn, admin_id=admin_id)
    await conn.executemany(
        INSERT_USER,
        [
            (tenant_id, uid, f"User {i:05d}", f"user{i}@{domain}", "member", "cloud", True)
            for i, uid in enumerate(uuid.uuid4() for _ in range(users))
        ],
    )
    rows.user_ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM users WHERE tenant_id = $1 AND id <> $2 ORDER BY display_name",
            tenant_id,
            admin_id,
        )
    ]
    return rows


async def add_subscriptions(
    conn: asyncpg.Connection,
    tenant: TenantRows,
    *,
    count: int,
    orders_each: int = 6,
    assignments_each: int = 3,
    quantity: int | None = None,
) -> None:
    """``count`` self-service subscriptions bought by the tenant's members, with history and licenses."""
    price = Decimal("10.00")
    subscriptions, orders, assignments = [], [], []
    for n in range(count):
        sub_id = uuid.uuid4()
        purchaser = tenant.user_ids[n % len(tenant.user_ids)]
        licenses = quantity if quantity is not None else max(assignments_each, 1) + 2
        subscriptions.append((tenant.tenant_id, sub_id, PRODUCTS[n % len(PRODUCTS)], purchaser, licenses, price, n))
        for k in range(orders_each):
            kind = "purchase" if k == 0 else "add_licenses"
            orders.append(
                (
                    tenant.tenant_id,
                    uuid.uuid4(),
                    sub_id,
                    kind,
                    purchaser,
                    1,
                    k + 1,
                    price,
                    price,
                    orders_each - k,
                )
            )
        for k in range(assignments_each):
            user = tenant.user_ids[(n + k) % len(tenant.user_ids)]
            assignments.append((tenant.tenant_id, uuid.uuid4(), sub_id, user, purchaser))
        tenant.subscription_ids.append(sub_id)
    await conn.executemany(INSERT_SUBSCRIPTION, subscriptions)
    await conn.executemany(INSERT_ORDER, orders)
    await conn.executemany(INSERT_ASSIGNMENT, assignments)
