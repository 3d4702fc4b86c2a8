"""License assignments: whole-tenant viewers see all; a purchaser sees those on what they
bought; anyone sees the licenses assigned to themselves (licensed users and guests); not once
the subscription is DISABLED (``policy.ASSIGNMENT_VISIBLE``)."""

from __future__ import annotations

import uuid

from purchasegraph.db import ordering
from purchasegraph.db.batch import ObjectsById, PagesBySubscription, RowSource, fetch_tenant_page
from purchasegraph.db.executor import Executor
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.policy import ASSIGNMENT_VISIBLE, Scope

ROWS = RowSource(
    source="FROM license_assignments a JOIN subscriptions s ON s.tenant_id = a.tenant_id AND s.id = a.subscription_id",
    alias="a",
    columns="a.tenant_id, a.id, a.subscription_id, a.user_id, a.assigned_by, a.assigned_at, a.removed_at, s.product_id",
)

SELECT_ASSIGNMENTS_BY_ID = ROWS.by_ids(ASSIGNMENT_VISIBLE.format(a="a", s="s", whole="$3::bool", viewer="$4::uuid"))
fetch_assignments_by_id = ObjectsById(SELECT_ASSIGNMENTS_BY_ID)

_LISTED = ASSIGNMENT_VISIBLE.format(a="a", s="s", whole="$7::bool", viewer="$8::uuid")
SELECT_ASSIGNMENTS_BY_SUBSCRIPTION = ROWS.listing(
    "subscription_id", f"a.removed_at IS NULL AND {_LISTED}", ordering.ASSIGNMENT
)
fetch_assignments_by_subscription = PagesBySubscription(SELECT_ASSIGNMENTS_BY_SUBSCRIPTION)

# The tenant list's filters over an assignment `{a}` and its subscription `{s}`, each NULL for
# any: {product} text, {user} uuid. Shared with the compiled read path.
FILTERS = """({product} IS NULL OR {s}.product_id = {product})
        AND ({user} IS NULL OR {a}.user_id = {user})"""

# $9 product id, $10 user uuid (NULL = any).
SELECT_ASSIGNMENTS_BY_TENANT = ROWS.listing(
    "tenant_id",
    f"""a.removed_at IS NULL AND {_LISTED}
        AND {FILTERS.format(a="a", s="s", product="$9::text", user="$10::uuid")}""",
    ordering.ASSIGNMENT,
)


async def fetch_assignments_by_tenant(
    db: Executor, *, scope: Scope, page: PageArgs, product_id: str | None, user_id: uuid.UUID | None
) -> Slice:
    return await fetch_tenant_page(
        db, SELECT_ASSIGNMENTS_BY_TENANT, scope=scope, page=page, filters=(product_id, user_id)
    )
