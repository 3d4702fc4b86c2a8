"""Buying and running a subscription: purchase, trial, licenses bought, cancellation, renewal."""

from __future__ import annotations

from functools import partial
from typing import Annotated, cast

import strawberry

from purchasegraph.commerce import purchasing
from purchasegraph.commerce.unit_of_work import Idempotency
from purchasegraph.context import Info
from purchasegraph.described import DescribedEnum, graphql_enum
from purchasegraph.schema.enums import BillingFrequency
from purchasegraph.schema.ids import product_key
from purchasegraph.schema.mutations import (
    KeyArg,
    ProductIdArg,
    SubscriptionIdArg,
    Target,
    change_subscription,
    free_text,
    mutate,
    sent,
    sent_if,
)
from purchasegraph.schema.mutations.billing import CardInput, payment_choice
from purchasegraph.schema.payloads import SubscriptionPayload


@graphql_enum("How a purchase is paid. Self-service purchases are paid by credit card only.")
class PaymentKind(DescribedEnum):
    CREDIT_CARD = "credit_card", "A saved card or a new one."
    INVOICE = "invoice", "Not supported: refused with PAYMENT_METHOD_NOT_SUPPORTED."


@strawberry.input(description="A self-service purchase.")
class PurchaseSubscriptionInput:
    tenant_id: strawberry.ID = strawberry.field(description="Your tenant (UUID or Tenant ID).")
    product_id: strawberry.ID = strawberry.field(description="Commerce product id or Product ID.")
    quantity: int = strawberry.field(description="Licenses, 1-10,000.")
    idempotency_key: str = strawberry.field(
        description="Same key, same request: charged once. 1 to 255 characters (a UUID will do)."
    )
    payment_method_id: strawberry.ID | None = strawberry.field(default=None, description="A saved card of yours.")
    card: CardInput | None = strawberry.field(default=None, description="Or a new card, saved to you.")
    pay_by: PaymentKind = strawberry.field(default=PaymentKind.CREDIT_CARD, description="Credit card only.")
    billing_frequency: BillingFrequency = strawberry.field(
        default=BillingFrequency.MONTHLY, description="Monthly or annual term."
    )


@strawberry.mutation(description="Buy a subscription self-service, paid by credit card.")
async def purchase_subscription(
    info: Info,
    input: Annotated[
        PurchaseSubscriptionInput, strawberry.argument(description="What to buy, for whom, and how to pay.")
    ],
) -> SubscriptionPayload:
    tenant = sent(info, input.tenant_id, "Tenant", "tenantId")
    saved_card = sent_if(info, input.payment_method_id, "PaymentMethod", "paymentMethodId")
    choice = payment_choice(saved_card, input.card, invoice=input.pay_by is PaymentKind.INVOICE)
    product_id = product_key(input.product_id)
    frequency = cast(str, input.billing_frequency.value)
    request = {
        "tenant": str(tenant.key),
        "product": product_id,
        "quantity": input.quantity,
        "payment": choice,
        "frequency": frequency,
    }
    return await mutate(
        info,
        SubscriptionPayload,
        action="subscription.purchase",
        on=Target("Product", product_id, tenant.key),
        refs=[tenant, saved_card],
        operation=lambda work: purchasing.purchase_subscription(
            work, product_id=product_id, quantity=input.quantity, billing_frequency=frequency, payment=choice
        ),
        idempotency=Idempotency(input.idempotency_key, request, "tenant", "tenantId"),
    )


@strawberry.mutation(description="Start the free trial of a product (a card only where the trial needs one).")
async def start_trial(
    info: Info,
    product_id: ProductIdArg,
    payment_method_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="A saved card, where the trial needs one.")
    ] = None,
    card: Annotated[CardInput | None, strawberry.argument(description="Or a new card.")] = None,
) -> SubscriptionPayload:
    saved_card = sent_if(info, payment_method_id, "PaymentMethod", "paymentMethodId")
    choice = payment_choice(saved_card, card)
    key = product_key(product_id)
    return await mutate(
        info,
        SubscriptionPayload,
        action="subscription.start_trial",
        on=Target("Product", key),
        refs=[saved_card],
        operation=partial(purchasing.start_trial, product_id=key, payment=choice),
    )


@strawberry.mutation(description="Buy more licenses of a subscription you govern.")
async def add_licenses(
    info: Info,
    subscription_id: SubscriptionIdArg,
    quantity: Annotated[int, strawberry.argument(description="Licenses to add, 1-10,000; at most 10,000 in all.")],
    idempotency_key: KeyArg,
) -> SubscriptionPayload:
    request = {"subscription": subscription_id, "quantity": quantity}
    return await change_subscription(
        info,
        subscription_id,
        "subscription.add_licenses",
        partial(purchasing.add_licenses, quantity=quantity),
        idempotency=Idempotency(idempotency_key, request, "subscription", "subscriptionId"),
    )


@strawberry.mutation(description="Remove unassigned licenses (refused below the assigned count).")
async def remove_licenses(
    info: Info,
    subscription_id: SubscriptionIdArg,
    quantity: Annotated[
        int, strawberry.argument(description="Licenses to remove; at least one stays, and every assigned one.")
    ],
) -> SubscriptionPayload:
    return await change_subscription(
        info, subscription_id, "subscription.remove_licenses", partial(purchasing.remove_licenses, quantity=quantity)
    )


@strawberry.mutation(description="Cancel a subscription: final (DELETED); its users lose their licenses.")
async def cancel_subscription(
    info: Info,
    subscription_id: SubscriptionIdArg,
    reason: Annotated[str, free_text("Why; shown to the purchaser.")] = "",
) -> SubscriptionPayload:
    return await change_subscription(
        info,
        subscription_id,
        "subscription.cancel",
        partial(purchasing.cancel_subscription, reason=reason),
        texts={"reason": reason},
    )


@strawberry.mutation(
    description=(
        "Bring an EXPIRED or DISABLED subscription back for a new term, billed like a renewal by whoever"
        " controls it: its purchaser (charged to its card), or the admins after a take-over (central price)."
    )
)
async def reactivate_subscription(info: Info, subscription_id: SubscriptionIdArg) -> SubscriptionPayload:
    return await change_subscription(info, subscription_id, "subscription.reactivate", purchasing.reactivate)


@strawberry.mutation(
    description=(
        "Turn automatic renewal of an active subscription on or off: its purchaser, or the admins once it is"
        " central or taken over. Turning it on for a purchaser's subscription needs a card on it."
    )
)
async def set_auto_renew(
    info: Info,
    subscription_id: SubscriptionIdArg,
    auto_renew: Annotated[bool, strawberry.argument(description="True: renews at its term end.")],
) -> SubscriptionPayload:
    return await change_subscription(
        info, subscription_id, "subscription.set_auto_renew", partial(purchasing.set_auto_renew, auto_renew=auto_renew)
    )
