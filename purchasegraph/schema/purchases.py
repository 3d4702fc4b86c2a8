"""Subscriptions and everything recorded about them."""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Protocol

import strawberry

from purchasegraph.context import Info
from purchasegraph.db import ordering as sortables
from purchasegraph.db.executor import Record
from purchasegraph.db.pagination import PageArgs
from purchasegraph.resolvers import purchases
from purchasegraph.schema.catalogue import Money, product_field
from purchasegraph.schema.connection import Connection, connection_field, connection_from_slice
from purchasegraph.schema.directory import User, load_actor, load_user
from purchasegraph.schema.enums import (
    BillingFrequency,
    CancellationRequestStatus,
    ControlledBy,
    InvoiceStatus,
    OrderKind,
    SubscriptionChannel,
    SubscriptionStatus,
)
from purchasegraph.schema.ids import invoice_page_path
from purchasegraph.schema.node import Node
from purchasegraph.schema.rows import FromRow, from_columns


@strawberry.type(description="A credit card on file; only its owner ever sees it. Never the card number.")
class PaymentMethod(Node, FromRow):
    kind: str = strawberry.field(description="Always `credit_card`: invoicing is not supported.")
    brand: str = strawberry.field(description="Card brand.")
    last4: str = strawberry.field(description="Last four digits.")
    exp_month: int = strawberry.field(description="Expiry month.")
    exp_year: int = strawberry.field(description="Expiry year.")


@strawberry.type(description="A subscription of a product: bought self-service by a user, or centrally.")
class Subscription(Node, FromRow):
    channel: SubscriptionChannel = strawberry.field(description="Self-service or central.")
    controlled_by: ControlledBy = strawberry.field(description="The purchaser, or admins after a take-over.")
    quantity: int = strawberry.field(description="Licenses bought.")
    status: SubscriptionStatus = strawberry.field(description="Where it is in its lifecycle.")
    is_trial: bool = strawberry.field(description="A free trial.")
    term_start: datetime.datetime = strawberry.field(description="Start of the current term.")
    expires_at: datetime.datetime = strawberry.field(description="End of the current term (renewal date).")
    auto_renew: bool = strawberry.field(description="Renews at the end of the term.")
    billing_frequency: BillingFrequency = strawberry.field(description="How often it is billed.")
    unit_price: Money = strawberry.field(description="Price per license per month at purchase.")
    created_at: datetime.datetime = strawberry.field(description="When it was bought.")
    canceled_at: datetime.datetime | None = strawberry.field(description="When it was canceled, if it was.")
    cancel_reason: str | None = strawberry.field(description="Why it was canceled.")
    tenant_id: strawberry.Private[uuid.UUID]
    subscription_id: strawberry.Private[uuid.UUID]
    product_id: strawberry.Private[str]
    purchaser_id: strawberry.Private[uuid.UUID | None]
    payment_method_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Record) -> Subscription:
        return from_columns(cls, row, subscription_id=row["id"], purchaser_id=row["purchaser_user_id"])

    product = product_field("The product subscribed to.")

    @strawberry.field(description="Who bought it self-service; null for central subscriptions.")
    async def purchaser(self, info: Info) -> User | None:
        return await load_user(info, self.tenant_id, self.purchaser_id)

    @strawberry.field(description="The card it is billed to; visible to the card's owner only.")
    async def payment_method(self, info: Info) -> PaymentMethod | None:
        if self.payment_method_id is None:
            return None
        return PaymentMethod.found(await purchases.payment_method(info, self.tenant_id, self.payment_method_id))

    @connection_field(
        sortables.ORDER, description="Order history, newest first: purchases, changes, cancellation, take-over."
    )
    async def orders(self, info: Info, page: PageArgs) -> Connection[Order]:
        slice_ = await purchases.orders_of_subscription(info, self.tenant_id, self.subscription_id, page)
        return connection_from_slice(slice_, Order.from_row)

    @connection_field(sortables.ASSIGNMENT, description="Licenses currently assigned from it, oldest first.")
    async def assignments(self, info: Info, page: PageArgs) -> Connection[Assignment]:
        slice_ = await purchases.assignments_of_subscription(info, self.tenant_id, self.subscription_id, page)
        return connection_from_slice(slice_, Assignment.from_row)

    @connection_field(sortables.INVOICE, description="Bills, newest first.")
    async def invoices(self, info: Info, page: PageArgs) -> Connection[Invoice]:
        slice_ = await purchases.invoices_of_subscription(info, self.tenant_id, self.subscription_id, page)
        return connection_from_slice(slice_, Invoice.from_row)

    @strawberry.field(
        description="The admins' request that its purchaser cancel it: the open one, else the latest answered or "
        "closed; null if none was made. Seen by whole-tenant viewers and by the purchaser asked."
    )
    async def cancellation_request(self, info: Info) -> CancellationRequest | None:
        return CancellationRequest.found(
            await purchases.cancellation_request_of_subscription(info, self.tenant_id, self.subscription_id)
        )


async def load_subscription(info: Info, tenant_id: uuid.UUID, subscription_id: uuid.UUID | None) -> Subscription | None:
    if subscription_id is None:
        return None
    return Subscription.found(await purchases.subscription(info, tenant_id, subscription_id))


class _OfSubscription(Protocol):
    tenant_id: uuid.UUID
    subscription_id: uuid.UUID


def subscription_field(description: str) -> Any:
    """The ``subscription`` field of an object that belongs to one by ``subscription_id``."""

    async def subscription(self: _OfSubscription, info: Info) -> Subscription | None:
        return await load_subscription(info, self.tenant_id, self.subscription_id)

    return strawberry.field(resolver=subscription, description=description)


@strawberry.type(description="One line of a subscription's order history.")
class Order(Node, FromRow):
    kind: OrderKind = strawberry.field(description="What the line did.")
    quantity_delta: int = strawberry.field(description="Licenses added (positive) or removed (negative).")
    quantity_after: int = strawberry.field(description="Licenses on the subscription afterwards.")
    unit_price: Money = strawberry.field(description="Price per license per month.")
    total: Money = strawberry.field(description="Amount charged by this line.")
    created_at: datetime.datetime = strawberry.field(description="When it happened.")
    tenant_id: strawberry.Private[uuid.UUID]
    subscription_id: strawberry.Private[uuid.UUID]
    actor_id: strawberry.Private[uuid.UUID | None]
    actor_tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Record) -> Order:
        return from_columns(cls, row, actor_id=row["actor_user_id"])

    subscription = subscription_field("The subscription the line belongs to.")

    @strawberry.field(description="Who did it, when the viewer may see them (partners act from their own tenant).")
    async def actor(self, info: Info) -> User | None:
        return await load_actor(info, self.tenant_id, self.actor_tenant_id, self.actor_id)


@strawberry.type(description="An order that bought licenses: a new subscription, added licenses or a renewal.")
class Purchase(Node, FromRow):
    kind: OrderKind = strawberry.field(description="PURCHASE, ADD_LICENSES or RENEW.")
    quantity: int = strawberry.field(description="Licenses bought by this purchase.")
    unit_price: Money = strawberry.field(description="Price per license per month.")
    total: Money = strawberry.field(description="Amount of this purchase.")
    purchased_at: datetime.datetime = strawberry.field(description="When it was bought.")
    channel: SubscriptionChannel = strawberry.field(description="Self-service or central: its subscription's channel.")
    tenant_id: strawberry.Private[uuid.UUID]
    subscription_id: strawberry.Private[uuid.UUID]
    product_id: strawberry.Private[str]
    purchaser_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Record) -> Purchase:
        return from_columns(
            cls,
            row,
            # A renewal buys the whole quantity again for a new term.
            quantity=row["quantity_after"] if row["kind"] == "renew" else row["quantity_delta"],
            purchased_at=row["created_at"],
            purchaser_id=row["purchaser_user_id"],
        )

    @strawberry.field(description="Who bought it; null for central purchases.")
    async def purchaser(self, info: Info) -> User | None:
        return await load_user(info, self.tenant_id, self.purchaser_id)

    product = product_field("The product bought.")

    subscription = subscription_field("The subscription this purchase created or grew.")


@strawberry.type(description="A license of a subscription assigned to a user.")
class Assignment(Node, FromRow):
    assigned_at: datetime.datetime = strawberry.field(description="Since when the user holds it.")
    removed_at: datetime.datetime | None = strawberry.field(description="When it was taken back, if it was.")
    tenant_id: strawberry.Private[uuid.UUID]
    subscription_id: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID]
    product_id: strawberry.Private[str]
    assigned_by_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Record) -> Assignment:
        return from_columns(cls, row, assigned_by_id=row["assigned_by"])

    @strawberry.field(description="The user holding the license.")
    async def user(self, info: Info) -> User | None:
        return await load_user(info, self.tenant_id, self.user_id)

    product = product_field("The product licensed.")

    @strawberry.field(
        description=(
            "Who assigned the license (its purchaser, or an admin); null where you may not see that user,"
            " as `User` anywhere else."
        )
    )
    async def assigned_by(self, info: Info) -> User | None:
        return await load_user(info, self.tenant_id, self.assigned_by_id)

    subscription = subscription_field(
        "The subscription the license comes from; null for a licensed user who did not buy it."
    )


@strawberry.type(description="A bill of a subscription; its purchaser is the one billed.")
class Invoice(Node, FromRow):
    period_start: datetime.date = strawberry.field(description="First day billed.")
    period_end: datetime.date = strawberry.field(description="Last day billed.")
    amount: Money = strawberry.field(description="Amount due.")
    status: InvoiceStatus = strawberry.field(description="Open, paid or past due.")
    due_date: datetime.date = strawberry.field(description="When payment is due.")
    paid_at: datetime.datetime | None = strawberry.field(description="When it was paid.")
    number: str = strawberry.field(
        description="The invoice number printed on the bill, e.g. `INV-2026-000123`: the year its period starts"
        " and its place among the tenant's invoices of that year. Unique in the tenant, never changed."
    )
    tenant_id: strawberry.Private[uuid.UUID]
    subscription_id: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="Where the printable invoice is (HTML): a path on this server, fetched with the same bearer"
        " token (`Authorization` header) and scoped like the invoice; 404 for anyone who may not see it."
    )
    def print_url(self) -> str:
        return invoice_page_path(str(self.id))

    subscription = subscription_field("The subscription billed.")


@strawberry.type(
    description="An admin's request that the purchaser of a self-service subscription cancel it. The purchaser "
    "answers it with `answerCancellationRequest`; it closes by itself when the admins take control."
)
class CancellationRequest(Node, FromRow):
    status: CancellationRequestStatus = strawberry.field(description="Open, accepted, declined or closed.")
    message: str = strawberry.field(description="What the admin told the purchaser.")
    response_message: str | None = strawberry.field(description="What the purchaser answered, if anything.")
    created_at: datetime.datetime = strawberry.field(description="When the admin asked.")
    resolved_at: datetime.datetime | None = strawberry.field(
        description="When it was answered or closed; null while open."
    )
    tenant_id: strawberry.Private[uuid.UUID]
    subscription_id: strawberry.Private[uuid.UUID]
    requested_by_id: strawberry.Private[uuid.UUID | None]
    requested_by_tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Record) -> CancellationRequest:
        return from_columns(cls, row, requested_by_id=row["requested_by"])

    subscription = subscription_field("The subscription its purchaser is asked to cancel.")

    @strawberry.field(
        description="The admin who asked, when the viewer may see them (a partner's admin acts from its own tenant)."
    )
    async def requested_by(self, info: Info) -> User | None:
        return await load_actor(info, self.tenant_id, self.requested_by_tenant_id, self.requested_by_id)


async def load_cancellation_request(
    info: Info, tenant_id: uuid.UUID, request_id: uuid.UUID
) -> CancellationRequest | None:
    return CancellationRequest.found(await purchases.cancellation_request(info, tenant_id, request_id))
