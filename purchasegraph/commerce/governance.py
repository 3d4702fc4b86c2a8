"""What admins (and partners with an admin grant) do: policies, take-over,
cancellation requests, and directory upkeep (global admins: departures and reinstatements)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.records import lock_subscription, notify, require, write_event_order
from purchasegraph.commerce.unit_of_work import Work, refuse
from purchasegraph.policy import (
    ACTS_ON_ROLES,
    USER_ADMIN_ROLES,
    Decision,
    may_administer,
    may_govern,
    may_manage_users,
    may_set_policy,
)

SELECT_SELF_SERVICE_PRODUCT = """
SELECT name, trial_available, trial_requires_payment_method FROM products WHERE id = $1 AND self_service
"""
ONLY_TRIALS_WITHOUT_PAYMENT_METHOD = "only_trials_without_payment_method"
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
SELECT_PENDING_CANCELLATION_REQUEST = """
SELECT EXISTS (SELECT 1 FROM cancellation_requests WHERE tenant_id = $1 AND subscription_id = $2 AND status = 'pending')
"""
TAKE_CONTROL = "UPDATE subscriptions SET controlled_by = 'admins' WHERE tenant_id = $1 AND id = $2"
# Once the admins govern the subscription, nothing is left to ask its purchaser: an open request
# closes without their answer.
CLOSE_OPEN_CANCELLATION_REQUEST = """
UPDATE cancellation_requests SET status = 'closed', resolved_at = app_now()
 WHERE tenant_id = $1 AND subscription_id = $2 AND status = 'pending'
"""
# Directory upkeep. The tenant's global admins, locked in one order before any of them changes:
# of two concurrent departures of its last two, the second sees the first committed and refuses.
# Under READ COMMITTED a row updated while this waited for its lock is read again, as committed.
# They are the holders of a role that keeps the directory ($2, policy.USER_ADMIN_ROLES); one
# counts only if they act on their roles (policy.ACTS_ON_ROLES: a guest holding the role could
# undo nothing).
LOCK_GLOBAL_ADMINS = f"""
SELECT u.id, {ACTS_ON_ROLES.format(u="u")} AS enabled
  FROM users u
 WHERE u.tenant_id = $1
   AND EXISTS (SELECT 1 FROM directory_roles r
                WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id AND r.role = ANY($2::text[]))
 ORDER BY u.id
   FOR UPDATE OF u
"""
LOCK_USER = "SELECT account_enabled, departed_at FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
# A departure or reinstatement rewrites the user's subscriptions too (migration 0023's trigger
# keeps `purchaser_departed` on them). Their rows are locked first, in one order, before any user
# row: the purchaser's own operations lock a subscription and then their user row, and taking the
# two the other way round deadlocked with them.
LOCK_PURCHASERS_SUBSCRIPTIONS = """
SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND purchaser_user_id = $2 ORDER BY id FOR NO KEY UPDATE
"""
# The user left: their account is disabled (it signs in to nothing); what they bought runs to
# term. Their last day defaults to today by the app clock.
MARK_DEPARTED = """
UPDATE users SET departed_at = COALESCE($3::date, app_now()::date), account_enabled = false
 WHERE tenant_id = $1 AND id = $2
RETURNING departed_at
"""
TODAY = "SELECT app_now()::date"
REINSTATE = "UPDATE users SET departed_at = NULL, account_enabled = true WHERE tenant_id = $1 AND id = $2"
# Nobody leaves before their account existed: the first day a departure may name.
SELECT_JOINED = "SELECT created_at::date FROM users WHERE tenant_id = $1 AND id = $2"


async def set_self_service_policy(work: Work, *, product_id: str, value: str) -> dict[str, Any]:
    """Future purchases and trials only: existing subscriptions keep running whatever the policy
    becomes. Set by an application, the policy names no user as its author; the audit event names
    the application."""
    require(may_set_policy(work.scope), "tenant", "tenantId")
    product = await work.conn.fetchrow(SELECT_SELF_SERVICE_PRODUCT, product_id)
    if product is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such self-service product.", "productId")
    # Trials only, without a payment method, on a product whose trial needs a card (or that has no
    # trial) would let nobody start anything: every buyer would be told TRIALS_ONLY and then be
    # refused the trial too. MSCommerce offers the value only for such products; refused here.
    if value == ONLY_TRIALS_WITHOUT_PAYMENT_METHOD and (
        not product["trial_available"] or product["trial_requires_payment_method"]
    ):
        raise refuse(
            ErrorCode.TRIAL_REQUIRES_PAYMENT_METHOD,
            f"{product['name']} has no trial without a payment method: choose ENABLED or DISABLED.",
            "value",
        )
    tenant_id = work.scope.tenant_id
    previous = await work.conn.fetchval(SELECT_POLICY, tenant_id, product_id) or "enabled"
    await work.conn.execute(UPSERT_POLICY, tenant_id, product_id, value, work.principal.user_id)
    work.target("SelfServicePolicy", f"{tenant_id}:{product_id}")
    work.details.update(product_id=product_id, old_value=previous, new_value=value)
    return {"tenant_id": str(tenant_id), "product_id": product_id}


async def request_cancellation(work: Work, *, subscription_id: uuid.UUID, message: str) -> dict[str, Any]:
    """Centralize, step two: ask the purchaser to cancel (they keep control)."""
    subscription = await _lock_purchasers(work, may_administer(work.scope), subscription_id)
    # At most one open request: checked under the subscription's lock (concurrent requests take
    # turns), and a partial unique index on the pending requests holds it in the database too.
    if await work.conn.fetchval(SELECT_PENDING_CANCELLATION_REQUEST, work.scope.tenant_id, subscription_id):
        raise refuse(
            ErrorCode.CANCELLATION_ALREADY_REQUESTED,
            "The purchaser was already asked to cancel it and has not answered yet.",
            "subscriptionId",
        )
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
    asked = f"Your admin asks you to cancel your {subscription['product_name']} subscription: {message}"
    await _tell_purchaser(work, subscription, "cancellation_requested", asked)
    return {"subscription_id": str(subscription_id), "cancellation_request_id": str(request_id)}


async def take_control(work: Work, *, subscription_id: uuid.UUID) -> dict[str, Any]:
    """Admins govern it from now on; the purchaser can no longer assign, add or cancel."""
    subscription = await _lock_purchasers(work, may_govern(work.scope), subscription_id)
    await work.conn.execute(TAKE_CONTROL, work.scope.tenant_id, subscription_id)
    await work.conn.execute(CLOSE_OPEN_CANCELLATION_REQUEST, work.scope.tenant_id, subscription_id)
    order_id = await write_event_order(work, subscription=subscription, kind="take_over")
    taken = f"Your admins took control of your {subscription['product_name']} subscription."
    await _tell_purchaser(work, subscription, "subscription_taken_over", taken)
    return {"subscription_id": str(subscription_id), "order_id": str(order_id)}


async def mark_user_departed(work: Work, *, user_id: uuid.UUID, departed_on: datetime.date | None) -> dict[str, Any]:
    """The user left: their account is disabled, and what they bought stays active to term for its
    users. Never oneself, never the tenant's last enabled global admin (nothing could undo that)."""
    require(may_manage_users(work.scope), "user", "userId")
    if user_id == work.scope.viewer_id:
        raise refuse(ErrorCode.CANNOT_MARK_SELF, "You cannot mark your own account departed.", "userId")
    if departed_on is not None and departed_on > await work.conn.fetchval(TODAY):
        raise refuse(
            ErrorCode.INVALID_INPUT, "Their last day is today or before: mark them once they have left.", "departedOn"
        )
    tenant_id = work.scope.tenant_id
    await work.conn.execute(LOCK_PURCHASERS_SUBSCRIPTIONS, tenant_id, user_id)
    admins = {
        r["id"]: r["enabled"] for r in await work.conn.fetch(LOCK_GLOBAL_ADMINS, tenant_id, sorted(USER_ADMIN_ROLES))
    }
    if admins.get(user_id) and sum(admins.values()) == 1:
        raise refuse(
            ErrorCode.LAST_GLOBAL_ADMIN,
            "This is the organization's last enabled global admin: make another global admin first.",
            "userId",
        )
    joined = await work.conn.fetchval(SELECT_JOINED, tenant_id, user_id)
    if departed_on is not None and joined is not None and departed_on < joined:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            f"Their last day is on or after {joined.isoformat()}, the day their account was created.",
            "departedOn",
        )
    day = await work.conn.fetchval(MARK_DEPARTED, tenant_id, user_id, departed_on)
    if day is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such user.", "userId")
    work.details.update(departed_on=day.isoformat())
    return {"user_id": str(user_id)}


async def reinstate_user(work: Work, *, user_id: uuid.UUID) -> dict[str, Any]:
    """Undo a departure: the account is enabled again and the user no longer counts as left."""
    require(may_manage_users(work.scope), "user", "userId")
    tenant_id = work.scope.tenant_id
    await work.conn.execute(LOCK_PURCHASERS_SUBSCRIPTIONS, tenant_id, user_id)
    row = await work.conn.fetchrow(LOCK_USER, tenant_id, user_id)
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such user.", "userId")
    if row["account_enabled"] and row["departed_at"] is None:
        raise refuse(ErrorCode.USER_NOT_DEPARTED, "This user has not left and can sign in.", "userId")
    await work.conn.execute(REINSTATE, tenant_id, user_id)
    if row["departed_at"] is not None:
        work.details.update(departed_on=row["departed_at"].isoformat())
    return {"user_id": str(user_id)}


async def _lock_purchasers(work: Work, decision: Decision, subscription_id: uuid.UUID) -> dict[str, Any]:
    """The subscription a step of centralizing acts on (asking its purchaser to cancel, taking it
    over), locked: where ``decision`` allows the step, a self-service one its purchaser still
    controls, not canceled."""
    require(decision, "subscription", "subscriptionId")
    subscription = await lock_subscription(work, subscription_id)
    if subscription["channel"] != "self_service":
        raise refuse(ErrorCode.NOT_SELF_SERVICE, "Only self-service subscriptions have a purchaser.", "subscriptionId")
    if subscription["controlled_by"] == "admins":
        raise refuse(ErrorCode.ALREADY_CONTROLLED, "Admins already control this subscription.", "subscriptionId")
    if subscription["status"] == "deleted":
        raise refuse(ErrorCode.SUBSCRIPTION_NOT_ACTIVE, "The subscription was canceled.", "subscriptionId")
    return subscription


async def _tell_purchaser(work: Work, subscription: dict[str, Any], kind: str, message: str) -> None:
    await notify(
        work, user_id=subscription["purchaser_user_id"], kind=kind, subject_id=subscription["id"], message=message
    )
