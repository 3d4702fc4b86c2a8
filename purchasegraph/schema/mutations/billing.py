"""Paying: the cards a user saves and removes, the card a subscription bills, invoices paid."""

from __future__ import annotations

from typing import Annotated

import strawberry

from purchasegraph.commerce import billing
from purchasegraph.commerce.billing import PaymentChoice
from purchasegraph.commerce.unit_of_work import Idempotency
from purchasegraph.context import Info
from purchasegraph.payments import CardDetails
from purchasegraph.schema.ids import Ref
from purchasegraph.schema.mutations import KeyArg, SubscriptionIdArg, Target, mutate, sent, sent_if
from purchasegraph.schema.payloads import (
    InvoicePayload,
    PaymentMethodPayload,
    RemovePaymentMethodPayload,
    SubscriptionPayload,
)


@strawberry.input(description="A credit card. Its number and CVC go to the payment processor only; never stored.")
class CardInput:
    number: str = strawberry.field(description="Card number (sandbox: 4242424242424242 approves).")
    exp_month: int = strawberry.field(description="Expiry month, 1-12.")
    exp_year: int = strawberry.field(description="Expiry year, four digits.")
    cvc: str = strawberry.field(description="Security code.")

    def details(self) -> CardDetails:
        return CardDetails(number=self.number, exp_month=self.exp_month, exp_year=self.exp_year, cvc=self.cvc)


def payment_choice(saved_card: Ref | None, card: CardInput | None = None, *, invoice: bool = False) -> PaymentChoice:
    """How the caller pays. A saved card's id that names none leaves it out here, harmlessly: such
    a mutation is refused as not found before anything pays."""
    return PaymentChoice(
        payment_method_id=saved_card.key if saved_card else None,
        card=card.details() if card else None,
        invoice=invoice,
    )


@strawberry.mutation(description="Save a credit card to pay with (brand, last 4 and expiry are kept).")
async def add_payment_method(
    info: Info, card: Annotated[CardInput, strawberry.argument(description="The card to save.")]
) -> PaymentMethodPayload:
    details = card.details()
    return await mutate(
        info,
        PaymentMethodPayload,
        action="payment_method.add",
        on=Target("PaymentMethod", "new"),
        operation=lambda work: billing.add_payment_method(work, card=details),
    )


@strawberry.mutation(description="Bill a subscription of yours to another of your cards.")
async def update_subscription_payment_method(
    info: Info,
    subscription_id: SubscriptionIdArg,
    payment_method_id: Annotated[strawberry.ID, strawberry.argument(description="A card of yours.")],
) -> SubscriptionPayload:
    subscription = sent(info, subscription_id, "Subscription", "subscriptionId")
    saved_card = sent(info, payment_method_id, "PaymentMethod", "paymentMethodId")
    return await mutate(
        info,
        SubscriptionPayload,
        action="subscription.update_payment_method",
        on=subscription,
        refs=[saved_card],
        operation=lambda work: billing.update_subscription_payment_method(
            work, subscription_id=subscription.id, payment_method_id=saved_card.id
        ),
    )


@strawberry.mutation(description="Pay an invoice billed to you.")
async def pay_invoice(
    info: Info,
    invoice_id: Annotated[strawberry.ID, strawberry.argument(description="The invoice (Invoice ID).")],
    idempotency_key: KeyArg,
    payment_method_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Another card of yours; default the subscription's."),
    ] = None,
) -> InvoicePayload:
    invoice = sent(info, invoice_id, "Invoice", "invoiceId")
    saved_card = sent_if(info, payment_method_id, "PaymentMethod", "paymentMethodId")
    choice = payment_choice(saved_card)
    return await mutate(
        info,
        InvoicePayload,
        action="invoice.pay",
        on=invoice,
        refs=[saved_card],
        operation=lambda work: billing.pay_invoice(work, invoice_id=invoice.id, payment=choice),
        idempotency=Idempotency(
            idempotency_key, {"invoice": str(invoice.key), "payment": choice}, "invoice", "invoiceId"
        ),
    )


@strawberry.mutation(
    description=(
        "Remove a card of yours. Refused (PAYMENT_METHOD_IN_USE) while it pays a subscription that is not"
        " canceled, unless `replacementPaymentMethodId` names another card of yours: every such subscription"
        " then moves to it, in the same transaction."
    )
)
async def remove_payment_method(
    info: Info,
    payment_method_id: Annotated[strawberry.ID, strawberry.argument(description="The card to remove.")],
    replacement_payment_method_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Another card of yours that takes over what the removed one pays."),
    ] = None,
) -> RemovePaymentMethodPayload:
    removed = sent(info, payment_method_id, "PaymentMethod", "paymentMethodId")
    replacement = sent_if(info, replacement_payment_method_id, "PaymentMethod", "replacementPaymentMethodId")
    return await mutate(
        info,
        RemovePaymentMethodPayload,
        action="payment_method.remove",
        on=removed,
        refs=[replacement],
        operation=lambda work: billing.remove_payment_method(
            work, payment_method_id=removed.id, replacement_id=replacement.id if replacement else None
        ),
    )
