"""The lifecycle sweep: renewals, trial conversions, and statuses the dates have moved on.

Reads already show the status the dates put a subscription in (``effective_status`` in SQL).
The sweep does what needs a side effect: when their term ends it charges the purchaser's card for
auto-renewing subscriptions and trials with a card (a renewal order and invoice each), and renews
the ones admins took over at the central price (an order; central billing charges no card here).
A departed purchaser's subscription does not renew: it runs to its end date and expires. When the
card fails or has expired, auto-renew is turned off (the dates then carry it to EXPIRED, DISABLED,
DELETED). The sweep also stores the statuses the dates reached, and takes the licenses back from
subscriptions that reached DELETED.
Each renewal is its own transaction; ``SKIP LOCKED`` lets several gateways sweep side by side.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

from purchasegraph.commerce.pricing import term_price
from purchasegraph.commerce.records import (
    INSERT_INVOICE_FOR_DAYS,
    INSERT_NOTIFICATION,
    INSERT_ORDER,
    TERM,
)
from purchasegraph.commerce.unit_of_work import INSERT_AUDIT_EVENT
from purchasegraph.db.executor import Executor
from purchasegraph.payments import CardDeclined, Charge, PaymentProcessor, ProcessorUnavailable

log = logging.getLogger("purchasegraph.lifecycle")

# Due: its end date passed (within the 30 days a renewal is tried) and it renews at all
# (migration 0009, subscription_renews: a departed purchaser's does not; a taken-over one does,
# centrally). The price is the one now, on the channel that pays: central once admins govern it.
SELECT_DUE_RENEWAL = """
SELECT s.tenant_id, s.id, s.quantity, s.is_trial, s.billing_frequency, s.purchaser_user_id, s.controlled_by,
       pm.processor_token, COALESCE(card_expired(pm.exp_year, pm.exp_month), false) AS card_expired,
       p.name AS product_name,
       COALESCE(pp.unit_price, s.unit_price) AS price_now, COALESCE(pp.currency, s.currency) AS currency_now
  FROM subscriptions s
  LEFT JOIN payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.id = s.payment_method_id
  JOIN products p ON p.id = s.product_id
  JOIN tenants t ON t.id = s.tenant_id
  LEFT JOIN product_prices pp ON pp.product_id = s.product_id AND pp.market = t.country
                             AND pp.channel = CASE s.controlled_by WHEN 'admins' THEN 'central' ELSE s.channel END
 WHERE s.status IN ('trial', 'active') AND subscription_renews(s)
   AND s.expires_at <= app_now() AND app_now() < s.expires_at + interval '30 days'
 ORDER BY s.expires_at
 LIMIT 1
   FOR UPDATE OF s SKIP LOCKED
"""
# The new term follows the old one from its end date, however late the sweep runs; the days it
# bills (UTC, first and last) are the term's, not the sweep's.
RENEW = """
UPDATE subscriptions
   SET status = 'active', is_trial = false, term_start = expires_at,
       expires_at = expires_at + $3::text::interval, unit_price = $4, currency = $5
 WHERE tenant_id = $1 AND id = $2
RETURNING ARRAY[(term_start AT TIME ZONE 'UTC')::date, (expires_at AT TIME ZONE 'UTC')::date - 1] AS days
"""
# Past its end date, it stops renewing and is EXPIRED from now on. Stored, not left to the dates:
# a trial with a card counts as renewing with auto-renew off too (migration 0009,
# subscription_renews), so it would stay a TRIAL and be charged again by every later sweep.
STOP_RENEWING = "UPDATE subscriptions SET auto_renew = false, status = 'expired' WHERE tenant_id = $1 AND id = $2"
STORE_STATUSES = """
UPDATE subscriptions s SET status = effective_status(s)
 WHERE s.status <> effective_status(s)
RETURNING s.tenant_id, s.id, s.status
"""
# A request to cancel a subscription that has reached DELETED by its dates has nothing left to
# answer: it closes, so the admins' worklist no longer lists it as open.
CLOSE_REQUESTS_OF_DELETED = """
UPDATE cancellation_requests c SET status = 'closed', resolved_at = app_now()
  FROM subscriptions s
 WHERE s.tenant_id = c.tenant_id AND s.id = c.subscription_id AND s.status = 'deleted' AND c.status = 'pending'
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
        charged: list[Charge] = []
        try:
            async with db.transaction() as conn:
                renewed_one = await _renew_one(conn, processor, report, charged)
        except BaseException:
            # Its writes did not commit (the renewal, its audit row or the commit itself failed):
            # the card does not stay charged for a renewal that is not there.
            for charge in charged:
                try:
                    await processor.void(charge.charge_id)
                except Exception:  # the charge stays to be reconciled; the log line names it
                    log.exception("could not void charge %s", charge.charge_id)
            raise
        if not renewed_one:
            break
    async with db.transaction() as conn:
        report.status_changes = len(await conn.fetch(STORE_STATUSES))
        await conn.execute(RELEASE_DELETED_LICENSES)
        await conn.execute(CLOSE_REQUESTS_OF_DELETED)
        await conn.execute(PURGE_IDEMPOTENCY_KEYS)
    return report


async def _renew_one(
    conn: asyncpg.Connection, processor: PaymentProcessor, report: SweepReport, charged: list[Charge]
) -> bool:
    """Renew the next subscription due, if any; a charge it makes goes to ``charged``."""
    row = await conn.fetchrow(SELECT_DUE_RENEWAL)
    if row is None:
        return False
    tenant_id, subscription_id = row["tenant_id"], row["id"]
    price: Decimal = row["price_now"]
    amount = term_price(price, row["quantity"], row["billing_frequency"])
    # Admins who took it over renew it centrally: an order, and no card of anyone's is charged.
    by_purchaser = row["controlled_by"] == "purchaser"
    if by_purchaser:
        if row["card_expired"]:
            await _fail(conn, row, report, "the card has expired", "CARD_EXPIRED")
            return True
        try:
            charge = await processor.charge(
                row["processor_token"], amount, row["currency_now"], reference=f"renew:{subscription_id}"
            )
        except (CardDeclined, ProcessorUnavailable) as exc:
            await _fail(conn, row, report, str(exc), "CARD_DECLINED")
            return True
        charged.append(charge)
    days = await conn.fetchval(
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
    if by_purchaser:
        await conn.execute(
            INSERT_INVOICE_FOR_DAYS,
            tenant_id,
            uuid.uuid4(),
            subscription_id,
            row["purchaser_user_id"],
            days,
            amount,
            row["currency_now"],
            True,
        )
    await _audit(conn, tenant_id, subscription_id, "subscription.renew", "accepted", [])
    report.renewed.append(subscription_id)
    return True


async def _fail(conn: asyncpg.Connection, row: asyncpg.Record, report: SweepReport, why: str, code: str) -> None:
    """No second chance inside this sweep: auto-renew stops and the dates take their course."""
    tenant_id, subscription_id = row["tenant_id"], row["id"]
    kind = "trial conversion" if row["is_trial"] else "renewal"
    await conn.execute(STOP_RENEWING, tenant_id, subscription_id)
    await conn.execute(
        INSERT_NOTIFICATION,
        tenant_id,
        uuid.uuid4(),
        row["purchaser_user_id"],
        "renewal_failed",
        subscription_id,
        f"The {kind} of your {row['product_name']} subscription failed: {why}. Update your card.",
    )
    await _audit(conn, tenant_id, subscription_id, "subscription.renew", "refused", [code])
    report.failed.append(subscription_id)


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
        None,  # no client sent a request id
    )
