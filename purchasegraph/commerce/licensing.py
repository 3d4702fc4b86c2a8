"""Licenses: assigning and unassigning (never more than were bought, at most MAX_USERS_PER_CALL
users in one call), moving users, asking for a license."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from purchasegraph.commerce.buyers import product_for_buyer
from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.records import (
    ASSIGNABLE_STATUSES,
    lock_managed_subscription,
    notify,
    require,
)
from purchasegraph.commerce.unit_of_work import Problem, Refusal, Work, refuse
from purchasegraph.eligibility import Reason
from purchasegraph.policy import (
    ACTS_ON_ROLES,
    ADMIN_ROLES,
    LICENSE_REQUEST_VISIBLE,
    may_administer,
    may_buy,
    reaches_service_data,
)

MAX_USERS_PER_CALL = 20

# Users of the subscription's tenant among the given ids; any other id is "not in tenant",
# whether it exists elsewhere or not.
SELECT_TENANT_USERS = "SELECT id FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[])"
SELECT_LIVE_ASSIGNEES = """
SELECT user_id FROM license_assignments
 WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL AND user_id = ANY($3::uuid[])
"""
SELECT_ALL_LIVE_ASSIGNEES = """
SELECT user_id FROM license_assignments WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL
"""
INSERT_ASSIGNMENTS = """
INSERT INTO license_assignments (tenant_id, id, subscription_id, user_id, assigned_by, assigned_at)
SELECT $1, gen_random_uuid(), $2, u, $3, app_now() FROM unnest($4::uuid[]) AS u
"""
REMOVE_ASSIGNMENTS = """
UPDATE license_assignments SET removed_at = GREATEST(app_now(), assigned_at)
 WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL AND user_id = ANY($3::uuid[])
"""
# One pending request per user and product (the partial unique index of migration 0021): a second
# one, concurrent or not, inserts nothing and is refused.
INSERT_LICENSE_REQUEST = """
INSERT INTO license_requests (tenant_id, id, product_id, requester_user_id, for_user_ids, status, created_at)
VALUES ($1, $2, $3, $4, $5, 'pending', app_now())
ON CONFLICT (tenant_id, requester_user_id, product_id) WHERE status = 'pending' DO NOTHING
RETURNING id
"""
# A request past its 12 months is gone for the admins too: the same rule as every read of one.
LOCK_LICENSE_REQUEST = f"""
SELECT r.id, r.requester_user_id, r.for_user_ids, r.status, r.product_id, p.name AS product_name
  FROM license_requests r
  JOIN products p ON p.id = r.product_id
 WHERE r.tenant_id = $1 AND r.id = $2
   AND {LICENSE_REQUEST_VISIBLE.format(r="r", whole="$3::bool", viewer="$4::uuid")}
   FOR UPDATE OF r
"""
# Who decides a request, each told of it: the tenant's users holding one of the roles $2
# (policy.ADMIN_ROLES) who act on their roles (a guest holding one gets a guest's scope).
SELECT_ADMINS = f"""
SELECT DISTINCT r.user_id FROM directory_roles r
  JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id
 WHERE r.tenant_id = $1 AND r.role = ANY($2::text[]) AND {ACTS_ON_ROLES.format(u="u")}
"""
DECIDE_LICENSE_REQUEST = """
UPDATE license_requests SET status = $3, decided_by = $4, decided_at = app_now(), assigned_from_subscription_id = $5
 WHERE tenant_id = $1 AND id = $2
"""


def _check_batch(user_ids: Sequence[uuid.UUID]) -> None:
    if not user_ids:
        raise refuse(ErrorCode.INVALID_INPUT, "Name at least one user.", "userIds")
    if len(user_ids) > MAX_USERS_PER_CALL:
        raise refuse(ErrorCode.TOO_MANY_USERS, f"At most {MAX_USERS_PER_CALL} users in one call.", "userIds")
    if len(set(user_ids)) != len(user_ids):
        raise refuse(ErrorCode.INVALID_INPUT, "A user is named twice.", "userIds")


async def _require_tenant_users(work: Work, user_ids: Sequence[uuid.UUID], field: str = "userIds") -> None:
    found = {r["id"] for r in await work.conn.fetch(SELECT_TENANT_USERS, work.scope.tenant_id, list(user_ids))}
    missing = [i for i, user_id in enumerate(user_ids) if user_id not in found]
    if missing:
        raise Refusal(
            *(
                Problem(
                    ErrorCode.USER_NOT_IN_TENANT,
                    "Licenses go only to users of this organization.",
                    (field, str(i)),
                )
                for i in missing
            )
        )


async def _lock_assignable(
    work: Work, subscription_id: uuid.UUID, field: str, *, product_id: str | None = None
) -> dict[str, Any]:
    """The subscription licenses are assigned from, locked so that concurrent assignments on it take
    turns (its free licenses are counted under the lock): governed by the viewer, of ``product_id``
    when one is named, and in a status that takes new assignments."""
    subscription = await lock_managed_subscription(work, subscription_id, field)
    if product_id is not None and subscription["product_id"] != product_id:
        raise refuse(ErrorCode.PRODUCT_MISMATCH, "Assign from a subscription of the product asked for.", field)
    if subscription["status"] not in ASSIGNABLE_STATUSES:
        raise refuse(
            ErrorCode.SUBSCRIPTION_NOT_ACTIVE,
            f"A {subscription['status']} subscription takes no new assignments.",
            field,
        )
    return subscription


def _require_free(subscription: dict[str, Any], wanted: int, field: str, refusal: str) -> None:
    """Never more licenses assigned than were bought: ``wanted`` more need as many free ones (counted
    under the subscription's lock). ``refusal`` may name ``{free}``, ``{quantity}`` and ``{wanted}``."""
    free = subscription["quantity"] - subscription["assigned"]
    if wanted > free:
        message = refusal.format(free=free, quantity=subscription["quantity"], wanted=wanted)
        raise refuse(ErrorCode.NO_LICENSES_LEFT, message, field)


async def _holders(work: Work, subscription_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``user_ids`` who hold a live license of the subscription."""
    rows = await work.conn.fetch(SELECT_LIVE_ASSIGNEES, work.scope.tenant_id, subscription_id, list(user_ids))
    return {r["user_id"] for r in rows}


async def assign_licenses(work: Work, *, subscription_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    """All named users get a license, or none does; never more licenses than were bought."""
    _check_batch(user_ids)
    subscription = await _lock_assignable(work, subscription_id, "subscriptionId")
    await _require_tenant_users(work, user_ids)
    holders = await _holders(work, subscription_id, user_ids)
    if holders:
        raise Refusal(
            *(
                Problem(
                    ErrorCode.ALREADY_ASSIGNED,
                    "This user already holds a license of it.",
                    ("userIds", str(i)),
                )
                for i, user_id in enumerate(user_ids)
                if user_id in holders
            )
        )
    advice = "{free} of {quantity} licenses are free; buy more or unassign some first."
    _require_free(subscription, len(user_ids), "userIds", advice)
    await work.conn.execute(
        INSERT_ASSIGNMENTS, work.scope.tenant_id, subscription_id, work.viewer.user_id, list(user_ids)
    )
    work.details.update(users=[str(u) for u in user_ids])
    return {"subscription_id": str(subscription_id)}


async def unassign_licenses(work: Work, *, subscription_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    _check_batch(user_ids)
    subscription = await lock_managed_subscription(work, subscription_id)
    if not reaches_service_data(work.scope, status=subscription["status"]):
        raise refuse(
            ErrorCode.SUBSCRIPTION_NOT_ACTIVE,
            "A disabled subscription's licenses are for the admins to manage.",
            "subscriptionId",
        )
    holders = await _holders(work, subscription_id, user_ids)
    if len(holders) != len(user_ids):
        raise Refusal(
            *(
                Problem(ErrorCode.NOT_ASSIGNED, "This user holds no license of it.", ("userIds", str(i)))
                for i, user_id in enumerate(user_ids)
                if user_id not in holders
            )
        )
    await work.conn.execute(REMOVE_ASSIGNMENTS, work.scope.tenant_id, subscription_id, list(user_ids))
    work.details.update(users=[str(u) for u in user_ids])
    return {"subscription_id": str(subscription_id)}


async def move_users(work: Work, *, from_subscription_id: uuid.UUID, to_subscription_id: uuid.UUID) -> dict[str, Any]:
    """Centralize: every user of a taken-over subscription moves to another one, which
    needs a free license per user; the old one is then canceled and its purchaser told."""
    from purchasegraph.commerce.purchasing import cancel_locked

    require(may_administer(work.scope), "subscription", "fromSubscriptionId")
    if from_subscription_id == to_subscription_id:
        raise refuse(ErrorCode.SAME_SUBSCRIPTION, "Move users to another subscription.", "toSubscriptionId")
    # Lock in a fixed order so two moves between the same pair cannot deadlock.
    first, second = sorted([from_subscription_id, to_subscription_id])
    fields = {from_subscription_id: "fromSubscriptionId", to_subscription_id: "toSubscriptionId"}
    locked = {
        first: await lock_managed_subscription(work, first, fields[first]),
        second: await lock_managed_subscription(work, second, fields[second]),
    }
    source, target = locked[from_subscription_id], locked[to_subscription_id]
    if source["channel"] != "self_service":
        raise refuse(
            ErrorCode.NOT_SELF_SERVICE,
            "Users are moved off self-service subscriptions.",
            "fromSubscriptionId",
        )
    if source["product_id"] != target["product_id"]:
        raise refuse(
            ErrorCode.PRODUCT_MISMATCH,
            "The target must be a subscription of the same product.",
            "toSubscriptionId",
        )
    if target["status"] not in {"active", "trial"}:
        raise refuse(ErrorCode.SUBSCRIPTION_NOT_ACTIVE, "The target subscription is not active.", "toSubscriptionId")
    tenant_id = work.scope.tenant_id
    users = [r["user_id"] for r in await work.conn.fetch(SELECT_ALL_LIVE_ASSIGNEES, tenant_id, from_subscription_id)]
    already = await _holders(work, to_subscription_id, users)
    moving = [u for u in users if u not in already]
    advice = "The target has {free} free licenses for {wanted} users; add licenses to it first."
    _require_free(target, len(moving), "toSubscriptionId", advice)
    await work.conn.execute(REMOVE_ASSIGNMENTS, tenant_id, from_subscription_id, users)
    await work.conn.execute(INSERT_ASSIGNMENTS, tenant_id, to_subscription_id, work.viewer.user_id, moving)
    await cancel_locked(work, source, reason=f"Users moved to subscription {to_subscription_id}")
    work.target("Subscription", from_subscription_id)
    work.details.update(moved=[str(u) for u in users], to=str(to_subscription_id))
    return {"subscription_id": str(from_subscription_id), "to_subscription_id": str(to_subscription_id)}


async def request_license(work: Work, *, product_id: str, for_user_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    """When a product is blocked by policy, a user asks the admins for it (for them and colleagues)."""
    require(may_buy(work.scope), "tenant", "tenantId")
    # The requester counts: an approval assigns everyone the request is for in one call, and a
    # call assigns at most MAX_USERS_PER_CALL users.
    if len({work.viewer.user_id, *for_user_ids}) > MAX_USERS_PER_CALL:
        raise refuse(
            ErrorCode.TOO_MANY_USERS,
            f"At most {MAX_USERS_PER_CALL} users in one request, you included.",
            "forUserIds",
        )
    # The facts a purchase would be decided on: asking is for what policy alone blocks.
    row, assessment = await product_for_buyer(work, product_id, lock_buyer=False)
    if assessment.eligible:
        raise refuse(ErrorCode.PRODUCT_NOT_BLOCKED, "You can buy this product yourself.", "productId")
    other = [r for r in assessment.reasons if r not in {Reason.POLICY_DISABLED, Reason.TRIALS_ONLY}]
    if other:
        raise Refusal(*(Problem(ErrorCode[r.name], r.value, ("productId",)) for r in other))
    await _require_tenant_users(work, for_user_ids, "forUserIds")
    users = list(dict.fromkeys([work.viewer.user_id, *for_user_ids]))
    request_id = uuid.uuid4()
    inserted = await work.conn.fetchval(
        INSERT_LICENSE_REQUEST, work.scope.tenant_id, request_id, product_id, work.viewer.user_id, users
    )
    if inserted is None:
        raise refuse(
            ErrorCode.LICENSE_ALREADY_REQUESTED,
            "You already asked for this product; the admins have not decided yet.",
            "productId",
        )
    work.target("LicenseRequest", request_id)
    # The admins who decide it are told, and so is every colleague it names.
    who, product = work.viewer.display_name, row["product_name"]
    admins = await work.conn.fetch(SELECT_ADMINS, work.scope.tenant_id, sorted(ADMIN_ROLES))
    told = [(a["user_id"], "license_requested", f"{who} asks for {product} for {len(users)} people.") for a in admins]
    told += [(c, "license_requested_for_you", f"{who} asked the admins for {product} for you.") for c in users[1:]]
    for user_id, kind, message in told:
        await notify(work, user_id=user_id, kind=kind, subject_id=request_id, message=message)
    return {"license_request_id": str(request_id)}


async def decide_license_request(
    work: Work, *, request_id: uuid.UUID, approve: bool, assign_from: uuid.UUID | None = None
) -> dict[str, Any]:
    """Approve or deny a pending request. Approved with a subscription named, everyone the request
    is for gets a license of it in the same transaction, or nothing is written: the subscription
    must be the same product, central or taken over by the admins (one the purchaser still controls
    is theirs to assign), assignable, with a free license for each user who holds none yet."""
    require(may_administer(work.scope), "license request", "requestId")
    scope = work.scope
    row = await work.conn.fetchrow(
        LOCK_LICENSE_REQUEST, scope.tenant_id, request_id, scope.whole_tenant, scope.viewer_id
    )
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such license request.", "requestId")
    work.target("LicenseRequest", request_id)
    if row["status"] != "pending":
        raise refuse(ErrorCode.ALREADY_DECIDED, f"The request was already {row['status']}.", "requestId")
    users: list[uuid.UUID] = list(row["for_user_ids"])
    if assign_from is not None:
        work.details.update(assigned_from=str(assign_from))
        try:
            await _assign_for_request(work, subscription_id=assign_from, product_id=row["product_id"], users=users)
        finally:
            # Locking the subscription named it the target; the audit row, accepted or refused, is the request's.
            work.target("LicenseRequest", request_id)
    status = "approved" if approve else "denied"
    await work.conn.execute(
        DECIDE_LICENSE_REQUEST, scope.tenant_id, request_id, status, work.viewer.user_id, assign_from
    )
    work.details.update(status=status)
    told = "; a license is assigned to you" if assign_from is not None else ""
    for user_id in users:
        await notify(
            work,
            user_id=user_id,
            kind=f"license_request_{status}",
            subject_id=request_id,
            message=f"The request for {row['product_name']} was {status}{told}.",
        )
    return {"license_request_id": str(request_id)}


async def _assign_for_request(
    work: Work, *, subscription_id: uuid.UUID, product_id: str, users: Sequence[uuid.UUID]
) -> None:
    field = "assignFromSubscriptionId"
    subscription = await _lock_assignable(work, subscription_id, field, product_id=product_id)
    holders = await _holders(work, subscription_id, users)
    missing = [u for u in users if u not in holders]
    if len(missing) > MAX_USERS_PER_CALL:  # a request made before the requester counted
        raise refuse(
            ErrorCode.TOO_MANY_USERS,
            f"At most {MAX_USERS_PER_CALL} users in one call: approve without assigning, then assign in parts.",
            field,
        )
    advice = "{free} of {quantity} licenses are free for {wanted} users; add licenses or name another subscription."
    _require_free(subscription, len(missing), field, advice)
    if missing:
        await work.conn.execute(INSERT_ASSIGNMENTS, work.scope.tenant_id, subscription_id, work.viewer.user_id, missing)
    work.details.update(users=[str(u) for u in missing])
