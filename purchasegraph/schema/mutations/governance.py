"""What the admins decide: the self-service policy, taking control, cancellation requests, departures.

Also where anyone marks what they were told read: the notifications these decisions send.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable
from functools import partial
from typing import Annotated, Any, Protocol, cast

import strawberry

from purchasegraph.commerce import cancellations, governance, notifications
from purchasegraph.commerce.unit_of_work import Work
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
        operation=partial(governance.set_self_service_policy, product_id=key, value=policy_value),
    )


@strawberry.mutation(description="Admins: ask the purchaser of a self-service subscription to cancel it.")
async def request_cancellation(
    info: Info,
    subscription_id: SubscriptionIdArg,
    message: Annotated[str, free_text("What the purchaser is told.")] = "",
) -> SubscriptionPayload:
    return await change_subscription(
        info,
        subscription_id,
        "subscription.request_cancellation",
        partial(governance.request_cancellation, message=message),
        texts={"message": message},
    )


@strawberry.mutation(
    description="The purchaser asked: accept an admin's cancellation request (the subscription is canceled in "
    "the same transaction) or decline it."
)
async def answer_cancellation_request(
    info: Info,
    request_id: Annotated[strawberry.ID, strawberry.argument(description="The request (CancellationRequest ID).")],
    accept: Annotated[bool, strawberry.argument(description="True cancels the subscription; false declines.")],
    message: Annotated[str, free_text("Your answer to the admins.")] = "",
) -> CancellationRequestPayload:
    request = sent(info, request_id, "CancellationRequest", "requestId")
    return await mutate(
        info,
        CancellationRequestPayload,
        action="cancellation_request.accept" if accept else "cancellation_request.decline",
        on=request,
        operation=lambda work: cancellations.answer(work, request_id=request.id, accept=accept, message=message),
        texts={"message": message},
    )


@strawberry.mutation(description="Admins: take control of a self-service subscription (the purchaser loses it).")
async def take_control_of_subscription(info: Info, subscription_id: SubscriptionIdArg) -> SubscriptionPayload:
    return await change_subscription(info, subscription_id, "subscription.take_over", governance.take_control)


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
        operation=partial(notifications.mark_read, ids=keys),
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
    return await _change_user(
        info, user_id, "user.mark_departed", partial(governance.mark_user_departed, departed_on=departed_on)
    )


@strawberry.mutation(
    description="Global admins: undo a departure. The account is enabled again; the user no longer counts as left."
)
async def reinstate_user(info: Info, user_id: UserIdArg) -> UserPayload:
    return await _change_user(info, user_id, "user.reinstate", governance.reinstate_user)


class UserChange(Protocol):
    def __call__(self, work: Work, *, user_id: uuid.UUID) -> Awaitable[dict[str, Any]]: ...


async def _change_user(info: Info, user_id: str, action: str, change: UserChange) -> UserPayload:
    user = sent(info, user_id, "User", "userId")
    return await mutate(info, UserPayload, action=action, on=user, operation=lambda work: change(work, user_id=user.id))
