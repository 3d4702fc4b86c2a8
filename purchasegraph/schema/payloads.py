"""What mutations return: the objects a change left behind, or the ``userErrors`` that refused it.

Each payload is built one of two ways: ``Payload(user_errors=...)`` when refused (every object
null or empty), or ``await Payload.built(info, data, tenant_id)`` from the ids an accepted
operation returned, read back through the same loaders and scope as any query.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Self

import strawberry

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.unit_of_work import Problem
from purchasegraph.context import Info
from purchasegraph.resolvers import purchases
from purchasegraph.schema.directory import User, load_user
from purchasegraph.schema.ids import encode_id
from purchasegraph.schema.purchases import (
    CancellationRequest,
    Invoice,
    Order,
    PaymentMethod,
    Subscription,
    load_cancellation_request,
    load_subscription,
)
from purchasegraph.schema.tenants import LicenseRequest, SelfServicePolicy, load_license_request, load_policy

Data = dict[str, Any]


@strawberry.type(description="Why a mutation refused, in terms a program can act on.")
class UserError:
    code: ErrorCode = strawberry.field(description="Stable code; see the ErrorCode enum.")
    field: list[str] | None = strawberry.field(description="Path of the input at fault, if one is.")
    message: str = strawberry.field(description="What went wrong, for a person.")


def user_errors(problems: Sequence[Problem]) -> list[UserError]:
    return [UserError(code=p.code, field=list(p.field) if p.field else None, message=p.message) for p in problems]


def refusals() -> Any:
    """The ``userErrors`` field every payload ends with."""
    return strawberry.field(default_factory=list, description="Why it was refused; empty on success.")


@strawberry.type(description="The result of a mutation on a subscription.")
class SubscriptionPayload:
    subscription: Subscription | None = strawberry.field(default=None, description="The subscription as it is now.")
    order: Order | None = strawberry.field(
        default=None, description="The order line the change wrote, if it wrote one."
    )
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        subscription = await load_subscription(info, tenant_id, uuid.UUID(data["subscription_id"]))
        if "order_id" not in data:
            return cls(subscription=subscription)
        order = Order.found(await purchases.order(info, tenant_id, uuid.UUID(data["order_id"])))
        return cls(subscription=subscription, order=order)


@strawberry.type(description="The result of moving users between subscriptions.")
class MoveUsersPayload:
    from_subscription: Subscription | None = strawberry.field(default=None, description="The source, now DELETED.")
    to_subscription: Subscription | None = strawberry.field(default=None, description="The target, holding the users.")
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        return cls(
            from_subscription=await load_subscription(info, tenant_id, uuid.UUID(data["subscription_id"])),
            to_subscription=await load_subscription(info, tenant_id, uuid.UUID(data["to_subscription_id"])),
        )


@strawberry.type(description="The result of saving a card.")
class PaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(
        default=None, description="The saved card (brand, last 4, expiry)."
    )
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        card = await purchases.payment_method(info, tenant_id, uuid.UUID(data["payment_method_id"]))
        return cls(payment_method=PaymentMethod.found(card))


@strawberry.type(description="The result of removing a saved card.")
class RemovePaymentMethodPayload:
    removed_payment_method_id: strawberry.ID | None = strawberry.field(
        default=None, description="The card removed (PaymentMethod ID); null when refused."
    )
    moved_subscriptions: list[Subscription] = strawberry.field(
        default_factory=list,
        description="The subscriptions it paid, now billed to the card that took over; empty when none moved.",
    )
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        moved = [await load_subscription(info, tenant_id, uuid.UUID(i)) for i in data["moved_subscription_ids"]]
        return cls(
            removed_payment_method_id=strawberry.ID(encode_id("PaymentMethod", data["payment_method_id"], tenant_id)),
            moved_subscriptions=[m for m in moved if m is not None],
        )


@strawberry.type(description="The result of paying an invoice.")
class InvoicePayload:
    invoice: Invoice | None = strawberry.field(default=None, description="The invoice as it is now.")
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        invoice = await purchases.invoice(info, tenant_id, uuid.UUID(data["invoice_id"]))
        return cls(invoice=Invoice.found(invoice))


@strawberry.type(description="The result of changing a self-service policy.")
class SelfServicePolicyPayload:
    policy: SelfServicePolicy | None = strawberry.field(default=None, description="The policy as it is now.")
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        return cls(policy=await load_policy(info, tenant_id, data["product_id"]))


@strawberry.type(description="The result of a license request or a decision on one.")
class LicenseRequestPayload:
    license_request: LicenseRequest | None = strawberry.field(default=None, description="The request as it is now.")
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        request_id = uuid.UUID(data["license_request_id"])
        return cls(license_request=await load_license_request(info, tenant_id, request_id))


@strawberry.type(description="The result of answering a cancellation request.")
class CancellationRequestPayload:
    cancellation_request: CancellationRequest | None = strawberry.field(
        default=None, description="The request as it is now."
    )
    subscription: Subscription | None = strawberry.field(
        default=None,
        description="The subscription asked about, as it is now (DELETED when the request was accepted).",
    )
    order: Order | None = strawberry.field(
        default=None, description="The cancellation's order line, when the request was accepted."
    )
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        request_id = uuid.UUID(data["cancellation_request_id"])
        request = await load_cancellation_request(info, tenant_id, request_id)
        changed = await SubscriptionPayload.built(info, data, tenant_id)  # accepted, the request canceled it
        return cls(cancellation_request=request, subscription=changed.subscription, order=changed.order)


@strawberry.type(description="The result of marking notifications read.")
class MarkNotificationsReadPayload:
    marked_count: int = strawberry.field(default=0, description="How many were unread and are now read.")
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        return cls(marked_count=int(data["marked"]))


@strawberry.type(description="The result of a change to a user.")
class UserPayload:
    user: User | None = strawberry.field(default=None, description="The user as they are now.")
    user_errors: list[UserError] = refusals()

    @classmethod
    async def built(cls, info: Info, data: Data, tenant_id: uuid.UUID) -> Self:
        return cls(user=await load_user(info, tenant_id, uuid.UUID(data["user_id"])))
