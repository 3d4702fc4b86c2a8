"""``checkoutEligibility``: the anonymous first step of checkout, before sign-in."""

from __future__ import annotations

import strawberry

from purchasegraph.checkout import CheckoutAnswer
from purchasegraph.schema.enums import CheckoutEligibilityReason


@strawberry.type(
    description="What can be told of a checkout before sign-in, from the public catalogue and the email "
    "address alone: never anything about the address's organization, known or not."
)
class CheckoutEligibility:
    can_continue: bool = strawberry.field(
        description="True when nothing known before sign-in blocks: the next step is signing in "
        "(reasons is then SIGN_IN_REQUIRED alone)."
    )
    reasons: list[CheckoutEligibilityReason] = strawberry.field(  # type: ignore[valid-type]
        description="Every reason known before sign-in, or SIGN_IN_REQUIRED alone: after sign-in "
        "`viewer.eligibility` gives the full answer."
    )
    message: str = strawberry.field(description="What to tell the buyer.")

    @classmethod
    def from_answer(cls, answer: CheckoutAnswer) -> CheckoutEligibility:
        return cls(can_continue=answer.can_continue, reasons=list(answer.reasons), message=answer.message)
