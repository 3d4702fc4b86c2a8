"""Cards and bills: the purchaser pays for what they bought, and self-service is paid by credit
card only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from purchasegraph.commerce.buyers import product_for_buyer, refuse_for
from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.records import lock_subscription, require
from purchasegraph.commerce.unit_of_work import Work, refuse
from purchasegraph.payments import CardDetails, InvalidCard, card_problem
from purchasegraph.policy import INVOICE_VISIBLE, PAYMENT_METHOD_VISIBLE, may_buy, may_handle_billing

INSERT_PAYMENT_METHOD = """
INSERT INTO payment_methods (tenant_id, id, owner_user_id, kind, brand, last4, exp_month, exp_year,
                             processor_token, created_at)
VALUES ($1, $2, $3, 'credit_card', $4, $5, $6, $7, $8, app_now())
"""
# Only the owner's own, live cards: anyone else's card id is simply not found.
# Shared-locked: a card being removed (which locks it FOR UPDATE) is waited for, then not found.
SELECT_OWN_PAYMENT_METHOD = """
SELECT id, processor_token, card_expired(exp_year, exp_month) AS expired FROM payment_methods
 WHERE tenant_id = $1 AND id = $2 AND owner_user_id = $3 AND removed_at IS NULL
   FOR SHARE
"""
# The card to remove as far as the viewer may see it: its owner's own, not yet removed.
SELECT_PAYMENT_METHOD_TO_REMOVE = f"""
SELECT pm.id, pm.owner_user_id FROM payment_methods pm
 WHERE pm.tenant_id = $1 AND pm.id = $2 AND pm.removed_at IS NULL
   AND {PAYMENT_METHOD_VISIBLE.format(pm="pm", viewer="$3::uuid")}
"""
# The owner's cards of a removal (the one removed and the one taking over), locked in id order.
# Every operation on a card locks the subscriptions first, then the card (a purchase, addLicenses
# and reactivation lock a subscription and then read its card FOR SHARE): a removal does the same,
# or it deadlocked with them, and with a second removal naming the first card as its replacement.
LOCK_OWN_CARDS = """
SELECT id FROM payment_methods WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND owner_user_id = $3
 ORDER BY id FOR UPDATE
"""
# What a card still pays: every subscription on it that is not DELETED. A trial with a card
# converts on it, an active one renews on it, an expired or disabled one is reactivated on it and
# a cancellation settles its open bills on it; only DELETED is final.
LOCK_SUBSCRIPTIONS_PAID_BY = """
SELECT s.id FROM subscriptions s
 WHERE s.tenant_id = $1 AND s.payment_method_id = $2 AND effective_status(s) <> 'deleted'
 ORDER BY s.id
   FOR UPDATE
"""
MOVE_SUBSCRIPTIONS_TO_CARD = """
UPDATE subscriptions SET payment_method_id = $3 WHERE tenant_id = $1 AND id = ANY($2::uuid[])
"""
REMOVE_PAYMENT_METHOD = "UPDATE payment_methods SET removed_at = app_now() WHERE tenant_id = $1 AND id = $2"
# Expiry on the app clock's date, as every date rule (migration 0009).
SELECT_CARD_EXPIRED = "SELECT card_expired($1, $2)"
SET_SUBSCRIPTION_PAYMENT_METHOD = """
UPDATE subscriptions SET payment_method_id = $3 WHERE tenant_id = $1 AND id = $2
"""
# The invoice as far as the viewer may read it, locked: two payments of one bill take turns.
LOCK_INVOICE = f"""
SELECT i.id, i.subscription_id, i.amount, i.currency, i.status, i.billed_user_id, s.payment_method_id
  FROM invoices i
  JOIN subscriptions s ON s.tenant_id = i.tenant_id AND s.id = i.subscription_id
 WHERE i.tenant_id = $1 AND i.id = $2
   AND {INVOICE_VISIBLE.format(i="i", whole="$3::bool", viewer="$4::uuid")}
   FOR UPDATE OF i
"""
MARK_INVOICE_PAID = "UPDATE invoices SET status = 'paid', paid_at = app_now() WHERE tenant_id = $1 AND id = $2"


@dataclass(frozen=True)
class PaymentChoice:
    """How the caller pays: a saved card, a new card, or (refused) an invoice."""

    payment_method_id: uuid.UUID | None = None
    card: CardDetails | None = None
    invoice: bool = False


@dataclass(frozen=True)
class ChosenCard:
    payment_method_id: uuid.UUID
    token: str


async def save_card(work: Work, card: CardDetails, field: str = "card") -> ChosenCard:
    """Checked at the door (what cannot be a card, what has expired), then tokenized with the
    processor; only what it hands back is kept."""
    problem = card_problem(card)
    if problem is not None:
        raise refuse(ErrorCode.INVALID_CARD, f"The card was not accepted: {problem}.", field)
    if await work.conn.fetchval(SELECT_CARD_EXPIRED, card.exp_year, card.exp_month):
        raise refuse(ErrorCode.CARD_EXPIRED, "The card has expired. Use another card.", field)
    try:
        token = await work.processor.tokenize(card)
    except InvalidCard as exc:
        raise refuse(ErrorCode.INVALID_CARD, f"The card was not accepted: {exc}.", field) from exc
    payment_method_id = uuid.uuid4()
    await work.conn.execute(
        INSERT_PAYMENT_METHOD,
        work.scope.tenant_id,
        payment_method_id,
        work.viewer.user_id,
        token.brand,
        token.last4,
        token.exp_month,
        token.exp_year,
        token.token,
    )
    return ChosenCard(payment_method_id, token.token)


async def own_card(work: Work, payment_method_id: uuid.UUID, field: str = "paymentMethodId") -> ChosenCard:
    row = await work.conn.fetchrow(
        SELECT_OWN_PAYMENT_METHOD, work.scope.tenant_id, payment_method_id, work.viewer.user_id
    )
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such payment method.", field)
    if row["expired"]:
        # Checked whenever a saved card is about to pay, not only when it was saved.
        raise refuse(ErrorCode.CARD_EXPIRED, "This card has expired. Add a new card.", field)
    return ChosenCard(row["id"], row["processor_token"])


async def choose_card(work: Work, payment: PaymentChoice, *, required: bool = True) -> ChosenCard | None:
    if payment.invoice:
        raise refuse(
            ErrorCode.PAYMENT_METHOD_NOT_SUPPORTED,
            "Self-service purchases are paid by credit card; invoicing is not supported.",
            "payBy",
        )
    if payment.payment_method_id is not None and payment.card is not None:
        raise refuse(ErrorCode.PAYMENT_METHOD_REQUIRED, "Give a saved payment method or a card, not both.", "card")
    if payment.payment_method_id is not None:
        return await own_card(work, payment.payment_method_id)
    if payment.card is not None:
        return await save_card(work, payment.card)
    if required:
        raise refuse(ErrorCode.PAYMENT_METHOD_REQUIRED, "Give a saved payment method or a card.", "paymentMethodId")
    return None


async def add_payment_method(work: Work, *, card: CardDetails) -> dict[str, Any]:
    require(may_buy(work.scope), "tenant", "tenantId")
    if work.viewer.is_guest:
        raise refuse(ErrorCode.GUEST_USER, "Guests keep no payment methods in the organization.")
    chosen = await save_card(work, card)
    work.target("PaymentMethod", chosen.payment_method_id)
    return {"payment_method_id": str(chosen.payment_method_id)}


async def remove_payment_method(
    work: Work, *, payment_method_id: uuid.UUID, replacement_id: uuid.UUID | None
) -> dict[str, Any]:
    """The owner removes a saved card. While it still pays a subscription that is not DELETED the
    removal is refused, unless the same call names another card of theirs: every such subscription
    then moves to it, in this transaction. Anyone but the owner finds no such card."""
    scope = work.scope
    row = None
    if scope.sees_anything and scope.viewer_id is not None:
        row = await work.conn.fetchrow(
            SELECT_PAYMENT_METHOD_TO_REMOVE, scope.tenant_id, payment_method_id, scope.viewer_id
        )
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such payment method.", "paymentMethodId")
    work.target("PaymentMethod", payment_method_id)
    require(may_handle_billing(scope, billed_user_id=row["owner_user_id"]), "payment method", "paymentMethodId")
    if replacement_id == payment_method_id:
        raise refuse(
            ErrorCode.INVALID_INPUT, "The card taking over must be another card.", "replacementPaymentMethodId"
        )
    # Subscriptions, then cards (LOCK_OWN_CARDS); then both read again under the locks.
    await work.conn.fetch(LOCK_SUBSCRIPTIONS_PAID_BY, scope.tenant_id, payment_method_id)
    cards = [payment_method_id, *([replacement_id] if replacement_id is not None else [])]
    await work.conn.fetch(LOCK_OWN_CARDS, scope.tenant_id, cards, row["owner_user_id"])
    if (
        await work.conn.fetchrow(SELECT_PAYMENT_METHOD_TO_REMOVE, scope.tenant_id, payment_method_id, scope.viewer_id)
        is None
    ):
        raise refuse(ErrorCode.NOT_FOUND, "No such payment method.", "paymentMethodId")  # removed meanwhile
    replacement = None
    if replacement_id is not None:
        replacement = await own_card(work, replacement_id, "replacementPaymentMethodId")
    # Again: a purchase may have put the card on a subscription before the card was locked.
    paid = [r["id"] for r in await work.conn.fetch(LOCK_SUBSCRIPTIONS_PAID_BY, scope.tenant_id, payment_method_id)]
    if paid and replacement is None:
        raise refuse(
            ErrorCode.PAYMENT_METHOD_IN_USE,
            f"This card pays {len(paid)} subscription(s) that are not canceled: name the card that takes them over"
            " (replacementPaymentMethodId), or cancel them first.",
            "paymentMethodId",
        )
    if paid and replacement is not None:
        await work.conn.execute(MOVE_SUBSCRIPTIONS_TO_CARD, scope.tenant_id, paid, replacement.payment_method_id)
    await work.conn.execute(REMOVE_PAYMENT_METHOD, scope.tenant_id, payment_method_id)
    moved = [str(i) for i in paid]
    work.details.update(
        moved_subscriptions=moved, replacement=str(replacement.payment_method_id) if replacement else None
    )
    return {"payment_method_id": str(payment_method_id), "moved_subscription_ids": moved}


async def update_subscription_payment_method(
    work: Work, *, subscription_id: uuid.UUID, payment_method_id: uuid.UUID
) -> dict[str, Any]:
    """Only the purchaser, with their own card: admins never handle a purchaser's card."""
    subscription = await lock_subscription(work, subscription_id)
    decision = may_handle_billing(work.scope, billed_user_id=subscription["purchaser_user_id"])
    require(decision, "subscription", "subscriptionId")
    if subscription["status"] == "deleted":
        raise refuse(ErrorCode.SUBSCRIPTION_NOT_ACTIVE, "The subscription was canceled.", "subscriptionId")
    if subscription["is_trial"] and subscription["payment_method_id"] is None:
        # A trial with a card converts to a paid subscription at its end: giving a card to one
        # started without is buying, allowed only where a purchase is (a policy of trials only
        # without a payment method is not), as when a trial starts with a card.
        _, eligibility = await product_for_buyer(work, subscription["product_id"])
        if not eligibility.eligible:
            raise refuse_for(eligibility.reasons, "A card would make this trial a purchase.", "paymentMethodId")
    chosen = await own_card(work, payment_method_id)
    await work.conn.execute(
        SET_SUBSCRIPTION_PAYMENT_METHOD, work.scope.tenant_id, subscription_id, chosen.payment_method_id
    )
    return {"subscription_id": str(subscription_id)}


async def pay_invoice(work: Work, *, invoice_id: uuid.UUID, payment: PaymentChoice) -> dict[str, Any]:
    """The billed purchaser pays a bill with the subscription's card or another of theirs (only the purchaser pays):
    admins who can read the bill are not the ones who pay it."""
    scope = work.scope
    row = None
    if scope.sees_anything:
        row = await work.conn.fetchrow(LOCK_INVOICE, scope.tenant_id, invoice_id, scope.whole_tenant, scope.viewer_id)
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such invoice.", "invoiceId")
    work.target("Invoice", invoice_id)
    require(may_handle_billing(scope, billed_user_id=row["billed_user_id"]), "invoice", "invoiceId")
    if row["status"] == "paid":
        raise refuse(ErrorCode.INVOICE_ALREADY_PAID, "This invoice is already paid.", "invoiceId")
    chosen = await choose_card(work, payment, required=row["payment_method_id"] is None)
    token = chosen.token if chosen is not None else await _subscription_card_token(work, row["payment_method_id"])
    await work.charge(token, row["amount"], row["currency"], reference=str(invoice_id))
    await work.conn.execute(MARK_INVOICE_PAID, work.scope.tenant_id, invoice_id)
    return {"invoice_id": str(invoice_id)}


async def _subscription_card_token(work: Work, payment_method_id: uuid.UUID) -> str:
    return (await own_card(work, payment_method_id, "paymentMethodId")).token
