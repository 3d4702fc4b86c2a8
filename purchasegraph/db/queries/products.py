"""The public catalogue: products and their list prices per market and channel."""

from __future__ import annotations

from collections.abc import Sequence

from purchasegraph.db.batch import in_key_order
from purchasegraph.db.executor import Executor, Record

# A product `{p}` sold in market `{market}` (NULL: every product).
SOLD_IN_MARKET = (
    "({market} IS NULL"
    " OR EXISTS (SELECT 1 FROM product_prices pp WHERE pp.product_id = {p}.id AND pp.market = {market}))"
)
# A product `{p}` sold self-service in market `{market}`: it has a self-service list price there.
# The eligibility facts, Product.availability and its compiled form all read this one predicate.
SOLD_SELF_SERVICE_IN_MARKET = (
    "EXISTS (SELECT 1 FROM product_prices sp"
    " WHERE sp.product_id = {p}.id AND sp.market = {market} AND sp.channel = 'self_service')"
)
# The catalogue's order.
ORDER = "{p}.family, {p}.name"

SELECT_PRODUCTS = f"""
SELECT p.id, p.name, p.family, p.self_service, p.trial_available, p.trial_days,
       p.trial_requires_payment_method, p.learn_more_url, p.support_url
  FROM products p
 WHERE {SOLD_IN_MARKET.format(p="p", market="$1::text")}
 ORDER BY {ORDER.format(p="p")}
"""

SELECT_PRODUCTS_BY_ID = """
SELECT p.id, p.name, p.family, p.self_service, p.trial_available, p.trial_days,
       p.trial_requires_payment_method, p.learn_more_url, p.support_url
  FROM products p
 WHERE p.id = ANY($1::text[])
"""

# A price `{pp}` in market `{market}` (NULL = every market), and the order a product's prices come in.
PRICE_IN_MARKET = "({market} IS NULL OR {pp}.market = {market})"
PRICE_ORDER = "{pp}.market, {pp}.channel"

SELECT_PRICES_BY_PRODUCT = f"""
SELECT pp.product_id, pp.market, pp.channel, pp.currency, pp.unit_price
  FROM product_prices pp
 WHERE pp.product_id = ANY($1::text[]) AND {PRICE_IN_MARKET.format(pp="pp", market="$2::text")}
 ORDER BY pp.product_id, {PRICE_ORDER.format(pp="pp")}
"""


SELECT_SOLD_SELF_SERVICE = f"""
SELECT p.id, {SOLD_SELF_SERVICE_IN_MARKET.format(p="p", market="$2::text")} AS sold
  FROM products p
 WHERE p.id = ANY($1::text[])
"""


async def fetch_products(db: Executor, *, market: str | None) -> list[Record]:
    return await db.fetch(SELECT_PRODUCTS, market)


async def fetch_products_by_id(db: Executor, *, ids: Sequence[str]) -> list[Record | None]:
    return in_key_order(await db.fetch(SELECT_PRODUCTS_BY_ID, list(ids)), ids)


async def fetch_prices_by_product(
    db: Executor, *, product_ids: Sequence[str], market: str | None
) -> list[list[Record]]:
    records = await db.fetch(SELECT_PRICES_BY_PRODUCT, list(product_ids), market)
    grouped: dict[str, list[Record]] = {i: [] for i in product_ids}
    for record in records:
        grouped[record["product_id"]].append(record)
    return [grouped[i] for i in product_ids]


async def fetch_sold_self_service(db: Executor, *, product_ids: Sequence[str], market: str) -> list[bool]:
    """Per product id, whether it is sold self-service in ``market`` (False for an unknown id)."""
    records = await db.fetch(SELECT_SOLD_SELF_SERVICE, list(product_ids), market)
    sold = {r["id"]: r["sold"] for r in records}
    return [bool(sold.get(i, False)) for i in product_ids]
