"""The public catalogue: the same for every caller, token or not."""

from __future__ import annotations

from purchasegraph.context import Info
from purchasegraph.db.executor import Record
from purchasegraph.db.queries import products


async def products_in_market(info: Info, market: str | None) -> list[Record]:
    return await products.fetch_products(info.context.db, market=market)


async def product(info: Info, product_id: str) -> Record | None:
    return await info.context.loaders.product().load(product_id)


async def prices(info: Info, product_id: str, market: str | None) -> list[Record]:
    return await info.context.loaders.prices(market).load(product_id)
