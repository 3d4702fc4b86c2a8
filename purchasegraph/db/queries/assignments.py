"""License assignments: whole-tenant viewers see all; a purchaser sees those on what they
bought; anyone sees the licenses assigned to themselves (licensed users and guests); not once
the subscription is DISABLED (``policy.ASSIGNMENT_VISIBLE``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db import ordering
from purchasegraph.db.batch import RowSource, fetch_by_ids, fetch_tenant_page
from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.pagination import PageArgs, Slice, fetch_slices
from purchasegraph.policy import ASSIGNMENT_VISIBLE, Scope

ROWS = RowSource(
    source="FROM license_assignments a JOIN subscriptions s ON s.tenant_id = a.tenant_id AND s.id = a.subscription_id",
    alias="a",
    columns="a.tenant_id, a.id, a.subscription_id, a.user_id, a.assigned_by, a.assigned_at, a.removed_at, s.product_id",
)

SELECT_ASSIGNMENTS_BY_ID = ROWS.by_ids(ASSIGNMENT_VISIBLE.format(a="a", s="s", whole="$3::bool", viewer="$4::uuid"))

_LISTED = ASSIGNMENT_VISIBLE.format(a="a", s="s", whole="$7::bool", viewer="$8::uuid")
SELECT_ASSIGNMENTS_BY_SUBSCRIPTION = ROWS.listing(
    "subscription_id", f"a.removed_at IS NULL AND {_LISTED}", ordering.ASSIGNMENT
)

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


async def fetch_assignments_by_id(db: Executor, *, scope: Scope, ids: Sequence[uuid.UUID]) -> list[Record | None]:
    return await fetch_by_ids(db, SELECT_ASSIGNMENTS_BY_ID, scope=scope, ids=ids)


async def fetch_assignments_by_subscription(
    db: Executor, *, scope: Scope, page: PageArgs, subscription_ids: Sequence[uuid.UUID]
) -> list[Slice]:
    return await fetch_slices(db, SELECT_ASSIGNMENTS_BY_SUBSCRIPTION, scope=scope, parents=subscription_ids, page=page)


async def fetch_assignments_by_tenant(
    db: Executor, *, scope: Scope, page: PageArgs, product_id: str | None, user_id: uuid.UUID | None
) -> Slice:
    return await fetch_tenant_page(
        db, SELECT_ASSIGNMENTS_BY_TENANT, scope=scope, page=page, filters=(product_id, user_id)
    )
