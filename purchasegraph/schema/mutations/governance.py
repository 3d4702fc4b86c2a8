"""What the admins decide: the self-service policy, taking control, cancellation requests, departures.

Also where anyone marks what they were told read: the notifications these decisions send.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, cast

import strawberry

from purchasegraph.commerce import cancellations, governance, notifications
from purchasegraph.context import Info
from purchasegraph.schema.enums import SelfServicePolicyValue
from purchasegraph.schema.ids import decode_id, decode_uuid, product_key
from purchasegraph.schema.mutations import (
    ProductIdArg,
    SubscriptionIdArg,
    Target,
    UserIdArg,
    change_subscription,
    free_text,
    mutate,
    sent,
)
from purchasegraph.schema.payloads import (
    CancellationRequestPayload,
    MarkNotificationsReadPayload,
    SelfServicePolicyPayload,
    SubscriptionPayload,
    UserPayload,
)


@strawberry.mutation(
    description="Admins: turn self-service purchase of a product on or off (AllowSelfServicePurchase)."
)
async def set_self_service_policy(
    info: Info,
    tenant_id: Annotated[strawberry.ID, strawberry.argument(description="The tenant (UUID or Tenant ID).")],
    product_id: ProductIdArg,
    value: Annotated[
        SelfServicePolicyValue,
        strawberry.argument(description="The new value; applies to future purchases and trials only."),
    ],
) -> SelfServicePolicyPayload:
    tenant = sent(info, tenant_id, "Tenant", "tenantId")
    key = product_key(product_id)
    policy_value = cast(str, value.value)
    return await mutate(
        info,
        SelfServicePolicyPayload,
        action="self_service_policy.update",
        on=Target("SelfServicePolicy", f"{tenant.key}:{key}", tenant.key),
        refs=[tenant],
        operation=lambda work: governance.set_self_service_policy(work, product_id=key, value=policy_value),
    )


@strawberry.mutation(description="Admins: ask the purchaser of a self-service subscription to cancel it.")
async def request_cancellation(
    info: Info,
    subscription_id: SubscriptionIdArg,
    message: Annotated[
        str, strawberry.argument(description="What the purchaser is told. At most 1,000 characters.")
    ] = "",
) -> SubscriptionPayload:
    return await change_subscription(
        info,
        subscription_id,
        "subscription.request_cancellation",
        lambda work, sid: governance.request_cancellation(
            work, subscription_id=sid, message=free_text(message, "message")
        ),
    )


@strawberry.mutation(
    description="The purchaser asked: accept an admin's cancellation request (the subscription is canceled in "
    "the same transaction) or decline it."
)
async def answer_cancellation_request(
    info: Info,
    request_id: Annotated[strawberry.ID, strawberry.argument(description="The request (CancellationRequest ID).")],
    accept: Annotated[bool, strawberry.argument(description="True cancels the subscription; false declines.")],
    message: Annotated[
        str, strawberry.argument(description="Your answer to the admins. At most 1,000 characters.")
    ] = "",
) -> CancellationRequestPayload:
    request = sent(info, request_id, "CancellationRequest", "requestId")
    return await mutate(
        info,
        CancellationRequestPayload,
        action="cancellation_request.accept" if accept else "cancellation_request.decline",
        on=request,
        operation=lambda work: cancellations.answer(
            work, request_id=request.id, accept=accept, message=free_text(message, "message")
        ),
    )


@strawberry.mutation(description="Admins: take control of a self-service subscription (the purchaser loses it).")
async def take_control_of_subscription(info: Info, subscription_id: SubscriptionIdArg) -> SubscriptionPayload:
    return await change_subscription(
        info,
        subscription_id,
        "subscription.take_over",
        lambda work, sid: governance.take_control(work, subscription_id=sid),
    )


@strawberry.mutation(
    description="Mark your notifications read: the named ones, or all of yours when `ids` is null. "
    "Only ever your own: another's id is NOT_FOUND, and then nothing is marked."
)
async def mark_notifications_read(
    info: Info,
    ids: Annotated[
        list[strawberry.ID] | None,
        strawberry.argument(description="Notification IDs, at most 100; null: all of yours."),
    ] = None,
) -> MarkNotificationsReadPayload:
    viewer = info.context.viewer
    keys = None if ids is None else [_notification_key(i, viewer.tenant_id if viewer else None) for i in ids]
    # "all", or the named ones: a UUID each, "unknown" for an id that names no notification of theirs.
    named = "all" if keys is None else ",".join("unknown" if k is None else str(k) for k in keys)
    return await mutate(
        info,
        MarkNotificationsReadPayload,
        action="notification.mark_read",
        on=Target("Notification", named),
        operation=lambda work: notifications.mark_read(work, ids=keys),
    )


def _notification_key(value: str, home: uuid.UUID | None) -> uuid.UUID | None:
    """A Notification ID of the caller's own tenant as its UUID; anything else names none of theirs."""
    gid = decode_id(value)
    return decode_uuid(value, "Notification") if gid is not None and gid.tenant_id == home else None


@strawberry.mutation(
    description="Global admins: record that a user left the organization. Their account is disabled "
    "(it signs in to nothing); their purchases run to term. Never yourself, never the last global admin."
)
async def mark_user_departed(
    info: Info,
    user_id: UserIdArg,
    departed_on: Annotated[
        datetime.date | None, strawberry.argument(description="Their last day: today or before; default today.")
    ] = None,
) -> UserPayload:
    user = sent(info, user_id, "User", "userId")
    return await mutate(
        info,
        UserPayload,
        action="user.mark_departed",
        on=user,
        operation=lambda work: governance.mark_user_departed(work, user_id=user.id, departed_on=departed_on),
    )


@strawberry.mutation(
    description="Global admins: undo a departure. The account is enabled again; the user no longer counts as left."
)
async def reinstate_user(info: Info, user_id: UserIdArg) -> UserPayload:
    user = sent(info, user_id, "User", "userId")
    return await mutate(
        info,
        UserPayload,
        action="user.reinstate",
        on=user,
        operation=lambda work: governance.reinstate_user(work, user_id=user.id),
    )
