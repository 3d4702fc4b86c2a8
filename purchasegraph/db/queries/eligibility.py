"""The facts self-service eligibility is decided on, for many products in one statement: the one
statement of them, read by the playground's check (``viewer.eligibility``), by a quote, by a purchase
and by a license request, so that none of them can decide on other facts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db.executor import Executor, Record

# $1 the tenant, $2 the product ids. With each product its self-service price in the tenant's
# market; a product has none where it is not sold self-service there. It locks nothing: a purchase
# locks its buyer's row (commerce/buyers.py) before deciding on these facts.
SELECT_ELIGIBILITY_FACTS = """
SELECT p.id AS product_id, p.name AS product_name, p.family, p.self_service, p.trial_available,
       p.trial_days, p.trial_requires_payment_method,
       t.managed, t.organization_type, t.country,
       COALESCE(ssp.value, 'enabled') AS policy,
       pp.unit_price, pp.currency, pp.unit_price IS NOT NULL AS sold_in_market
  FROM tenants t
 CROSS JOIN products p
  LEFT JOIN self_service_policies ssp ON ssp.tenant_id = t.id AND ssp.product_id = p.id
  LEFT JOIN product_prices pp ON pp.product_id = p.id AND pp.market = t.country AND pp.channel = 'self_service'
 WHERE t.id = $1 AND p.id = ANY($2::text[])
"""


async def fetch_eligibility_facts(
    db: Executor, *, tenant_id: uuid.UUID, product_ids: Sequence[str]
) -> list[Record | None]:
    records = await db.fetch(SELECT_ELIGIBILITY_FACTS, tenant_id, list(product_ids))
    by_id = {r["product_id"]: r for r in records}
    return [by_id.get(i) for i in product_ids]
