"""Invoices: the purchaser is the one billed and responsible for payment, so sees theirs;
whole-tenant viewers see all."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

from purchasegraph.db import ordering
from purchasegraph.db.batch import ObjectsById, PagesBySubscription, RowSource, array, fetch_tenant_page
from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.policy import INVOICE_VISIBLE, Scope, own_only

ROWS = RowSource(
    source="FROM invoices i",
    alias="i",
    columns="""i.tenant_id, i.id, i.subscription_id, i.billed_user_id, i.period_start, i.period_end,
       i.amount, i.currency, i.status, i.due_date, i.paid_at, i.number""",
)

SELECT_INVOICES_BY_ID = ROWS.by_ids(INVOICE_VISIBLE.format(i="i", whole="$3::bool", viewer="$4::uuid"))
fetch_invoices_by_id = ObjectsById(SELECT_INVOICES_BY_ID)

_LISTED = INVOICE_VISIBLE.format(i="i", whole="$7::bool", viewer="$8::uuid")
SELECT_INVOICES_BY_SUBSCRIPTION = ROWS.listing("subscription_id", _LISTED, ordering.INVOICE)
fetch_invoices_by_subscription = PagesBySubscription(SELECT_INVOICES_BY_SUBSCRIPTION)


# The filters of "my bills" over an invoice `{i}`, each NULL for any: {statuses} text[], and
# {due_before} date (due strictly before that day). Shared with the compiled read path.
FILTERS = """({statuses} IS NULL OR {i}.status = ANY({statuses}))
        AND ({due_before} IS NULL OR {i}.due_date < {due_before})"""

# The printable invoice (gateway/invoice_page.py): one invoice as far as the scope reaches it
# (INVOICE_VISIBLE, as Invoice by id), with what the bill prints beside it: the tenant billed, the
# product of the subscription, the user billed.
SELECT_PRINTABLE_INVOICE = f"""
SELECT i.number, i.period_start, i.period_end, i.amount, i.currency, i.status, i.due_date, i.paid_at,
       t.name AS tenant_name, p.name AS product_name, u.display_name AS billed_to
  FROM invoices i
  JOIN tenants t ON t.id = i.tenant_id
  JOIN subscriptions s ON s.tenant_id = i.tenant_id AND s.id = i.subscription_id
  JOIN products p ON p.id = s.product_id
  LEFT JOIN users u ON u.tenant_id = i.tenant_id AND u.id = i.billed_user_id
 WHERE i.tenant_id = $1 AND i.id = $2
   AND {INVOICE_VISIBLE.format(i="i", whole="$3::bool", viewer="$4::uuid")}
"""


async def fetch_printable_invoice(db: Executor, *, scope: Scope, invoice_id: uuid.UUID) -> Record | None:
    """The invoice with what its printed page shows, or None where the scope does not reach it."""
    if not scope.sees_anything:
        return None
    return await db.fetchrow(SELECT_PRINTABLE_INVOICE, scope.tenant_id, invoice_id, scope.whole_tenant, scope.viewer_id)


# Tenant.invoices and Viewer.invoices ("my bills"): the bills of the tenant (the parent) in scope,
# newest first; whole-tenant viewers see all of them, a purchaser the bills they pay, and "my
# bills" narrows any viewer to their own (``own_only``: policy.own_only in place of the whole
# tenant). Filters (FILTERS above): $9 statuses text[], $10 due before date.
SELECT_INVOICES_OF_TENANT = ROWS.listing(
    "tenant_id",
    f"{_LISTED} AND {FILTERS.format(i='i', statuses='$9::text[]', due_before='$10::date')}",
    ordering.INVOICE,
)


async def fetch_invoices_of_tenant(
    db: Executor,
    *,
    scope: Scope,
    page: PageArgs,
    statuses: Sequence[str] | None,
    due_before: datetime.date | None,
    own: bool = False,
) -> Slice:
    """One page of the bills ``scope`` reaches in its tenant; with ``own``, only the viewer's own."""
    return await fetch_tenant_page(
        db,
        SELECT_INVOICES_OF_TENANT,
        scope=scope,
        page=page,
        filters=(array(statuses), due_before),
        widen_to=own_only(scope) if own else None,
    )
