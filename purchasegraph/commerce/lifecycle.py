"""The lifecycle sweep: renewals, trial conversions, and statuses the dates have moved on.

Reads already show the status the dates put a subscription in (``effective_status`` in SQL).
The sweep does what needs a side effect: it charges auto-renewing subscriptions and trials
with a card when their term ends (a renewal order and invoice each), turns auto-renew off when
the card fails (the dates then carry it to EXPIRED, DISABLED, DELETED), stores the statuses the
dates reached, and takes the licenses back from subscriptions that reached DELETED.
Each renewal is its own transaction; ``SKIP LOCKED`` lets several gateways sweep side by side.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

from purchasegraph.commerce.records import INSERT_INVOICE, INSERT_NOTIFICATION, INSERT_ORDER, MONTHS_PER_TERM, TERM
from purchasegraph.commerce.unit_of_work import INSERT_AUDIT_EVENT
from purchasegraph.db.executor import Executor
from purchasegraph.payments import CardDeclined, PaymentProcessor, ProcessorUnavailable

log = logging.getLogger("purchasegraph.lifecycle")

SELECT_DUE_RENEWAL = """
SELECT s.tenant_id, s.id, s.quantity, s.is_trial, s.billing_frequency, s.purchaser_user_id, s.currency,
       s.unit_price, pm.processor_token, p.name AS product_name,
       COALESCE(pp.unit_price, s.unit_price) AS price_now, COALESCE(pp.currency, s.currency) AS currency_now
  FROM subscriptions s
  JOIN payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.id = s.payment_method_id
  JOIN products p ON p.id = s.product_id
  JOIN tenants t ON t.id = s.tenant_id
  LEFT JOIN product_prices pp ON pp.product_id = s.product_id AND pp.market = t.country
                             AND pp.channel = s.channel
 WHERE s.status IN ('trial', 'active') AND (s.auto_renew OR s.is_trial)
   AND s.expires_at <= app_now() AND app_now() < s.expires_at + interval '30 days'
 ORDER BY s.expires_at
 LIMIT 1
   FOR UPDATE OF s SKIP LOCKED
"""
RENEW = """
UPDATE subscriptions
   SET status = 'active', is_trial = false, term_start = expires_at,
       expires_at = expires_at + $3::text::interval, unit_price = $4, currency = $5
 WHERE tenant_id = $1 AND id = $2
"""
STOP_RENEWING = "UPDATE subscriptions SET auto_renew = false WHERE tenant_id = $1 AND id = $2"
STORE_STATUSES = """
UPDATE subscriptions s SET status = effective_status(s)
 WHERE s.status <> effective_status(s)
RETURNING s.tenant_id, s.id, s.status
"""
# Idempotency keys are promised for at least 24 hours; a week keeps slow retries safe too.
PURGE_IDEMPOTENCY_KEYS = "DELETE FROM idempotency_keys WHERE created_at < app_now() - interval '7 days'"
RELEASE_DELETED_LICENSES = """
UPDATE license_assignments a SET removed_at = GREATEST(app_now(), a.assigned_at)
  FROM subscriptions s
 WHERE s.tenant_id = a.tenant_id AND s.id = a.subscription_id AND s.status = 'deleted' AND a.removed_at IS NULL
"""


@dataclass
class SweepReport:
    renewed: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    status_changes: int = 0


async def sweep(db: Executor, processor: PaymentProcessor, *, max_renewals: int = 1000) -> SweepReport:
    report = SweepReport()
    for _ in range(max_renewals):
        async with db.transaction() as conn:
            if not await _renew_one(conn, processor, report):
                break
    async with db.transaction() as conn:
        report.status_changes = len(await conn.fetch(STORE_STATUSES))
        await conn.execute(RELEASE_DELETED_LICENSES)
        await conn.execute(PURGE_IDEMPOTENCY_KEYS)
    return report


async def _renew_one(conn: asyncpg.Connection, processor: PaymentProcessor, report: SweepReport) -> bool:
    row = await conn.fetchrow(SELECT_DUE_RENEWAL)
    if row is None:
        return False
    tenant_id, subscription_id = row["tenant_id"], row["id"]
    price: Decimal = row["price_now"]
    amount = price * row["quantity"] * MONTHS_PER_TERM[row["billing_frequency"]]
    kind = "trial conversion" if row["is_trial"] else "renewal"
    try:
        charge = await processor.charge(
            row["processor_token"], amount, row["currency_now"], reference=f"renew:{subscription_id}"
        )
    except (CardDeclined, ProcessorUnavailable) as exc:
        # No second chance inside this sweep: auto-renew stops and the dates take their course.
        await conn.execute(STOP_RENEWING, tenant_id, subscription_id)
        await conn.execute(
            INSERT_NOTIFICATION,
            tenant_id,
            uuid.uuid4(),
            row["purchaser_user_id"],
            "renewal_failed",
            subscription_id,
            f"The {kind} of your {row['product_name']} subscription failed: {exc}. Update your card.",
        )
        await _audit(conn, tenant_id, subscription_id, "subscription.renew", "refused", ["CARD_DECLINED"])
        report.failed.append(subscription_id)
        return True
    try:
        await conn.execute(
            RENEW, tenant_id, subscription_id, TERM[row["billing_frequency"]], price, row["currency_now"]
        )
        await conn.execute(
            INSERT_ORDER,
            tenant_id,
            uuid.uuid4(),
            subscription_id,
            "renew",
            None,
            tenant_id,
            0,
            row["quantity"],
            price,
            amount,
            row["currency_now"],
        )
        await conn.execute(
            INSERT_INVOICE,
            tenant_id,
            uuid.uuid4(),
            subscription_id,
            row["purchaser_user_id"],
            TERM[row["billing_frequency"]],
            amount,
            row["currency_now"],
            True,
        )
        await _audit(conn, tenant_id, subscription_id, "subscription.renew", "accepted", [])
    except BaseException:
        await processor.void(charge.charge_id)
        raise
    report.renewed.append(subscription_id)
    return True


async def _audit(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    action: str,
    outcome: str,
    codes: list[str],
) -> None:
    await conn.execute(
        INSERT_AUDIT_EVENT,
        tenant_id,
        None,  # the sweep acts for nobody: no user, no application, no tenant of its own
        None,
        None,
        None,
        action,
        "Subscription",
        str(subscription_id),
        "lifecycle-sweep",
        {},
        outcome,
        codes,
    )
