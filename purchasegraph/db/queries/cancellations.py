"""Cancellation requests: an admin asks the purchaser of a self-service subscription to cancel it.

Who sees one is ``policy.CANCELLATION_REQUEST_VISIBLE``: whole-tenant viewers, and the purchaser
asked. The same fragment in the tenant's list, by id, per subscription and in the compiled path.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db import ordering
from purchasegraph.db.batch import ObjectsById, RowSource, array, fetch_tenant_page, in_key_order
from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.policy import CANCELLATION_REQUEST_VISIBLE, Scope

ROWS = RowSource(
    source="FROM cancellation_requests c",
    alias="c",
    columns="""c.tenant_id, c.id, c.subscription_id, c.requested_by, c.requested_by_tenant_id, c.message,
       c.status, c.created_at, c.resolved_at, c.response_message""",
)

SELECT_CANCELLATION_REQUESTS_BY_ID = ROWS.by_ids(
    CANCELLATION_REQUEST_VISIBLE.format(c="c", j="cs", whole="$3::bool", viewer="$4::uuid")
)
fetch_cancellation_requests_by_id = ObjectsById(SELECT_CANCELLATION_REQUESTS_BY_ID)

# The request a subscription shows: its open one, else the latest answered or closed; for the
# compiled read path, the same choice over a subscription `{s}` as a predicate on `{c}` and an order.
CURRENT_OF_SUBSCRIPTION = "{c}.tenant_id = {s}.tenant_id AND {c}.subscription_id = {s}.id"
CURRENT_ORDER = "{c}.status = 'pending' DESC, {c}.created_at DESC, {c}.id DESC"
SELECT_CURRENT_BY_SUBSCRIPTION = f"""
SELECT DISTINCT ON (c.subscription_id) {ROWS.columns}
  {ROWS.source}
 WHERE c.tenant_id = $1 AND c.subscription_id = ANY($2::uuid[])
   AND {CANCELLATION_REQUEST_VISIBLE.format(c="c", j="cs", whole="$3::bool", viewer="$4::uuid")}
 ORDER BY c.subscription_id, {CURRENT_ORDER.format(c="c")}
"""

# The list's filter over a request `{c}`, NULL for any: {statuses} text[]. Shared with the
# compiled read path.
FILTERS = "({statuses} IS NULL OR {c}.status = ANY({statuses}))"

# $9 statuses text[] (NULL = any).
SELECT_CANCELLATION_REQUESTS_BY_TENANT = ROWS.listing(
    "tenant_id",
    f"""{CANCELLATION_REQUEST_VISIBLE.format(c="c", j="cs", whole="$7::bool", viewer="$8::uuid")}
        AND {FILTERS.format(c="c", statuses="$9::text[]")}""",
    ordering.CANCELLATION_REQUEST,
)


async def fetch_current_by_subscription(
    db: Executor, *, scope: Scope, subscription_ids: Sequence[uuid.UUID]
) -> list[Record | None]:
    if not scope.sees_anything:
        return [None for _ in subscription_ids]
    records = await db.fetch(
        SELECT_CURRENT_BY_SUBSCRIPTION, scope.tenant_id, list(subscription_ids), scope.whole_tenant, scope.viewer_id
    )
    return in_key_order(records, subscription_ids, "subscription_id")


async def fetch_cancellation_requests_by_tenant(
    db: Executor, *, scope: Scope, page: PageArgs, statuses: Sequence[str] | None
) -> Slice:
    listing = SELECT_CANCELLATION_REQUESTS_BY_TENANT
    return await fetch_tenant_page(db, listing, scope=scope, page=page, filters=(array(statuses),))
