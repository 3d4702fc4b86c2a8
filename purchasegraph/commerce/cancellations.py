"""The purchaser's answer to an admin's cancellation request: accept (the subscription is canceled in
the same transaction) or decline. Closing a request without an answer happens where the admins take
control (``governance.take_control``) and where the subscription is canceled (``purchasing``)."""

from __future__ import annotations

import uuid
from typing import Any

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.purchasing import cancel_subscription
from purchasegraph.commerce.records import lock_subscription, notify, require
from purchasegraph.commerce.unit_of_work import Work, refuse
from purchasegraph.policy import CANCELLATION_REQUEST_VISIBLE, may_answer_cancellation

# The request, if the viewer sees it; its subscription is locked before the request itself, in the
# order every operation on a subscription takes them (request, take-over, cancel).
SELECT_REQUEST = f"""
SELECT c.subscription_id FROM cancellation_requests c
 WHERE c.tenant_id = $1 AND c.id = $2
   AND {CANCELLATION_REQUEST_VISIBLE.format(c="c", j="cs", whole="$3::bool", viewer="$4::uuid")}
"""
LOCK_REQUEST = """
SELECT c.status, c.message, c.requested_by, c.requested_by_tenant_id
  FROM cancellation_requests c WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE
"""
ANSWER_REQUEST = """
UPDATE cancellation_requests SET status = $3, response_message = $4, resolved_at = app_now()
 WHERE tenant_id = $1 AND id = $2
"""
# What the cancellation records as its reason when the purchaser gives none.
DEFAULT_REASON = "Canceled at the admins' request."


async def answer(work: Work, *, request_id: uuid.UUID, accept: bool, message: str) -> dict[str, Any]:
    scope = work.scope
    subscription_id = None
    if scope.sees_anything:
        subscription_id = await work.conn.fetchval(
            SELECT_REQUEST, scope.tenant_id, request_id, scope.whole_tenant, scope.viewer_id
        )
    if subscription_id is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such cancellation request.", "requestId")
    subscription = await lock_subscription(work, subscription_id, "requestId")
    work.target("CancellationRequest", request_id)
    require(
        may_answer_cancellation(scope, purchaser_id=subscription["purchaser_user_id"]),
        "cancellation request",
        "requestId",
    )
    request = await work.conn.fetchrow(LOCK_REQUEST, scope.tenant_id, request_id)
    if request["status"] != "pending":
        raise refuse(ErrorCode.ALREADY_DECIDED, f"The request is already {request['status']}.", "requestId")
    if subscription["status"] == "deleted":
        # Reached DELETED by its dates before the sweep closed the request: nothing to answer.
        raise refuse(
            ErrorCode.SUBSCRIPTION_NOT_ACTIVE, "The subscription is deleted: the request is closed.", "requestId"
        )
    status = "accepted" if accept else "declined"
    await work.conn.execute(ANSWER_REQUEST, scope.tenant_id, request_id, status, message or None)
    work.details.update(answer=status, subscription_id=str(subscription_id))
    result: dict[str, Any] = {"cancellation_request_id": str(request_id), "subscription_id": str(subscription_id)}
    if accept:
        canceled = await cancel_subscription(work, subscription_id=subscription_id, reason=message or DEFAULT_REASON)
        result["order_id"] = canceled["order_id"]
        work.target("CancellationRequest", request_id)  # the cancellation named the subscription
    elif request["requested_by"] is not None and request["requested_by_tenant_id"] == scope.tenant_id:
        # A partner's admin is told in its own tenant's feed, which this purchaser cannot write to.
        await notify(
            work,
            user_id=request["requested_by"],
            kind="cancellation_declined",
            subject_id=subscription_id,
            message=f"{work.viewer.display_name} declined to cancel their {subscription['product_name']} subscription"
            + (f": {message}" if message else "."),
        )
    return result
