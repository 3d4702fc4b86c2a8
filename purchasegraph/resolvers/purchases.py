"""Subscriptions, orders, assignments, invoices and payment methods, within the viewer's scope."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Unpack

from purchasegraph.context import Info
from purchasegraph.db.executor import Record
from purchasegraph.db.loaders import ByIds, BySubscriptions
from purchasegraph.db.pagination import EMPTY_SLICE, PageArgs, Slice
from purchasegraph.db.queries import assignments, cancellations, invoices, orders, payment_methods, subscriptions
from purchasegraph.policy import own_billing_scope


async def _in_tenant(fetch: ByIds, info: Info, tenant_id: uuid.UUID, key: uuid.UUID) -> Record | None:
    """The object ``fetch`` finds by ``key``, as far as the viewer's scope in the tenant reaches."""
    return await info.context.loaders.by_id(fetch, info.context.scope_of(tenant_id)).load(key)


async def _of_subscription(
    fetch: BySubscriptions, info: Info, tenant_id: uuid.UUID, subscription_id: uuid.UUID, page: PageArgs
) -> Slice:
    """A page of the subscription's children, batched with its siblings' (``Loaders.of_subscription``)."""
    return await info.context.loaders.of_subscription(fetch, info.context.scope_of(tenant_id), page).load(
        subscription_id
    )


# Each type's objects by id, and each subscription's children, as far as the viewer's scope reaches.
subscription = partial(_in_tenant, subscriptions.fetch_subscriptions_by_id)
order = partial(_in_tenant, orders.fetch_orders_by_id)
orders_of_subscription = partial(_of_subscription, orders.fetch_orders_by_subscription)
assignment = partial(_in_tenant, assignments.fetch_assignments_by_id)
assignments_of_subscription = partial(_of_subscription, assignments.fetch_assignments_by_subscription)
invoice = partial(_in_tenant, invoices.fetch_invoices_by_id)
invoices_of_subscription = partial(_of_subscription, invoices.fetch_invoices_by_subscription)
# Only the card's owner gets a row back; the query has no whole-tenant way in.
payment_method = partial(_in_tenant, payment_methods.fetch_payment_methods_by_id)
cancellation_request = partial(_in_tenant, cancellations.fetch_cancellation_requests_by_id)


async def subscriptions_of_tenant(
    info: Info, tenant_id: uuid.UUID, page: PageArgs, **filters: Unpack[subscriptions.SubscriptionFilters]
) -> Slice:
    scope = info.context.scope_of(tenant_id)
    return await subscriptions.fetch_subscriptions_by_tenant(info.context.db, scope=scope, page=page, **filters)


async def purchases_of_tenant(
    info: Info, tenant_id: uuid.UUID, page: PageArgs, **filters: Unpack[subscriptions.PurchaseFilters]
) -> Slice:
    scope = info.context.scope_of(tenant_id)
    return await orders.fetch_purchases_by_tenant(info.context.db, scope=scope, page=page, **filters)


async def assignments_of_tenant(
    info: Info, tenant_id: uuid.UUID, page: PageArgs, *, product_id: str | None, user_id: uuid.UUID | None
) -> Slice:
    scope = info.context.scope_of(tenant_id)
    return await assignments.fetch_assignments_by_tenant(
        info.context.db, scope=scope, page=page, product_id=product_id, user_id=user_id
    )


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
