"""What a purchase costs: one computation, used by the purchase itself and by its quote."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from purchasegraph.commerce.buyers import refuse_for
from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.records import MONTHS_PER_TERM, require, require_quantity
from purchasegraph.commerce.unit_of_work import Problem, Refusal, refuse
from purchasegraph.db.executor import Executor
from purchasegraph.db.queries.eligibility import SELECT_ELIGIBILITY_FACTS
from purchasegraph.eligibility import assess, facts_from
from purchasegraph.policy import Scope, may_buy
from purchasegraph.principals import SignedInUser


def term_price(unit_price: Decimal, quantity: int, billing_frequency: str) -> Decimal:
    """A whole term of ``quantity`` licenses: prices are per license per month, a term is one
    billing period (a month, or a year of twelve)."""
    return unit_price * quantity * MONTHS_PER_TERM[billing_frequency]


@dataclass(frozen=True)
class Quote:
    """The price a purchase of ``quantity`` licenses would charge now, in the buyer's currency."""

    product_id: str
    quantity: int
    billing_frequency: str
    unit_price: Decimal
    total: Decimal
    currency: str


async def quote(
    db: Executor, *, scope: Scope, buyer: SignedInUser, product_id: str, quantity: int, billing_frequency: str
) -> Quote | tuple[Problem, ...]:
    """What ``purchase_subscription`` would charge this buyer, read with the facts and the price it
    reads (``buyers``) and computed by ``term_price``; where the purchase would be refused, the
    same codes. Nothing is locked or written: a quote promises nothing."""
    try:
        require_quantity(quantity)
        require(may_buy(scope), "tenant", "tenantId")
        # The purchase's own statement (it locks nothing itself: the purchase locks the buyer's row).
        row = await db.fetchrow(SELECT_ELIGIBILITY_FACTS, scope.tenant_id, [product_id])
        if row is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such product.", "productId")
        assessment = assess(facts_from(row, is_guest=buyer.is_guest, account_enabled=buyer.can_sign_in))
        if not assessment.eligible:
            raise refuse_for(assessment.reasons, "Contact your IT admin for help.")
    except Refusal as refusal:
        return refusal.problems
    unit_price: Decimal = row["unit_price"]
    total = term_price(unit_price, quantity, billing_frequency)
    return Quote(product_id, quantity, billing_frequency, unit_price, total, row["currency"])
