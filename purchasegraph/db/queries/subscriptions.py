"""Subscriptions: a member sees what they bought; whole-tenant viewers see all of them.

Who sees which is ``policy.SUBSCRIPTION_VISIBLE``: a purchaser keeps the billing record of a
DISABLED subscription (its status, orders and invoices), whose service data is for admins only.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import TypedDict, Unpack

from purchasegraph.db import ordering
from purchasegraph.db.batch import ObjectsById, RowSource, array, fetch_tenant_page
from purchasegraph.db.executor import Executor
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.policy import SUBSCRIPTION_VISIBLE, Scope

ROWS = RowSource(
    source="FROM subscriptions s",
    alias="s",
    columns="""s.tenant_id, s.id, s.product_id, s.channel, s.purchaser_user_id, s.controlled_by,
       s.quantity, effective_status(s) AS status, s.is_trial, s.term_start, s.expires_at, s.auto_renew,
       s.billing_frequency, s.payment_method_id, s.unit_price, s.currency, s.created_at,
       s.canceled_at, s.cancel_reason""",
)

SELECT_SUBSCRIPTIONS_BY_ID = ROWS.by_ids(SUBSCRIPTION_VISIBLE.format(s="s", whole="$3::bool", viewer="$4::uuid"))
fetch_subscriptions_by_id = ObjectsById(SELECT_SUBSCRIPTIONS_BY_ID)

# The list's filters over a subscription `{s}`, each NULL for any: {channels} text[], {product}
# text, {statuses} text[], {purchaser} uuid, {expires_before} and {purchased_since} timestamptz
# (the term ends strictly before it; bought at or after it). Shared with the compiled read path.
FILTERS = """({channels} IS NULL OR {s}.channel = ANY({channels}))
        AND ({product} IS NULL OR {s}.product_id = {product})
        AND ({statuses} IS NULL OR effective_status({s}) = ANY({statuses}))
        AND ({purchaser} IS NULL OR {s}.purchaser_user_id = {purchaser})
        AND ({expires_before} IS NULL OR {s}.expires_at < {expires_before})
        AND ({purchased_since} IS NULL OR {s}.created_at >= {purchased_since})"""

# Filters: $9 channels text[], $10 product id, $11 statuses text[], $12 purchaser uuid,
# $13 expires before, $14 purchased since (timestamptz) (NULL = any).
_FILTERS = FILTERS.format(
    s="s",
    channels="$9::text[]",
    product="$10::text",
    statuses="$11::text[]",
    purchaser="$12::uuid",
    expires_before="$13::timestamptz",
    purchased_since="$14::timestamptz",
)
SELECT_SUBSCRIPTIONS_BY_TENANT = ROWS.listing(
    "tenant_id",
    f"""{SUBSCRIPTION_VISIBLE.format(s="s", whole="$7::bool", viewer="$8::uuid")}
        AND {_FILTERS}""",
    ordering.SUBSCRIPTION,
)


class PurchaseFilters(TypedDict, total=False):
    """Filters on a subscription bought (FILTERS), each absent or None for any: those the purchases
    list takes too (``orders.PURCHASE_FILTERS``, ``PURCHASE_ORDER_FILTERS``)."""

    product_id: str | None
    purchaser_id: uuid.UUID | None
    channels: Sequence[str] | None
    expires_before: datetime.datetime | None
    purchased_since: datetime.datetime | None


class SubscriptionFilters(PurchaseFilters, total=False):
    """The subscriptions list's filters: those, and the subscriptions' statuses."""

    statuses: Sequence[str] | None


async def fetch_subscriptions_by_tenant(
    db: Executor, *, scope: Scope, page: PageArgs, **filters: Unpack[SubscriptionFilters]
) -> Slice:
    params = (
        array(filters.get("channels")),
        filters.get("product_id"),
        array(filters.get("statuses")),
        filters.get("purchaser_id"),
        filters.get("expires_before"),
        filters.get("purchased_since"),
    )
    return await fetch_tenant_page(db, SELECT_SUBSCRIPTIONS_BY_TENANT, scope=scope, page=page, filters=params)
