"""Tenants: a tenant row is shown only to viewers with some scope in it (the resolver's
scope decides whether this runs at all)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db.batch import in_key_order
from purchasegraph.db.executor import Executor, Record

SELECT_TENANTS_BY_ID = """
SELECT t.id, t.name, t.primary_domain, t.managed, t.organization_type, t.country, t.currency, t.created_at
  FROM tenants t
 WHERE t.id = ANY($1::uuid[])
"""


async def fetch_tenants_by_id(db: Executor, *, ids: Sequence[uuid.UUID]) -> list[Record | None]:
    return in_key_order(await db.fetch(SELECT_TENANTS_BY_ID, list(ids)), ids)


# A tenant named by its primary domain (domains are stored in lower case, as DNS compares them),
# among the tenants `{reach}` the viewer reaches: one outside it is not found, like an unknown one.
DOMAIN_IN_REACH = "{t}.primary_domain = lower({domain}) AND {t}.id = ANY({reach})"

SELECT_TENANT_BY_DOMAIN = f"""
SELECT t.id, t.name, t.primary_domain, t.managed, t.organization_type, t.country, t.currency, t.created_at
  FROM tenants t
 WHERE {DOMAIN_IN_REACH.format(t="t", domain="$1::text", reach="$2::uuid[]")}
"""


async def fetch_tenant_by_domain(db: Executor, *, domain: str, reach: Sequence[uuid.UUID]) -> Record | None:
    return await db.fetchrow(SELECT_TENANT_BY_DOMAIN, domain, list(reach))
