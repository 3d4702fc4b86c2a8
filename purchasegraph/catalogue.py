"""The catalogue every deployment ships: the products sold self-service, their list prices per
market, and where a buyer learns more and gets support.

This module and the table it reads, ``catalogue.toml``, are the one source of truth: migration
``0019_shipped_catalogue.sql`` was generated from them (and stays fixed, as applied migrations do),
the demo seed reads their product ids and prices, and ``tests/test_catalogue.py`` holds a freshly
migrated database to exactly these rows. A later change of the catalogue is a new migration and a
change here, together. The ids below name the products the code and the tests refer to.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

# Real ids from the MSCommerce product list (Get-MSCommerceProductPolicies).
POWER_APPS_PER_USER = "CFQ7TTC0LH2H"
POWER_AUTOMATE_PER_USER = "CFQ7TTC0LH3L"
POWER_AUTOMATE_RPA = "CFQ7TTC0LSGZ"
POWER_BI_PREMIUM = "CFQ7TTC0H6RP"
POWER_BI_PRO = "CFQ7TTC0H9MP"
PROJECT_PLAN_3 = "CFQ7TTC0HDB0"
VISIO_PLAN_1 = "CFQ7TTC0HD33"
VISIO_PLAN_2 = "CFQ7TTC0HD32"


@dataclass(frozen=True)
class FamilySite:
    """Where the FAQ sends a buyer: the product's website (training, guided learning, community)
    and Microsoft's standard support, which self-service purchasers get."""

    learn_more_url: str
    support_url: str


FAMILY_SITES: dict[str, FamilySite] = {
    "power_apps": FamilySite(
        "https://www.microsoft.com/power-platform/products/power-apps",
        "https://powerapps.microsoft.com/support/",
    ),
    "power_automate": FamilySite(
        "https://www.microsoft.com/power-platform/products/power-automate",
        "https://powerautomate.microsoft.com/support/",
    ),
    "power_bi": FamilySite(
        "https://www.microsoft.com/power-platform/products/power-bi",
        "https://powerbi.microsoft.com/support/",
    ),
    "project": FamilySite(
        "https://www.microsoft.com/microsoft-365/project/project-management-software",
        "https://support.microsoft.com/project",
    ),
    "visio": FamilySite(
        "https://www.microsoft.com/microsoft-365/visio/flowchart-software",
        "https://support.microsoft.com/visio",
    ),
}


@dataclass(frozen=True)
class CatalogueProduct:
    id: str
    name: str
    family: str
    trial_days: int | None = None
    trial_requires_payment_method: bool = True
    self_service: bool = True

    @property
    def trial_available(self) -> bool:
        return self.trial_days is not None

    @property
    def site(self) -> FamilySite:
        return FAMILY_SITES[self.family]


# The Democratic Republic of the Congo is billed in US dollars.
MARKET_CURRENCY = {"US": "USD", "DE": "EUR", "GB": "GBP", "BR": "BRL", "IN": "INR", "CD": "USD"}

# A market with no price for a product does not sell it; the self-service price may differ from the
# central one.
Prices = dict[str, tuple[str, str]]  # market -> (self-service, central), per license per month


def _read_catalogue() -> tuple[tuple[CatalogueProduct, ...], dict[str, Prices]]:
    """The products and their prices, as ``catalogue.toml`` (shipped beside this module) lists them."""
    listed = tomllib.loads(resources.files("purchasegraph").joinpath("catalogue.toml").read_text(encoding="utf-8"))
    products, prices = [], {}
    for entry in listed["products"]:
        market_prices = entry.pop("prices")
        prices[entry["id"]] = {market: (pair[0], pair[1]) for market, pair in market_prices.items()}
        products.append(CatalogueProduct(**entry))
    return tuple(products), prices


PRODUCTS, PRICES = _read_catalogue()

# The Democratic Republic of the Congo buys at the US list prices, in US dollars (migration 0024);
# Project and Visio are not sold there, so they have no CD price at all.
for _product in (POWER_APPS_PER_USER, POWER_AUTOMATE_PER_USER, POWER_AUTOMATE_RPA, POWER_BI_PREMIUM, POWER_BI_PRO):
    PRICES[_product]["CD"] = PRICES[_product]["US"]


@dataclass(frozen=True)
class CataloguePrice:
    product_id: str
    market: str
    channel: str
    currency: str
    unit_price: Decimal


def list_price(product_id: str, market: str, channel: str) -> Decimal:
    """The list price per license per month of a product in a market, for a channel."""
    self_service, central = PRICES[product_id][market]
    return Decimal(self_service if channel == "self_service" else central)


def price_rows() -> list[CataloguePrice]:
    """Every price, self-service then central per market, in the order of ``PRODUCTS``."""
    rows = []
    for product in PRODUCTS:
        for market in PRICES[product.id]:
            for channel in ("self_service", "central"):
                rows.append(
                    CataloguePrice(
                        product.id, market, channel, MARKET_CURRENCY[market], list_price(product.id, market, channel)
                    )
                )
    return rows
