"""``quote``: the price a self-service purchase would charge, asked before checkout."""

from __future__ import annotations

from typing import Annotated, cast

import strawberry

from purchasegraph.commerce import pricing
from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.unit_of_work import Problem
from purchasegraph.context import Info
from purchasegraph.principals import SignedInUser
from purchasegraph.schema.catalogue import Money, ProductKeyArg
from purchasegraph.schema.enums import BillingFrequency
from purchasegraph.schema.ids import encode_id
from purchasegraph.schema.payloads import UserError, user_errors
from purchasegraph.schema.viewer import product_key


@strawberry.type(description="The price a purchase would charge now, in your tenant's currency.")
class Quote:
    product_id: strawberry.ID = strawberry.field(description="The product quoted (Product ID).")
    quantity: int = strawberry.field(description="Licenses quoted.")
    billing_frequency: BillingFrequency = strawberry.field(description="The term quoted.")
    unit_price: Money = strawberry.field(description="Self-service price of one license per month.")
    total: Money = strawberry.field(
        description="What the purchase charges for its first term: every license, every month of the term."
    )


@strawberry.type(description="A quote, or why a purchase of it would be refused.")
class QuoteResult:
    quote: Quote | None = strawberry.field(description="The price; null when `userErrors` says why not.")
    user_errors: list[UserError] = strawberry.field(
        description=(
            "Why there is no quote, with the codes the purchase would refuse with: UNAUTHENTICATED without a"
            " signed-in user, INVALID_QUANTITY, NOT_FOUND for an unknown product, the eligibility codes."
        )
    )


SIGN_IN = Problem(ErrorCode.UNAUTHENTICATED, "Sign in with your work or school account to get a quote.")
NO_USER = Problem(ErrorCode.NOT_AUTHORIZED, "An application buys nothing: a quote is for a signed-in user.")


async def resolve_quote(
    info: Info,
    product_id: ProductKeyArg,
    quantity: Annotated[int, strawberry.argument(description="Licenses, 1-10,000.")],
    billing_frequency: Annotated[
        BillingFrequency, strawberry.argument(description="Monthly or annual term.")
    ] = BillingFrequency.MONTHLY,
) -> QuoteResult:
    viewer = info.context.viewer
    if not isinstance(viewer, SignedInUser):
        return QuoteResult(quote=None, user_errors=user_errors([SIGN_IN if viewer is None else NO_USER]))
    key = product_key(str(product_id))
    answer = await pricing.quote(
        info.context.db,
        scope=info.context.scope_of(viewer.tenant_id),
        buyer=viewer,
        product_id=key,
        quantity=quantity,
        billing_frequency=cast(str, billing_frequency.value),
    )
    if isinstance(answer, tuple):
        return QuoteResult(quote=None, user_errors=user_errors(answer))
    quote = Quote(
        product_id=strawberry.ID(encode_id("Product", answer.product_id)),
        quantity=answer.quantity,
        billing_frequency=billing_frequency,
        unit_price=Money(amount=answer.unit_price, currency=answer.currency),
        total=Money(amount=answer.total, currency=answer.currency),
    )
    return QuoteResult(quote=quote, user_errors=[])
