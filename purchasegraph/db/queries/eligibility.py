"""The facts self-service eligibility is decided on, for many products in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.queries.products import SOLD_SELF_SERVICE_IN_MARKET

SELECT_ELIGIBILITY_FACTS = f"""
SELECT p.id AS product_id, p.name AS product_name, p.family, p.self_service, p.trial_available,
       p.trial_requires_payment_method,
       t.managed, t.organization_type, t.country,
       COALESCE(ssp.value, 'enabled') AS policy,
       {SOLD_SELF_SERVICE_IN_MARKET.format(p="p", market="t.country")} AS sold_in_market
  FROM tenants t
 CROSS JOIN products p
  LEFT JOIN self_service_policies ssp ON ssp.tenant_id = t.id AND ssp.product_id = p.id
 WHERE t.id = $1 AND p.id = ANY($2::text[])
"""


async def fetch_eligibility_facts(
    db: Executor, *, tenant_id: uuid.UUID, product_ids: Sequence[str]
) -> list[Record | None]:
    records = await db.fetch(SELECT_ELIGIBILITY_FACTS, tenant_id, list(product_ids))
    by_id = {r["product_id"]: r for r in records}
    return [by_id.get(i) for i in product_ids]
