"""The public catalogue: products and their list prices per market and channel."""

from __future__ import annotations

from collections.abc import Sequence

from purchasegraph.db.executor import Executor, Record

SELECT_PRODUCTS = """
SELECT p.id, p.name, p.family, p.self_service, p.trial_available, p.trial_days,
       p.trial_requires_payment_method
  FROM products p
 WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM product_prices pp
                                     WHERE pp.product_id = p.id AND pp.market = $1::text))
 ORDER BY p.family, p.name
"""

SELECT_PRODUCTS_BY_ID = """
SELECT p.id, p.name, p.family, p.self_service, p.trial_available, p.trial_days,
       p.trial_requires_payment_method
  FROM products p
 WHERE p.id = ANY($1::text[])
"""

# $2 market (NULL = every market).
SELECT_PRICES_BY_PRODUCT = """
SELECT pp.product_id, pp.market, pp.channel, pp.currency, pp.unit_price
  FROM product_prices pp
 WHERE pp.product_id = ANY($1::text[]) AND ($2::text IS NULL OR pp.market = $2::text)
 ORDER BY pp.product_id, pp.market, pp.channel
"""


async def fetch_products(db: Executor, *, market: str | None) -> list[Record]:
    return await db.fetch(SELECT_PRODUCTS, market)


async def fetch_products_by_id(db: Executor, *, ids: Sequence[str]) -> list[Record | None]:
    records = await db.fetch(SELECT_PRODUCTS_BY_ID, list(ids))
    by_id = {r["id"]: r for r in records}
    return [by_id.get(i) for i in ids]


async def fetch_prices_by_product(
    db: Executor, *, product_ids: Sequence[str], market: str | None
) -> list[list[Record]]:
    records = await db.fetch(SELECT_PRICES_BY_PRODUCT, list(product_ids), market)
    grouped: dict[str, list[Record]] = {i: [] for i in product_ids}
    for record in records:
        grouped[record["product_id"]].append(record)
    return [grouped[i] for i in product_ids]
