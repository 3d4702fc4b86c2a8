"""Buying: new subscriptions, trials, more or fewer licenses, cancellation."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from purchasegraph.commerce.billing import ChosenCard, PaymentChoice, choose_card, own_card
from purchasegraph.commerce.buyers import product_for_buyer, refuse_for
from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.pricing import term_price
from purchasegraph.commerce.records import (
    MONTHS_PER_TERM,
    TERM,
    lock_managed_subscription,
    notify,
    require_quantity,
    write_event_order,
    write_invoice,
    write_order,
)
from purchasegraph.commerce.unit_of_work import Problem, Refusal, Work, refuse
from purchasegraph.db.executor import Record
from purchasegraph.eligibility import CONTACT_IT_ADMIN, Reason

INSERT_SUBSCRIPTION = """
INSERT INTO subscriptions (tenant_id, id, product_id, channel, purchaser_user_id, controlled_by, quantity, status,
                           is_trial, term_start, expires_at, auto_renew, billing_frequency, payment_method_id,
                           unit_price, currency, created_at)
VALUES ($1, $2, $3, 'self_service', $4, 'purchaser', $5, $6, $7, app_now(), app_now() + $8::text::interval, $9, $10,
        $11, $12, $13, app_now())
"""
INSERT_ASSIGNMENT = """
INSERT INTO license_assignments (tenant_id, id, subscription_id, user_id, assigned_by, assigned_at)
VALUES ($1, $2, $3, $4, $5, app_now())
"""
SELECT_PRIOR_TRIAL = """
SELECT EXISTS (SELECT 1 FROM subscriptions
                WHERE tenant_id = $1 AND purchaser_user_id = $2 AND product_id = $3 AND is_trial)
    OR EXISTS (SELECT 1 FROM orders o JOIN subscriptions s ON s.tenant_id = o.tenant_id AND s.id = o.subscription_id
                WHERE o.tenant_id = $1 AND s.purchaser_user_id = $2 AND s.product_id = $3 AND o.kind = 'trial')
"""
SET_QUANTITY = "UPDATE subscriptions SET quantity = $3 WHERE tenant_id = $1 AND id = $2"
CANCEL_SUBSCRIPTION = """
UPDATE subscriptions SET status = 'deleted', canceled_at = app_now(), cancel_reason = $3, auto_renew = false
 WHERE tenant_id = $1 AND id = $2
"""
REMOVE_ALL_ASSIGNMENTS = """
UPDATE license_assignments SET removed_at = GREATEST(app_now(), assigned_at)
 WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL
"""
SELECT_UNPAID_INVOICES = """
SELECT id, amount, currency FROM invoices
 WHERE tenant_id = $1 AND subscription_id = $2 AND status <> 'paid' FOR UPDATE
"""
MARK_INVOICES_PAID = """
UPDATE invoices SET status = 'paid', paid_at = app_now() WHERE tenant_id = $1 AND id = ANY($2::uuid[])
"""
CLOSE_CANCELLATION_REQUESTS = """
UPDATE cancellation_requests SET status = 'accepted', resolved_at = app_now()
 WHERE tenant_id = $1 AND subscription_id = $2 AND status = 'pending'
"""
# The subscription's card, whoever governs it now: a final bill is the purchaser's, who is billed
# and responsible for payment whoever governs the subscription. An expired card is not charged.
SELECT_CARD_TOKEN = """
SELECT processor_token FROM payment_methods
 WHERE tenant_id = $1 AND id = $2 AND NOT card_expired(exp_year, exp_month)
"""  # noqa: S105
SELECT_CENTRAL_PRICE = """
SELECT pp.unit_price FROM product_prices pp JOIN tenants t ON t.country = pp.market
 WHERE t.id = $1 AND pp.product_id = $2 AND pp.channel = 'central'
"""
# The product's price now in the tenant's market, on the channel that pays: the purchaser's
# self-service price, or the central price once the admins govern the subscription.
SELECT_PRICE_NOW = """
SELECT pp.unit_price, pp.currency FROM product_prices pp JOIN tenants t ON t.country = pp.market
 WHERE t.id = $1 AND pp.product_id = $2 AND pp.channel = $3
"""
# Today's UTC date and the billing period running now in UTC days (migration 0012,
# billing_period): no period once the term has ended and its renewal is not swept yet.
SELECT_REST_OF_PERIOD = """
SELECT (app_now() AT TIME ZONE 'UTC')::date AS today, p.starts_on, p.ends_on
  FROM subscriptions s
  LEFT JOIN LATERAL billing_period(s.term_start, s.expires_at, $3::text::interval, app_now()) AS p ON true
 WHERE s.tenant_id = $1 AND s.id = $2
"""
REACTIVATE = """
UPDATE subscriptions
   SET status = 'active', is_trial = false, term_start = app_now(), expires_at = app_now() + $3::text::interval,
       unit_price = $4, currency = $5
 WHERE tenant_id = $1 AND id = $2
"""

CENT = Decimal("0.01")


async def purchase_subscription(
    work: Work, *, product_id: str, quantity: int, billing_frequency: str, payment: PaymentChoice
) -> dict[str, Any]:
    require_quantity(quantity)
    product, eligibility = await product_for_buyer(work, product_id)
    if not eligibility.eligible:
        raise refuse_for(eligibility.reasons)
    card = await choose_card(work, payment)
    assert card is not None, "choose_card requires a card by default"
    subscription_id = uuid.uuid4()
    unit_price: Decimal = product["unit_price"]
    amount = term_price(unit_price, quantity, billing_frequency)
    await work.charge(card.token, amount, product["currency"], reference=str(subscription_id))
    subscription = await _insert_subscription(
        work, subscription_id, product, quantity=quantity, billing_frequency=billing_frequency, card=card
    )
    order_id = await write_order(
        work,
        subscription=subscription,
        kind="purchase",
        delta=quantity,
        quantity_after=quantity,
        unit_price=unit_price,
        total=amount,
    )
    await write_invoice(work, subscription=subscription, billed_user_id=work.viewer.user_id, amount=amount)
    work.target("Subscription", subscription_id)
    work.details.update(product_id=product_id, quantity=quantity, amount=str(amount), currency=product["currency"])
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


async def start_trial(work: Work, *, product_id: str, payment: PaymentChoice) -> dict[str, Any]:
    product, eligibility = await product_for_buyer(work, product_id)
    blocking = tuple(r for r in eligibility.reasons if r is not Reason.TRIALS_ONLY)
    if blocking:
        raise refuse_for(blocking)
    if not product["trial_available"]:
        raise refuse(ErrorCode.TRIAL_NOT_AVAILABLE, "This product has no trial.", "productId")
    if not eligibility.can_start_trial:
        raise refuse_for((Reason.TRIALS_ONLY,), f"This trial needs a payment method. {CONTACT_IT_ADMIN}")
    tenant_id, user_id = work.scope.tenant_id, work.viewer.user_id
    if await work.conn.fetchval(SELECT_PRIOR_TRIAL, tenant_id, user_id, product_id):
        raise refuse(ErrorCode.TRIAL_ALREADY_USED, "You already had a trial of this product.", "productId")
    if Reason.TRIALS_ONLY in eligibility.reasons and (payment.card is not None or payment.payment_method_id):
        # Trials only *without* a payment method: a card would turn the trial into a purchase at its end.
        raise Refusal(
            Problem(
                ErrorCode.TRIALS_ONLY,
                f"{Reason.TRIALS_ONLY.value} Start the trial without a card.",
                ("card" if payment.card is not None else "paymentMethodId",),
            )
        )
    card = await choose_card(work, payment, required=product["trial_requires_payment_method"])
    subscription_id = uuid.uuid4()
    subscription = await _insert_subscription(
        work, subscription_id, product, quantity=1, billing_frequency="monthly", card=card, trial=True
    )
    order_id = await write_order(
        work,
        subscription=subscription,
        kind="trial",
        delta=1,
        quantity_after=1,
        unit_price=Decimal("0.00"),
        total=Decimal("0.00"),
    )
    # The trial's one license goes to whoever started it.
    await work.conn.execute(INSERT_ASSIGNMENT, tenant_id, uuid.uuid4(), subscription_id, user_id, user_id)
    work.target("Subscription", subscription_id)
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


async def _insert_subscription(
    work: Work,
    subscription_id: uuid.UUID,
    product: Record,
    *,
    quantity: int,
    billing_frequency: str,
    card: ChosenCard | None,
    trial: bool = False,
) -> dict[str, Any]:
    """A self-service subscription the viewer bought (or a trial they started) at the product's
    price now: a term from now (a trial's days), renewing at its end when it has a card (a trial
    with one converts to a purchase). The order lines and invoices it is written with read the
    returned values."""
    term = f"{product['trial_days']} days" if trial else TERM[billing_frequency]
    await work.conn.execute(
        INSERT_SUBSCRIPTION,
        work.scope.tenant_id,
        subscription_id,
        product["product_id"],
        work.viewer.user_id,
        quantity,
        "trial" if trial else "active",
        trial,
        term,
        card is not None,
        billing_frequency,
        card.payment_method_id if card is not None else None,
        product["unit_price"],
        product["currency"],
    )
    return {
        "tenant_id": work.scope.tenant_id,
        "id": subscription_id,
        "currency": product["currency"],
        "billing_frequency": billing_frequency,
    }


async def _lock_active(work: Work, subscription_id: uuid.UUID, refusal: str) -> dict[str, Any]:
    """The subscription, locked, where the viewer governs it; refused with ``refusal`` (``{status}``
    its status) unless it is ACTIVE."""
    subscription = await lock_managed_subscription(work, subscription_id)
    if subscription["status"] != "active":
        message = refusal.format(status=subscription["status"])
        raise refuse(ErrorCode.SUBSCRIPTION_NOT_ACTIVE, message, "subscriptionId")
    return subscription


async def add_licenses(work: Work, *, subscription_id: uuid.UUID, quantity: int) -> dict[str, Any]:
    require_quantity(quantity)
    subscription = await _lock_active(work, subscription_id, "Licenses are added to active subscriptions only.")
    new_quantity = subscription["quantity"] + quantity
    if new_quantity > 10_000:
        raise refuse(ErrorCode.INVALID_QUANTITY, "A subscription holds at most 10,000 licenses.", "quantity")
    by_purchaser = subscription["controlled_by"] == "purchaser"
    if by_purchaser and subscription["purchaser_departed"]:
        raise refuse(
            ErrorCode.PURCHASER_DEPARTED,
            "Its purchaser left the organization: an admin must take it over first.",
            "subscriptionId",
        )
    if by_purchaser:
        # Buying more is a purchase: the product's policy and the buyer's eligibility apply again.
        _, eligibility = await product_for_buyer(work, subscription["product_id"])
        if not eligibility.eligible:
            raise refuse_for(eligibility.reasons, field="subscriptionId")
        unit_price: Decimal = subscription["unit_price"]
    else:
        # Admin-governed subscriptions are billed centrally, at the central price.
        central = await work.conn.fetchval(SELECT_CENTRAL_PRICE, work.scope.tenant_id, subscription["product_id"])
        unit_price = central if central is not None else subscription["unit_price"]
    # The new licenses run with the others to the end of the billing period, and are paid to it.
    rest = await _rest_of_period(work, subscription)
    amount = rest.price(unit_price, quantity)
    if by_purchaser and amount > 0:
        card = await own_card(work, subscription["payment_method_id"], "subscriptionId")
        await work.charge(card.token, amount, subscription["currency"], reference=str(subscription_id))
        await write_invoice(
            work, subscription=subscription, billed_user_id=work.viewer.user_id, amount=amount, days=rest.days_paid
        )
    await work.conn.execute(SET_QUANTITY, work.scope.tenant_id, subscription_id, new_quantity)
    order_id = await write_order(
        work,
        subscription=subscription,
        kind="add_licenses",
        delta=quantity,
        quantity_after=new_quantity,
        unit_price=unit_price,
        total=amount,
    )
    work.details.update(quantity=quantity, amount=str(amount))
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


@dataclass(frozen=True)
class RestOfPeriod:
    """The billing period running now, seen from today (UTC days): licenses added today are paid
    from today to its end. Once the term has ended (its renewal not swept yet) nothing of it is
    left to pay: the renewal bills the new quantity from the end date on."""

    today: datetime.date
    starts_on: datetime.date | None = None  # None: the term has ended
    ends_on: datetime.date | None = None  # the day after its last day
    months: int = 1  # the months one whole period bills (prices are per license per month)

    @property
    def days_left(self) -> int:
        """Whole days from today to the end, today included: at least one while it runs (a
        period ending later today still runs today), none once the term has ended."""
        if self.starts_on is None or self.ends_on is None:
            return 0
        return min(max((self.ends_on - self.today).days, 1), self.period_days)

    @property
    def period_days(self) -> int:
        if self.starts_on is None or self.ends_on is None:
            return 1
        return max((self.ends_on - self.starts_on).days, 1)

    @property
    def days_paid(self) -> tuple[datetime.date, datetime.date]:
        """The invoice's first and last day."""
        last = self.ends_on - datetime.timedelta(days=1) if self.ends_on is not None else self.today
        return self.today, max(last, self.today)

    def price(self, unit_price: Decimal, quantity: int) -> Decimal:
        """The whole period's price for ``quantity`` licenses, for the days left of it, to the cent."""
        whole = unit_price * quantity * self.months
        return (whole * self.days_left / self.period_days).quantize(CENT, ROUND_HALF_UP)


async def _rest_of_period(work: Work, subscription: Record) -> RestOfPeriod:
    frequency = subscription["billing_frequency"]
    months = MONTHS_PER_TERM[frequency]
    row = await work.conn.fetchrow(SELECT_REST_OF_PERIOD, work.scope.tenant_id, subscription["id"], TERM[frequency])
    return RestOfPeriod(row["today"], row["starts_on"], row["ends_on"], months)


async def remove_licenses(work: Work, *, subscription_id: uuid.UUID, quantity: int) -> dict[str, Any]:
    """Fewer licenses from now on, refunding nothing: what was paid to the end of the billing period
    stays paid (as with Microsoft's terms once the first days after a purchase are over), and the
    next renewal bills the smaller quantity."""
    require_quantity(quantity)
    subscription = await _lock_active(work, subscription_id, "Licenses are removed from active subscriptions only.")
    new_quantity = subscription["quantity"] - quantity
    if new_quantity < 1:
        raise refuse(
            ErrorCode.INVALID_QUANTITY,
            "A subscription keeps at least one license; cancel it instead.",
            "quantity",
        )
    if new_quantity < subscription["assigned"]:
        raise refuse(
            ErrorCode.LICENSES_ASSIGNED,
            f"{subscription['assigned']} licenses are assigned: unassign some before removing them.",
            "quantity",
        )
    await work.conn.execute(SET_QUANTITY, work.scope.tenant_id, subscription_id, new_quantity)
    order_id = await write_order(
        work,
        subscription=subscription,
        kind="remove_licenses",
        delta=-quantity,
        quantity_after=new_quantity,
        unit_price=subscription["unit_price"],
        total=Decimal("0.00"),
    )
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


SET_AUTO_RENEW = "UPDATE subscriptions SET auto_renew = $3 WHERE tenant_id = $1 AND id = $2"


async def set_auto_renew(work: Work, *, subscription_id: uuid.UUID, auto_renew: bool) -> dict[str, Any]:
    """Whether an ACTIVE subscription renews at its term end, set by whoever governs it: its
    purchaser, or the admins once it is central or taken over. A trial is not set (with a card it
    converts at its end, and canceling it stops that), an expired or disabled one is reactivated,
    a canceled one is final. A purchaser's renewal is charged to its card, so turning it on needs one."""
    subscription = await _lock_active(
        work, subscription_id, "Auto-renew is set on active subscriptions; this one is {status}."
    )
    by_purchaser = subscription["controlled_by"] == "purchaser"
    if auto_renew and by_purchaser and subscription["payment_method_id"] is None:
        raise refuse(
            ErrorCode.PAYMENT_METHOD_REQUIRED,
            "A renewal is charged to the subscription's card: give it one first (updateSubscriptionPaymentMethod).",
            "autoRenew",
        )
    await work.conn.execute(SET_AUTO_RENEW, work.scope.tenant_id, subscription_id, auto_renew)
    work.details.update(old_value=subscription["auto_renew"], new_value=auto_renew)
    return {"subscription_id": str(subscription_id)}


async def cancel_subscription(work: Work, *, subscription_id: uuid.UUID, reason: str) -> dict[str, Any]:
    """Canceled is final (DELETED): its users lose their licenses and its open bills are settled."""
    subscription = await lock_managed_subscription(work, subscription_id)
    return await cancel_locked(work, subscription, reason=reason)


async def cancel_locked(work: Work, subscription: Record, *, reason: str) -> dict[str, Any]:
    if subscription["status"] == "deleted":
        raise refuse(ErrorCode.SUBSCRIPTION_NOT_ACTIVE, "The subscription is already canceled.", "subscriptionId")
    tenant_id, subscription_id = work.scope.tenant_id, subscription["id"]
    await _settle_open_invoices(work, subscription)
    await work.conn.execute(CANCEL_SUBSCRIPTION, tenant_id, subscription_id, reason or None)
    await work.conn.execute(REMOVE_ALL_ASSIGNMENTS, tenant_id, subscription_id)
    await work.conn.execute(CLOSE_CANCELLATION_REQUESTS, tenant_id, subscription_id)
    order_id = await write_event_order(work, subscription=subscription, kind="cancel")
    purchaser = subscription["purchaser_user_id"]
    if purchaser is not None and purchaser != work.viewer.user_id:
        await notify(
            work,
            user_id=purchaser,
            kind="subscription_canceled",
            subject_id=subscription_id,
            message=f"Your {subscription['product_name']} subscription was canceled by an admin: {reason}",
        )
    work.details.update(reason=reason)
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


async def _settle_open_invoices(work: Work, subscription: Record) -> None:
    """The final bill: whatever is still owed is charged to the subscription's card. A card that
    fails does not keep a subscription alive (admins must be able to cancel a departed purchaser's
    subscription): the bills then stay open, owed by the purchaser."""
    rows = await work.conn.fetch(SELECT_UNPAID_INVOICES, work.scope.tenant_id, subscription["id"])
    if not rows or subscription["payment_method_id"] is None:
        work.details.update(unsettled=len(rows))
        return
    owed = sum((r["amount"] for r in rows), Decimal("0.00"))
    token = await work.conn.fetchval(SELECT_CARD_TOKEN, work.scope.tenant_id, subscription["payment_method_id"])
    if token is None:  # the card expired: the bills stay open
        work.details.update(unsettled=len(rows))
        return
    charge = await work.try_charge(token, owed, subscription["currency"], reference=f"final:{subscription['id']}")
    if charge is None:
        work.details.update(unsettled=len(rows))
        return
    await work.conn.execute(MARK_INVOICES_PAID, work.scope.tenant_id, [r["id"] for r in rows])


async def reactivate(work: Work, *, subscription_id: uuid.UUID) -> dict[str, Any]:
    """An EXPIRED or DISABLED subscription back to ACTIVE for a new term, billed like a renewal by
    whoever controls it: its purchaser pays the self-service price now with the subscription's card
    (an order and a paid invoice); the admins, once they took it over (or bought it centrally), get
    an order at the central price and no card is charged: central billing is outside the gateway.
    Admins who have not taken control are refused like any change to it. Like a renewal, it is no
    new purchase: a policy that now blocks the product does not stop it. DELETED is final."""
    subscription = await lock_managed_subscription(work, subscription_id)
    if subscription["status"] not in {"expired", "disabled"}:
        raise refuse(
            ErrorCode.CANNOT_REACTIVATE,
            f"A {subscription['status']} subscription cannot be reactivated.",
            "subscriptionId",
        )
    tenant_id = work.scope.tenant_id
    by_purchaser = subscription["controlled_by"] == "purchaser"
    channel = "self_service" if by_purchaser else "central"
    price = await work.conn.fetchrow(SELECT_PRICE_NOW, tenant_id, subscription["product_id"], channel)
    unit_price: Decimal = price["unit_price"] if price is not None else subscription["unit_price"]
    currency: str = price["currency"] if price is not None else subscription["currency"]
    frequency = subscription["billing_frequency"]
    amount = term_price(unit_price, subscription["quantity"], frequency)
    if by_purchaser:
        if subscription["payment_method_id"] is None:
            raise refuse(
                ErrorCode.PAYMENT_METHOD_REQUIRED,
                "The subscription has no card: give it one (updateSubscriptionPaymentMethod), then reactivate it.",
                "subscriptionId",
            )
        card = await own_card(work, subscription["payment_method_id"], "subscriptionId")
        await work.charge(card.token, amount, currency, reference=f"reactivate:{subscription_id}")
    await work.conn.execute(REACTIVATE, tenant_id, subscription_id, TERM[frequency], unit_price, currency)
    renewed = subscription | {"currency": currency}
    order_id = await write_order(
        work,
        subscription=renewed,
        kind="reactivate",
        delta=0,
        quantity_after=subscription["quantity"],
        unit_price=unit_price,
        total=amount,
    )
    if by_purchaser:
        await write_invoice(work, subscription=renewed, billed_user_id=subscription["purchaser_user_id"], amount=amount)
    work.details.update(amount=str(amount), currency=currency)
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}
