"""The public catalogue: products and list prices, visible to everyone."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Protocol

import strawberry

from purchasegraph.context import Info
from purchasegraph.db.executor import Record
from purchasegraph.resolvers import catalogue
from purchasegraph.schema.enums import EligibilityReason, ProductFamily, SubscriptionChannel
from purchasegraph.schema.ids import encode_id
from purchasegraph.schema.node import Node
from purchasegraph.schema.rows import FromRow, from_columns

# A product named by its commerce id (CFQ7TTC0H9MP) or its global ID; ``ids.product_key`` reads it.
ProductKeyArg = Annotated[strawberry.ID, strawberry.argument(description="Commerce product id or Product ID.")]


@strawberry.type(description="An amount of money in a currency.")
class Money:
    amount: Decimal = strawberry.field(description="Decimal amount, as a string to keep every cent.")
    currency: str = strawberry.field(description="ISO 4217 currency code.")

    @classmethod
    def from_column(cls, row: Record, column: str) -> Money:
        """An amount column of a row, in the row's ``currency``."""
        return cls(amount=row[column], currency=row["currency"])


@strawberry.type(description="List price of one license per month in a market, for one channel.")
class ProductPrice(FromRow):
    market: str = strawberry.field(description="ISO 3166 alpha-2 country code.")
    channel: SubscriptionChannel = strawberry.field(description="Self-service and central prices may differ.")
    unit_price: Money = strawberry.field(description="Per license per month.")


@strawberry.type(description="Whether anyone in a market may buy a product self-service, and if not, why.")
class ProductAvailability:
    market: str = strawberry.field(description="The market asked about (ISO 3166 alpha-2, upper case).")
    available: bool = strawberry.field(
        description="True when self-service purchase of the product is open in the market; the buyer's "
        "organization and its policy still decide (`viewer.eligibility`)."
    )
    reasons: list[EligibilityReason] = strawberry.field(  # type: ignore[valid-type]
        description="Why not, with the codes of `viewer.eligibility` and the purchase mutations: "
        "MARKET_NOT_ELIGIBLE (no self-service purchase in the market, e.g. India) or "
        "PRODUCT_NOT_AVAILABLE_IN_MARKET (e.g. Project and Visio in Brazil and the Democratic Republic "
        "of the Congo, or no self-service price there); empty when available."
    )


@strawberry.type(description="A product that can be bought self-service or centrally.")
class Product(Node, FromRow):
    product_id: str = strawberry.field(description="The commerce product id, e.g. CFQ7TTC0H9MP (Power BI Pro).")
    name: str = strawberry.field(description="Display name.")
    family: ProductFamily = strawberry.field(description="Product family.")
    self_service: bool = strawberry.field(description="Offered for self-service purchase at all.")
    trial_available: bool = strawberry.field(description="A free trial can be started.")
    trial_days: int | None = strawberry.field(description="Length of the trial in days.")
    trial_requires_payment_method: bool = strawberry.field(
        description="Whether starting the trial needs a credit card."
    )
    learn_more_url: str = strawberry.field(
        description="The product's website: training, guided learning, documentation and community."
    )
    support_url: str = strawberry.field(
        description="Microsoft's standard support for the product, which self-service purchasers get "
        "(their IT department and partners aren't expected to support it)."
    )

    @classmethod
    def from_row(cls, row: Record) -> Product:
        return from_columns(cls, row, id=strawberry.ID(encode_id("Product", row["id"])), product_id=row["id"])

    @strawberry.field(description="List prices per license per month, per market and channel.")
    async def prices(
        self,
        info: Info,
        market: Annotated[str | None, strawberry.argument(description="Only this market (ISO 3166 alpha-2).")] = None,
    ) -> list[ProductPrice]:
        rows = await catalogue.prices(info, self.product_id, market.upper() if market else None)
        return [ProductPrice.from_row(r) for r in rows]

    @strawberry.field(
        description="Whether self-service purchase of this product is open in a market, by the rules of "
        "`viewer.eligibility` that depend on the market alone. The list prices stay listed where it is "
        "not (India's are those of central purchases)."
    )
    async def availability(
        self,
        info: Info,
        market: Annotated[str, strawberry.argument(description="A market (ISO 3166 alpha-2).")],
    ) -> ProductAvailability:
        where = market.upper()
        reasons = await catalogue.market_reasons(
            info,
            product_id=self.product_id,
            family=str(self.family.value),
            self_service=self.self_service,
            market=where,
        )
        return ProductAvailability(market=where, available=not reasons, reasons=list(reasons))


async def load_product(info: Info, product_id: str) -> Product | None:
    return Product.found(await catalogue.product(info, product_id))


async def referenced_product(info: Info, product_id: str) -> Product:
    """The product a row references by foreign key: the catalogue is public, so it is always there."""
    product = await load_product(info, product_id)
    assert product is not None, "a product referenced by a foreign key exists"
    return product


class _ReferencesProduct(Protocol):
    product_id: str


def product_field(description: str) -> Any:
    """The ``product`` field of an object whose row references a product by ``product_id``."""

    async def product(self: _ReferencesProduct, info: Info) -> Product:
        return await referenced_product(info, self.product_id)

    return strawberry.field(resolver=product, description=description)
