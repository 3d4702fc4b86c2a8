"""Payment methods: only their owner ever sees them; admins never see a purchaser's card."""

from __future__ import annotations

from purchasegraph.db.batch import ObjectsById, RowSource
from purchasegraph.db.executor import Executor, Record
from purchasegraph.policy import PAYMENT_METHOD_VISIBLE, Scope

ROWS = RowSource(
    source="FROM payment_methods pm",
    alias="pm",
    columns="""pm.tenant_id, pm.id, pm.owner_user_id, pm.kind, pm.brand, pm.last4, pm.exp_month,
       pm.exp_year, pm.created_at""",
)

# $3 (whole tenant) is deliberately not a way in: ownership is the only condition.
SELECT_PAYMENT_METHODS_BY_ID = ROWS.by_ids(
    "($3::bool IS NOT NULL) AND " + PAYMENT_METHOD_VISIBLE.format(pm="pm", viewer="$4::uuid")
)
fetch_payment_methods_by_id = ObjectsById(SELECT_PAYMENT_METHODS_BY_ID)


# The order of "my cards": newest first, the id to make it total. Shared with the compiled path.
PAYMENT_METHOD_ORDER = "{pm}.created_at DESC, {pm}.id"

# Viewer.paymentMethods: the cards on file the user owns in their tenant (a removed card is no
# longer on file); ownership the only way in. `{pm}` the card, `{tenant}` and `{viewer}` the scope's.
OWN_CARDS = "{pm}.tenant_id = {tenant} AND {pm}.removed_at IS NULL AND " + PAYMENT_METHOD_VISIBLE
SELECT_PAYMENT_METHODS_OF_OWNER = f"""
SELECT {ROWS.columns}
  {ROWS.source}
 WHERE {OWN_CARDS.format(pm="pm", tenant="$1::uuid", viewer="$2::uuid")}
 ORDER BY {PAYMENT_METHOD_ORDER.format(pm="pm")}
"""


async def fetch_payment_methods_of_owner(db: Executor, *, scope: Scope) -> list[Record]:
    """Every card ``scope`` (``policy.own_billing_scope``) owns; none for a scope without a user."""
    if scope.viewer_id is None or not scope.sees_anything:
        return []
    return list(await db.fetch(SELECT_PAYMENT_METHODS_OF_OWNER, scope.tenant_id, scope.viewer_id))
