"""``purchasegraph catalogue``: the catalogue a database holds, as text or JSON.

It reads the database (what this deployment sells), not ``purchasegraph.catalogue`` (what the
migration shipped), through the queries the API's ``products`` runs; with a market, each product
says whether self-service purchase is open there, by the eligibility module's market rules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.queries.products import fetch_prices_by_product, fetch_products, fetch_sold_self_service
from purchasegraph.eligibility import MarketFacts, market_reasons


@dataclass(frozen=True)
class ListedPrice:
    market: str
    currency: str
    self_service: str | None
    central: str | None


@dataclass(frozen=True)
class ListedProduct:
    product_id: str
    name: str
    family: str
    trial_days: int | None
    trial_requires_payment_method: bool
    learn_more_url: str
    support_url: str
    prices: list[ListedPrice]
    # Only with a market: the reason codes why it is not sold self-service there (empty: it is).
    not_available_because: list[str] | None


# The columns of a product the listing shows as they are.
_AS_STORED = ("name", "family", "trial_days", "trial_requires_payment_method", "learn_more_url", "support_url")


async def read_catalogue(db: Executor, *, market: str | None) -> list[ListedProduct]:
    products = await fetch_products(db, market=market)
    ids = [p["id"] for p in products]
    prices = await fetch_prices_by_product(db, product_ids=ids, market=market)
    sold = await fetch_sold_self_service(db, product_ids=ids, market=market) if market is not None else None
    listing = []
    for position, (product, rows) in enumerate(zip(products, prices, strict=True)):
        reasons = None
        if market is not None and sold is not None:
            facts = MarketFacts(
                market=market,
                product_family=product["family"],
                product_self_service=product["self_service"],
                sold_in_market=sold[position],
            )
            reasons = [reason.name for reason in market_reasons(facts)]
        listing.append(
            ListedProduct(
                product_id=product["id"],
                **{column: product[column] for column in _AS_STORED},
                prices=_listed_prices(rows),
                not_available_because=reasons,
            )
        )
    return listing


def _listed_prices(rows: list[Record]) -> list[ListedPrice]:
    """One line a market, its self-service and central prices side by side."""
    by_market: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_market.setdefault(row["market"], {"currency": row["currency"]})
        entry[row["channel"]] = str(row["unit_price"])
    return [
        ListedPrice(m, e["currency"], e.get("self_service"), e.get("central")) for m, e in sorted(by_market.items())
    ]


def as_json(listing: list[ListedProduct]) -> list[dict[str, Any]]:
    return [asdict(product) for product in listing]


def as_text(listing: list[ListedProduct]) -> str:
    lines = []
    for p in listing:
        trial = ""
        if p.trial_days is not None:
            card = "card needed" if p.trial_requires_payment_method else "no card"
            trial = f"  trial {p.trial_days} days ({card})"
        lines.append(f"{p.product_id}  {p.name}  [{p.family}]{trial}")
        if p.not_available_because is not None:
            why = ", ".join(p.not_available_because)
            lines.append(f"    self-service: {'available' if not why else 'not available (' + why + ')'}")
        for price in p.prices:
            lines.append(
                f"    {price.market} {price.currency}  self-service {price.self_service or '-':>9}"
                f"  central {price.central or '-':>9}  per license per month"
            )
        lines.append(f"    learn more {p.learn_more_url}")
        lines.append(f"    support    {p.support_url}")
    return "\n".join(lines) + "\n" if lines else ""
