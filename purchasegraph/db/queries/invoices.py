"""Invoices: the billed purchaser sees theirs (rule 8); whole-tenant viewers see all."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

from purchasegraph.db import ordering
from purchasegraph.db.batch import by_ids_query, fetch_by_ids
from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.pagination import PageArgs, Slice, connection_query, fetch_slices
from purchasegraph.policy import INVOICE_VISIBLE, Scope

COLUMNS = """i.tenant_id, i.id, i.subscription_id, i.billed_user_id, i.period_start, i.period_end,
       i.amount, i.currency, i.status, i.due_date, i.paid_at"""

SELECT_INVOICES_BY_ID = by_ids_query(
    columns=COLUMNS,
    source=f"""FROM invoices i
     WHERE i.tenant_id = $1 AND i.id = ANY($2::uuid[])
       AND {INVOICE_VISIBLE.format(i="i", whole="$3::bool", viewer="$4::uuid")}""",
)

SELECT_INVOICES_BY_SUBSCRIPTION = connection_query(
    source=f"""FROM invoices i
      WHERE i.tenant_id = $1 AND i.subscription_id = k.parent
        AND {INVOICE_VISIBLE.format(i="i", whole="$7::bool", viewer="$8::uuid")}""",
    columns=COLUMNS,
    alias="i",
    sortable=ordering.INVOICE,
)

# The tenant's list's filters over an invoice `{i}`, each NULL for any: {statuses} text[], {due_before}
# date (due strictly before it). Shared with the compiled read path.
TENANT_FILTERS = """({statuses} IS NULL OR {i}.status = ANY({statuses}))
        AND ({due_before} IS NULL OR {i}.due_date < {due_before})"""

# Every bill of the tenant in scope, newest first: $9 statuses text[], $10 due before date (NULL = any).
SELECT_INVOICES_BY_TENANT = connection_query(
    source=f"""FROM invoices i
      WHERE i.tenant_id = $1 AND i.tenant_id = k.parent
        AND {INVOICE_VISIBLE.format(i="i", whole="$7::bool", viewer="$8::uuid")}
        AND {TENANT_FILTERS.format(i="i", statuses="$9::text[]", due_before="$10::date")}""",
    columns=COLUMNS,
    alias="i",
    sortable=ordering.INVOICE,
)


async def fetch_invoices_by_id(db: Executor, *, scope: Scope, ids: Sequence[uuid.UUID]) -> list[Record | None]:
    return await fetch_by_ids(db, SELECT_INVOICES_BY_ID, scope=scope, ids=ids)


async def fetch_invoices_by_subscription(
    db: Executor, *, scope: Scope, page: PageArgs, subscription_ids: Sequence[uuid.UUID]
) -> list[Slice]:
    return await fetch_slices(db, SELECT_INVOICES_BY_SUBSCRIPTION, scope=scope, parents=subscription_ids, page=page)


async def fetch_invoices_by_tenant(
    db: Executor,
    *,
    scope: Scope,
    page: PageArgs,
    statuses: Sequence[str] | None,
    due_before: datetime.date | None,
) -> Slice:
    (slice_,) = await fetch_slices(
        db,
        SELECT_INVOICES_BY_TENANT,
        scope=scope,
        parents=[scope.tenant_id],
        page=page,
        filters=(list(statuses) if statuses is not None else None, due_before),
    )
    return slice_
