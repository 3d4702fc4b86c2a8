"""What admins (and partners with an admin grant) do: policies, take-over, reactivation,
cancellation requests, directory upkeep (rules 6, 10, 11, 12)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.records import TERM, lock_subscription, notify, require, write_event_order
from purchasegraph.commerce.unit_of_work import Work, refuse
from purchasegraph.policy import may_administer, may_govern, may_set_policy

SELECT_SELF_SERVICE_PRODUCT = "SELECT name FROM products WHERE id = $1 AND self_service"
SELECT_POLICY = "SELECT value FROM self_service_policies WHERE tenant_id = $1 AND product_id = $2 FOR UPDATE"
UPSERT_POLICY = """
INSERT INTO self_service_policies (tenant_id, product_id, value, updated_at, updated_by)
VALUES ($1, $2, $3, app_now(), $4)
ON CONFLICT (tenant_id, product_id) DO UPDATE
   SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
"""
INSERT_CANCELLATION_REQUEST = """
INSERT INTO cancellation_requests (tenant_id, id, subscription_id, requested_by, requested_by_tenant_id, message,
                                   status, created_at)
VALUES ($1, $2, $3, $4, $5, $6, 'pending', app_now())
"""
TAKE_CONTROL = "UPDATE subscriptions SET controlled_by = 'admins' WHERE tenant_id = $1 AND id = $2"
REACTIVATE = """
UPDATE subscriptions
   SET status = 'active', is_trial = false, term_start = app_now(), expires_at = app_now() + $3::text::interval
 WHERE tenant_id = $1 AND id = $2
"""
# Directory upkeep: the user left. Their account is disabled; what they bought runs to term.
MARK_DEPARTED = """
UPDATE users SET departed_at = $3, account_enabled = false
 WHERE tenant_id = $1 AND id = $2
RETURNING display_name
"""


async def set_self_service_policy(work: Work, *, product_id: str, value: str) -> dict[str, Any]:
    """Future purchases and trials only: existing subscriptions are not touched (rule 6). Set by an
    application, the policy names no user as its author; the audit event names the application."""
    require(may_set_policy(work.scope), "tenant", "tenantId")
    if await work.conn.fetchval(SELECT_SELF_SERVICE_PRODUCT, product_id) is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such self-service product.", "productId")
    tenant_id = work.scope.tenant_id
    previous = await work.conn.fetchval(SELECT_POLICY, tenant_id, product_id) or "enabled"
    await work.conn.execute(UPSERT_POLICY, tenant_id, product_id, value, work.principal.user_id)
    work.target("SelfServicePolicy", f"{tenant_id}:{product_id}")
    work.details.update(product_id=product_id, old_value=previous, new_value=value)
    return {"tenant_id": str(tenant_id), "product_id": product_id}


async def request_cancellation(work: Work, *, subscription_id: uuid.UUID, message: str) -> dict[str, Any]:
    """Centralize, step two: ask the purchaser to cancel (they keep control)."""
    require(may_administer(work.scope), "subscription", "subscriptionId")
    subscription = await lock_subscription(work, subscription_id)
    _require_purchaser_controlled(subscription["channel"], subscription["controlled_by"], subscription["status"])
    request_id = uuid.uuid4()
    await work.conn.execute(
        INSERT_CANCELLATION_REQUEST,
        work.scope.tenant_id,
        request_id,
        subscription_id,
        work.viewer.user_id,
        work.viewer.tenant_id,
        message,
    )
    await notify(
        work.conn,
        tenant_id=work.scope.tenant_id,
        user_id=subscription["purchaser_user_id"],
        kind="cancellation_requested",
        subject_id=subscription_id,
        message=f"Your admin asks you to cancel your {subscription['product_name']} subscription: {message}",
    )
    return {"subscription_id": str(subscription_id), "cancellation_request_id": str(request_id)}


async def take_control(work: Work, *, subscription_id: uuid.UUID) -> dict[str, Any]:
    """Admins govern it from now on; the purchaser can no longer assign, add or cancel."""
    require(may_govern(work.scope), "subscription", "subscriptionId")
    subscription = await lock_subscription(work, subscription_id)
    _require_purchaser_controlled(subscription["channel"], subscription["controlled_by"], subscription["status"])
    await work.conn.execute(TAKE_CONTROL, work.scope.tenant_id, subscription_id)
    order_id = await write_event_order(work, subscription=subscription, kind="take_over")
    await notify(
        work.conn,
        tenant_id=work.scope.tenant_id,
        user_id=subscription["purchaser_user_id"],
        kind="subscription_taken_over",
        subject_id=subscription_id,
        message=f"Your admins took control of your {subscription['product_name']} subscription.",
    )
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


async def reactivate(work: Work, *, subscription_id: uuid.UUID) -> dict[str, Any]:
    """From EXPIRED or DISABLED back to ACTIVE for a new term; DELETED is final."""
    require(may_administer(work.scope), "subscription", "subscriptionId")
    subscription = await lock_subscription(work, subscription_id)
    if subscription["status"] not in {"expired", "disabled"}:
        raise refuse(
            ErrorCode.CANNOT_REACTIVATE,
            f"A {subscription['status']} subscription cannot be reactivated.",
            "subscriptionId",
        )
    await work.conn.execute(REACTIVATE, work.scope.tenant_id, subscription_id, TERM[subscription["billing_frequency"]])
    order_id = await write_event_order(work, subscription=subscription, kind="reactivate")
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


async def mark_user_departed(work: Work, *, user_id: uuid.UUID, departed_on: datetime.date) -> dict[str, Any]:
    """Rule 11: what the user bought stays active to term and its users keep using it."""
    require(may_administer(work.scope), "user", "userId")
    name = await work.conn.fetchval(MARK_DEPARTED, work.scope.tenant_id, user_id, departed_on)
    if name is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such user.", "userId")
    work.target("User", user_id)
    return {"user_id": str(user_id)}


def _require_purchaser_controlled(channel: str, controlled_by: str, status: str) -> None:
    if channel != "self_service":
        raise refuse(ErrorCode.NOT_SELF_SERVICE, "Only self-service subscriptions have a purchaser.", "subscriptionId")
    if controlled_by == "admins":
        raise refuse(ErrorCode.ALREADY_CONTROLLED, "Admins already control this subscription.", "subscriptionId")
    if status == "deleted":
        raise refuse(ErrorCode.SUBSCRIPTION_NOT_ACTIVE, "The subscription was canceled.", "subscriptionId")
