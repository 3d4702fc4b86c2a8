"""Rows every operation writes or locks: subscriptions, order lines, invoices, notifications."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.unit_of_work import Work, refuse
from purchasegraph.db.executor import Record
from purchasegraph.policy import SUBSCRIPTION_VISIBLE, Decision, may_manage_subscription

# The row an operation changes, locked so concurrent operations on it take turns (concurrent
# assignments must never assign more licenses than were bought). Scoped: a row outside the viewer's reach is absent.
LOCK_SUBSCRIPTION = f"""
SELECT s.tenant_id, s.id, s.product_id, s.channel, s.purchaser_user_id, s.controlled_by, s.quantity,
       effective_status(s) AS status, s.is_trial, s.expires_at, s.auto_renew, s.billing_frequency,
       s.payment_method_id, s.unit_price, s.currency, p.name AS product_name, s.purchaser_departed
  FROM subscriptions s
  JOIN products p ON p.id = s.product_id
 WHERE s.tenant_id = $1 AND s.id = $2
   AND {SUBSCRIPTION_VISIBLE.format(s="s", whole="$3::bool", viewer="$4::uuid")}
   FOR UPDATE OF s
"""

# Counted in its own statement, after the lock is held: under READ COMMITTED a subquery of the
# locking statement would read the snapshot taken before the lock wait and miss the assignments
# committed by whoever held the lock (that oversold subscriptions under concurrency).
COUNT_LIVE_ASSIGNMENTS = """
SELECT count(*)::int FROM license_assignments
 WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL
"""

INSERT_ORDER = """
INSERT INTO orders (tenant_id, id, subscription_id, kind, actor_user_id, actor_tenant_id, quantity_delta,
                    quantity_after, unit_price, total, currency, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, app_now())
"""

# A charge for one billing period from today; paid when a card paid it, open otherwise.
INSERT_INVOICE = """
INSERT INTO invoices (tenant_id, id, subscription_id, billed_user_id, period_start, period_end, amount, currency,
                      status, due_date, paid_at)
VALUES ($1, $2, $3, $4, app_now()::date, (app_now() + $5::text::interval)::date - 1, $6, $7,
        CASE WHEN $8::bool THEN 'paid' ELSE 'open' END, app_now()::date + 7,
        CASE WHEN $8::bool THEN app_now() END)
"""

# A charge for the given days ($5, first and last), as the rest of a billing period is paid.
INSERT_INVOICE_FOR_DAYS = """
INSERT INTO invoices (tenant_id, id, subscription_id, billed_user_id, period_start, period_end, amount, currency,
                      status, due_date, paid_at)
VALUES ($1, $2, $3, $4, ($5::date[])[1], ($5::date[])[2], $6, $7,
        CASE WHEN $8::bool THEN 'paid' ELSE 'open' END, app_now()::date + 7,
        CASE WHEN $8::bool THEN app_now() END)
"""

INSERT_NOTIFICATION = """
INSERT INTO notifications (tenant_id, id, user_id, kind, subject_id, message, created_at)
VALUES ($1, $2, $3, $4, $5, $6, app_now())
"""

TERM = {"monthly": "1 month", "annual": "1 year"}
MONTHS_PER_TERM = {"monthly": 1, "annual": 12}
ASSIGNABLE_STATUSES = frozenset({"trial", "active", "expired"})


async def lock_subscription(work: Work, subscription_id: uuid.UUID, field: str = "subscriptionId") -> dict[str, Any]:
    """The subscription, locked, with its live assignment count taken after the lock."""
    scope = work.scope
    row: Record | None = None
    if scope.sees_anything:
        row = await work.conn.fetchrow(
            LOCK_SUBSCRIPTION, scope.tenant_id, subscription_id, scope.whole_tenant, scope.viewer_id
        )
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such subscription.", field)
    work.target("Subscription", subscription_id)
    locked = dict(row)
    locked["assigned"] = await work.conn.fetchval(COUNT_LIVE_ASSIGNMENTS, scope.tenant_id, subscription_id)
    return locked


def require(decision: Decision, what: str, field: str | None = None) -> None:
    """Turn a policy decision into a refusal with the matching code."""
    if decision is Decision.ALLOWED:
        return
    messages = {
        Decision.NOT_FOUND: f"No such {what}.",
        Decision.NOT_AUTHORIZED: f"Your role can read this {what} but not change it.",
        Decision.NOT_IN_CONTROL: (
            f"This {what} is governed by someone else: its purchaser, or the admins after they took control."
        ),
    }
    fields = (field,) if field else ()
    raise refuse(ErrorCode[decision.name], messages[decision], *fields)


async def lock_managed_subscription(
    work: Work, subscription_id: uuid.UUID, field: str = "subscriptionId"
) -> dict[str, Any]:
    """The subscription, locked, if the viewer governs it (its purchaser while they control it, the
    admins once it is central or taken over: policy.may_manage_subscription); a refusal otherwise."""
    row = await lock_subscription(work, subscription_id, field)
    decision = may_manage_subscription(
        work.scope, controlled_by=row["controlled_by"], purchaser_id=row["purchaser_user_id"]
    )
    require(decision, "subscription", field)
    return row


async def write_order(
    work: Work,
    *,
    subscription: Mapping[str, Any],
    kind: str,
    delta: int,
    quantity_after: int,
    unit_price: Decimal,
    total: Decimal,
) -> uuid.UUID:
    order_id = uuid.uuid4()
    await work.conn.execute(
        INSERT_ORDER,
        subscription["tenant_id"],
        order_id,
        subscription["id"],
        kind,
        work.viewer.user_id,
        work.viewer.tenant_id,
        delta,
        quantity_after,
        unit_price,
        total,
        subscription["currency"],
    )
    return order_id


async def write_event_order(work: Work, *, subscription: Record, kind: str) -> uuid.UUID:
    """An order line that changes no quantity and charges nothing: cancel, take-over, reactivation."""
    return await write_order(
        work,
        subscription=subscription,
        kind=kind,
        delta=0,
        quantity_after=subscription["quantity"],
        unit_price=subscription["unit_price"],
        total=Decimal("0.00"),
    )


async def write_invoice(
    work: Work,
    *,
    subscription: Mapping[str, Any],
    billed_user_id: uuid.UUID | None,
    amount: Decimal,
    days: tuple[datetime.date, datetime.date] | None = None,
) -> uuid.UUID:
    """A charge the operation was paid (in the subscription's currency): one billing period from
    today, or the ``days`` paid (first and last), the rest of the period running now."""
    invoice_id = uuid.uuid4()
    await work.conn.execute(
        INSERT_INVOICE if days is None else INSERT_INVOICE_FOR_DAYS,
        subscription["tenant_id"],
        invoice_id,
        subscription["id"],
        billed_user_id,
        TERM[subscription["billing_frequency"]] if days is None else list(days),
        amount,
        subscription["currency"],
        True,
    )
    return invoice_id


async def notify(work: Work, *, user_id: uuid.UUID, kind: str, subject_id: uuid.UUID, message: str) -> None:
    """Tell a user of the operation's tenant, in their own feed, written in the operation's transaction."""
    await work.conn.execute(INSERT_NOTIFICATION, work.scope.tenant_id, uuid.uuid4(), user_id, kind, subject_id, message)


def require_quantity(quantity: int, field: str = "quantity") -> None:
    if not 1 <= quantity <= 10_000:
        raise refuse(ErrorCode.INVALID_QUANTITY, "Quantities are whole numbers from 1 to 10,000.", field)
