"""Order history: visible wherever its subscription is (``policy.SUBSCRIPTION_VISIBLE``)."""

from __future__ import annotations

from typing import Unpack

from purchasegraph.db import ordering
from purchasegraph.db.batch import ObjectsById, PagesBySubscription, RowSource, array, fetch_tenant_page
from purchasegraph.db.executor import Executor
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.db.queries.subscriptions import PurchaseFilters
from purchasegraph.policy import SUBSCRIPTION_VISIBLE, Scope

ROWS = RowSource(
    source="FROM orders o JOIN subscriptions s ON s.tenant_id = o.tenant_id AND s.id = o.subscription_id",
    alias="o",
    columns="""o.tenant_id, o.id, o.subscription_id, o.kind, o.actor_user_id, o.actor_tenant_id,
       o.quantity_delta, o.quantity_after, o.unit_price, o.total, o.currency, o.created_at,
       s.product_id, s.purchaser_user_id, s.channel""",
)

# A purchase is an order that bought licenses: what admins see as a purchase's order history and
# purchase price.
PURCHASE_KINDS = ("purchase", "add_licenses", "renew")

SELECT_ORDERS_BY_ID = ROWS.by_ids(SUBSCRIPTION_VISIBLE.format(s="s", whole="$3::bool", viewer="$4::uuid"))
fetch_orders_by_id = ObjectsById(SELECT_ORDERS_BY_ID)

# Newest first: the order history reads like a statement.
_LISTED = SUBSCRIPTION_VISIBLE.format(s="s", whole="$7::bool", viewer="$8::uuid")
SELECT_ORDERS_BY_SUBSCRIPTION = ROWS.listing("subscription_id", _LISTED, ordering.ORDER)
fetch_orders_by_subscription = PagesBySubscription(SELECT_ORDERS_BY_SUBSCRIPTION)

# An order `{o}` that bought licenses: its kind is one of PURCHASE_KINDS.
IS_PURCHASE = "{o}.kind IN (" + ", ".join(f"'{kind}'" for kind in PURCHASE_KINDS) + ")"

# The purchases list's filters over the subscription `{s}` of the order, each NULL for any:
# {product} text, {purchaser} uuid, {channels} text[], {expires_before} timestamptz (the
# subscription's term ends strictly before it). Shared with the compiled read path.
PURCHASE_FILTERS = """({product} IS NULL OR {s}.product_id = {product})
        AND ({purchaser} IS NULL OR {s}.purchaser_user_id = {purchaser})
        AND ({channels} IS NULL OR {s}.channel = ANY({channels}))
        AND ({expires_before} IS NULL OR {s}.expires_at < {expires_before})"""
# The purchases list's filter over the order `{o}` itself, NULL for any: {purchased_since}
# timestamptz (bought at or after it).
PURCHASE_ORDER_FILTERS = "({purchased_since} IS NULL OR {o}.created_at >= {purchased_since})"

# $9 product id, $10 purchaser uuid, $11 channels text[], $12 expires before, $13 purchased
# since (timestamptz); NULL = any.
_PURCHASE_FILTERS = PURCHASE_FILTERS.format(
    s="s", product="$9::text", purchaser="$10::uuid", channels="$11::text[]", expires_before="$12::timestamptz"
)
SELECT_PURCHASES_BY_TENANT = ROWS.listing(
    "tenant_id",
    f"""{IS_PURCHASE.format(o="o")} AND {_LISTED} AND {_PURCHASE_FILTERS}
        AND {PURCHASE_ORDER_FILTERS.format(o="o", purchased_since="$13::timestamptz")}""",
    ordering.ORDER,
)


async def fetch_purchases_by_tenant(
    db: Executor, *, scope: Scope, page: PageArgs, **filters: Unpack[PurchaseFilters]
) -> Slice:
    params = (
        filters.get("product_id"),
        filters.get("purchaser_id"),
        array(filters.get("channels")),
        filters.get("expires_before"),
        filters.get("purchased_since"),
    )
    return await fetch_tenant_page(db, SELECT_PURCHASES_BY_TENANT, scope=scope, page=page, filters=params)
