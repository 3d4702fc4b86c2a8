"""Self-service policies (MSCommerce AllowSelfServicePurchase): whole-tenant viewers read them, and
applications allowed the policies (``Scope.sees_policies``)."""

from __future__ import annotations

from purchasegraph.db.executor import Executor, Record
from purchasegraph.policy import Scope

# Every self-service product, with the tenant's value or the default 'enabled' where no row is.
SELECT_POLICIES_BY_TENANT = """
SELECT p.id AS product_id, COALESCE(ssp.value, 'enabled') AS value, ssp.updated_at, ssp.updated_by
  FROM products p
  LEFT JOIN self_service_policies ssp ON ssp.tenant_id = $1 AND ssp.product_id = p.id
 WHERE p.self_service AND $2::bool
 ORDER BY p.family, p.name
"""

SELECT_POLICY_VALUE = """
SELECT COALESCE((SELECT value FROM self_service_policies WHERE tenant_id = $1 AND product_id = $2),
                'enabled') AS value
"""


async def fetch_policies_by_tenant(db: Executor, *, scope: Scope) -> list[Record]:
    if not scope.sees_policies:
        return []
    return await db.fetch(SELECT_POLICIES_BY_TENANT, scope.tenant_id, scope.sees_policies)
