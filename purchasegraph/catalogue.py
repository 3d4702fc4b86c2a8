"""The catalogue every deployment ships: the products sold self-service, their list prices per
market, and where a buyer learns more and gets support.

This module is the one source of truth: migration ``0019_shipped_catalogue.sql`` was generated
from it (and stays fixed, as applied migrations do), the demo seed reads its product ids and
prices, and ``tests/test_catalogue.py`` holds a freshly migrated database to exactly these rows.
A later change of the catalogue is a new migration and a change here, together.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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


PRODUCTS: tuple[CatalogueProduct, ...] = (
    CatalogueProduct(POWER_APPS_PER_USER, "Power Apps per user", "power_apps"),
    CatalogueProduct(POWER_AUTOMATE_PER_USER, "Power Automate per user", "power_automate"),
    CatalogueProduct(POWER_AUTOMATE_RPA, "Power Automate per user with attended RPA", "power_automate"),
    CatalogueProduct(POWER_BI_PREMIUM, "Power BI Premium per user", "power_bi"),
    CatalogueProduct(POWER_BI_PRO, "Power BI Pro", "power_bi", trial_days=60),
    CatalogueProduct(PROJECT_PLAN_3, "Project Plan 3", "project"),
    CatalogueProduct(VISIO_PLAN_1, "Visio Plan 1", "visio", trial_days=30, trial_requires_payment_method=False),
    CatalogueProduct(VISIO_PLAN_2, "Visio Plan 2", "visio"),
)

# The Democratic Republic of the Congo is billed in US dollars.
MARKET_CURRENCY = {"US": "USD", "DE": "EUR", "GB": "GBP", "BR": "BRL", "IN": "INR", "CD": "USD"}

# Per license per month, (self-service, central). Project and Visio are not sold self-service
# in Brazil, so they have no BR price at all. India has list prices (central purchases),
# though no one there may buy self-service: ``Product.availability`` says so.
PRICES: dict[str, dict[str, tuple[str, str]]] = {
    POWER_APPS_PER_USER: {
        "US": ("20.00", "19.00"),
        "DE": ("18.70", "17.80"),
        "GB": ("15.10", "14.40"),
        "BR": ("105.00", "100.00"),
        "IN": ("1670.00", "1590.00"),
    },
    POWER_AUTOMATE_PER_USER: {
        "US": ("15.00", "15.00"),
        "DE": ("14.00", "14.00"),
        "GB": ("11.30", "11.30"),
        "BR": ("78.80", "78.80"),
        "IN": ("1250.00", "1250.00"),
    },
    POWER_AUTOMATE_RPA: {
        "US": ("40.00", "40.00"),
        "DE": ("37.40", "37.40"),
        "GB": ("30.20", "30.20"),
        "BR": ("210.00", "210.00"),
        "IN": ("3340.00", "3340.00"),
    },
    POWER_BI_PREMIUM: {
        "US": ("20.00", "20.00"),
        "DE": ("18.70", "18.70"),
        "GB": ("15.10", "15.10"),
        "BR": ("105.00", "105.00"),
        "IN": ("1670.00", "1670.00"),
    },
    POWER_BI_PRO: {
        "US": ("10.00", "9.99"),
        "DE": ("9.40", "9.00"),
        "GB": ("7.50", "7.20"),
        "BR": ("52.50", "50.00"),
        "IN": ("835.00", "800.00"),
    },
    PROJECT_PLAN_3: {
        "US": ("30.00", "28.50"),
        "DE": ("28.10", "26.70"),
        "GB": ("22.60", "21.50"),
        "IN": ("2505.00", "2380.00"),
    },
    VISIO_PLAN_1: {
        "US": ("5.00", "5.00"),
        "DE": ("4.70", "4.70"),
        "GB": ("3.80", "3.80"),
        "IN": ("420.00", "420.00"),
    },
    VISIO_PLAN_2: {
        "US": ("15.00", "14.25"),
        "DE": ("14.00", "13.30"),
        "GB": ("11.30", "10.70"),
        "IN": ("1250.00", "1190.00"),
    },
}


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
