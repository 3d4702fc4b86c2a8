"""Self-service policies (MSCommerce AllowSelfServicePurchase): whole-tenant viewers read them, and
applications allowed the policies (``Scope.sees_policies``)."""

from __future__ import annotations

from purchasegraph.db.executor import Executor, Record
from purchasegraph.policy import Scope

# Every self-service product `{p}` with the tenant's policy row `{ssp}` where there is one; none at
# all unless `{sees}` (the scope's `sees_policies`).
POLICIES_OF_TENANT = """FROM products {p}
  LEFT JOIN self_service_policies {ssp} ON {ssp}.tenant_id = {tenant} AND {ssp}.product_id = {p}.id
 WHERE {p}.self_service AND {sees}"""
# The tenant's value, or the default 'enabled' where no row is.
POLICY_VALUE = "COALESCE({ssp}.value, 'enabled')"
# `policy(productId:)`: the one product among them.
ONE_PRODUCT = "{p}.id = {product}"
# The order `policies` lists them in: the catalogue's.
ORDER = "{p}.family, {p}.name"

SELECT_POLICIES_BY_TENANT = f"""
SELECT p.id AS product_id, {POLICY_VALUE.format(ssp="ssp")} AS value, ssp.updated_at, ssp.updated_by
  {POLICIES_OF_TENANT.format(p="p", ssp="ssp", tenant="$1", sees="$2::bool")}
 ORDER BY {ORDER.format(p="p")}
"""


async def fetch_policies_by_tenant(db: Executor, *, scope: Scope) -> list[Record]:
    if not scope.sees_policies:
        return []
    return await db.fetch(SELECT_POLICIES_BY_TENANT, scope.tenant_id, scope.sees_policies)
