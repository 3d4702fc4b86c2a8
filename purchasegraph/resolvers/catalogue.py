"""The public catalogue: the same for every caller, token or not."""

from __future__ import annotations

from purchasegraph import eligibility
from purchasegraph.checkout import CheckoutAnswer, check_before_sign_in
from purchasegraph.context import Info
from purchasegraph.db.executor import Record
from purchasegraph.db.queries import products
from purchasegraph.eligibility import MarketFacts, Reason


async def products_in_market(info: Info, market: str | None) -> list[Record]:
    return await products.fetch_products(info.context.db, market=market)


async def product(info: Info, product_id: str) -> Record | None:
    return await info.context.loaders.product().load(product_id)


async def prices(info: Info, product_id: str, market: str | None) -> list[Record]:
    return await info.context.loaders.prices(market).load(product_id)


async def market_reasons(
    info: Info, *, product_id: str, family: str, self_service: bool, market: str
) -> tuple[Reason, ...]:
    """Why no one in ``market`` may buy the product self-service (empty: they may), by the
    eligibility module's market rules."""
    sold = await info.context.loaders.sold_self_service(market).load(product_id)
    facts = MarketFacts(
        market=market,
        product_family=family,
        product_self_service=self_service,
        sold_in_market=sold,
    )
    return eligibility.market_reasons(facts)


async def checkout_eligibility(info: Info, email: str, product_id: str) -> CheckoutAnswer:
    """Before sign-in: the catalogue and the address only, never the directory."""
    product = await info.context.loaders.product().load(product_id)
    sold = product is not None and bool(product["self_service"])
    return check_before_sign_in(email, product_sold_self_service=sold)
