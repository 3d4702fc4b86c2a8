"""Subscriptions, orders, assignments, invoices and payment methods, within the viewer's scope."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

from purchasegraph.context import Info
from purchasegraph.db.executor import Record
from purchasegraph.db.pagination import EMPTY_SLICE, PageArgs, Slice
from purchasegraph.db.queries import assignments, cancellations, invoices, orders, payment_methods, subscriptions
from purchasegraph.policy import own_billing_scope


async def subscription(info: Info, tenant_id: uuid.UUID, subscription_id: uuid.UUID) -> Record | None:
    return await info.context.loaders.subscription(info.context.scope_of(tenant_id)).load(subscription_id)


async def subscriptions_of_tenant(
    info: Info,
    tenant_id: uuid.UUID,
    page: PageArgs,
    *,
    channels: Sequence[str] | None,
    product_id: str | None,
    statuses: Sequence[str] | None,
    purchaser_id: uuid.UUID | None,
    expires_before: datetime.datetime | None = None,
    purchased_since: datetime.datetime | None = None,
) -> Slice:
    return await subscriptions.fetch_subscriptions_by_tenant(
        info.context.db,
        scope=info.context.scope_of(tenant_id),
        page=page,
        channels=channels,
        product_id=product_id,
        statuses=statuses,
        purchaser_id=purchaser_id,
        expires_before=expires_before,
        purchased_since=purchased_since,
    )


async def order(info: Info, tenant_id: uuid.UUID, order_id: uuid.UUID) -> Record | None:
    return await info.context.loaders.order(info.context.scope_of(tenant_id)).load(order_id)


async def orders_of_subscription(info: Info, tenant_id: uuid.UUID, subscription_id: uuid.UUID, page: PageArgs) -> Slice:
    loader = info.context.loaders.orders_of_subscription(info.context.scope_of(tenant_id), page)
    return await loader.load(subscription_id)


async def purchases_of_tenant(
    info: Info,
    tenant_id: uuid.UUID,
    page: PageArgs,
    *,
    product_id: str | None,
    purchaser_id: uuid.UUID | None,
    channels: Sequence[str] | None = None,
    expires_before: datetime.datetime | None = None,
    purchased_since: datetime.datetime | None = None,
) -> Slice:
    return await orders.fetch_purchases_by_tenant(
        info.context.db,
        scope=info.context.scope_of(tenant_id),
        page=page,
        product_id=product_id,
        purchaser_id=purchaser_id,
        channels=channels,
        expires_before=expires_before,
        purchased_since=purchased_since,
    )


async def assignment(info: Info, tenant_id: uuid.UUID, assignment_id: uuid.UUID) -> Record | None:
    return await info.context.loaders.assignment(info.context.scope_of(tenant_id)).load(assignment_id)


async def assignments_of_subscription(
    info: Info, tenant_id: uuid.UUID, subscription_id: uuid.UUID, page: PageArgs
) -> Slice:
    loader = info.context.loaders.assignments_of_subscription(info.context.scope_of(tenant_id), page)
    return await loader.load(subscription_id)


async def assignments_of_tenant(
    info: Info, tenant_id: uuid.UUID, page: PageArgs, *, product_id: str | None, user_id: uuid.UUID | None
) -> Slice:
    return await assignments.fetch_assignments_by_tenant(
        info.context.db,
        scope=info.context.scope_of(tenant_id),
        page=page,
        product_id=product_id,
        user_id=user_id,
    )


async def invoice(info: Info, tenant_id: uuid.UUID, invoice_id: uuid.UUID) -> Record | None:
    return await info.context.loaders.invoice(info.context.scope_of(tenant_id)).load(invoice_id)


async def invoices_of_subscription(
    info: Info, tenant_id: uuid.UUID, subscription_id: uuid.UUID, page: PageArgs
) -> Slice:
    loader = info.context.loaders.invoices_of_subscription(info.context.scope_of(tenant_id), page)
    return await loader.load(subscription_id)


async def invoices_of_tenant(
    info: Info,
    tenant_id: uuid.UUID,
    page: PageArgs,
    *,
    statuses: Sequence[str] | None,
    due_before: datetime.date | None,
) -> Slice:
    return await invoices.fetch_invoices_of_tenant(
        info.context.db, scope=info.context.scope_of(tenant_id), page=page, statuses=statuses, due_before=due_before
    )


async def payment_method(info: Info, tenant_id: uuid.UUID, payment_method_id: uuid.UUID) -> Record | None:
    """Only the card's owner gets a row back; the query has no whole-tenant way in."""
    return await info.context.loaders.payment_method(info.context.scope_of(tenant_id)).load(payment_method_id)


async def cancellation_request(info: Info, tenant_id: uuid.UUID, request_id: uuid.UUID) -> Record | None:
    return await info.context.loaders.cancellation_request(info.context.scope_of(tenant_id)).load(request_id)


async def cancellation_request_of_subscription(
    info: Info, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> Record | None:
    loader = info.context.loaders.cancellation_request_of_subscription(info.context.scope_of(tenant_id))
    return await loader.load(subscription_id)


async def cancellation_requests_of_tenant(
    info: Info, tenant_id: uuid.UUID, page: PageArgs, *, statuses: Sequence[str] | None
) -> Slice:
    return await cancellations.fetch_cancellation_requests_by_tenant(
        info.context.db, scope=info.context.scope_of(tenant_id), page=page, statuses=statuses
    )


async def invoices_of_viewer(
    info: Info, page: PageArgs, *, statuses: Sequence[str] | None, due_before: datetime.date | None
) -> Slice:
    """My bills: the signed-in user's own (``policy.own_billing_scope``), whatever their role."""
    scope = own_billing_scope(info.context.viewer)
    if scope is None:
        return EMPTY_SLICE
    return await invoices.fetch_invoices_of_tenant(
        info.context.db, scope=scope, page=page, statuses=statuses, due_before=due_before, own=True
    )


async def payment_methods_of_viewer(info: Info) -> list[Record]:
    """My cards: the cards on file the signed-in user owns (``policy.own_billing_scope``)."""
    scope = own_billing_scope(info.context.viewer)
    if scope is None:
        return []
    return await payment_methods.fetch_payment_methods_of_owner(info.context.db, scope=scope)
