"""Payment methods: only their owner ever sees them; admins never see a purchaser's card."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db.batch import by_ids_query, fetch_by_ids
from purchasegraph.db.executor import Executor, Record
from purchasegraph.policy import PAYMENT_METHOD_VISIBLE, Scope

# $3 (whole tenant) is deliberately not a way in: ownership is the only condition.
SELECT_PAYMENT_METHODS_BY_ID = by_ids_query(
    columns="""pm.tenant_id, pm.id, pm.owner_user_id, pm.kind, pm.brand, pm.last4, pm.exp_month,
       pm.exp_year, pm.created_at""",
    source=f"""FROM payment_methods pm
     WHERE pm.tenant_id = $1 AND pm.id = ANY($2::uuid[])
       AND ($3::bool IS NOT NULL) AND {PAYMENT_METHOD_VISIBLE.format(pm="pm", viewer="$4::uuid")}""",
)


async def fetch_payment_methods_by_id(db: Executor, *, scope: Scope, ids: Sequence[uuid.UUID]) -> list[Record | None]:
    return await fetch_by_ids(db, SELECT_PAYMENT_METHODS_BY_ID, scope=scope, ids=ids)
