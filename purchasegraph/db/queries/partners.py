"""Delegated-admin relationships of a customer tenant: admins and readers see all of them, a
partner only its own (as in GDAP, where a partner never learns of the customer's other partners)."""

from __future__ import annotations

from purchasegraph.db.executor import Executor, Record
from purchasegraph.policy import PARTNER_RELATIONSHIP_VISIBLE, RELATIONSHIP_IN_FORCE, Scope

# The order `partnerRelationships` lists them in: newest first.
ORDER = "{p}.starts_at DESC, {p}.id"

SELECT_RELATIONSHIPS_BY_CUSTOMER = f"""
SELECT p.tenant_id, p.id, p.partner_tenant_id, p.display_name, p.roles, p.status, p.starts_at, p.ends_at,
       ({RELATIONSHIP_IN_FORCE.format(p="p")}) AS in_force
  FROM partner_relationships p
 WHERE p.tenant_id = $1 AND {PARTNER_RELATIONSHIP_VISIBLE.format(p="p", whole="$2::bool", partner="$3::uuid")}
 ORDER BY {ORDER.format(p="p")}
"""


async def fetch_relationships_by_customer(db: Executor, *, scope: Scope) -> list[Record]:
    if not scope.whole_tenant:
        return []
    return await db.fetch(
        SELECT_RELATIONSHIPS_BY_CUSTOMER, scope.tenant_id, scope.whole_tenant, scope.partner_tenant_id
    )
