"""Self-service capacity per product, which admins see beside their purchases: licenses bought,
assigned and free.

Counted over subscriptions whose licenses can still be used or assigned (trial, active,
expired: everyone keeps access during the 30 days after the end date), within the viewer's
scope, so a purchaser sees the capacity of what they bought and an admin the tenant's.
"""

from __future__ import annotations

from purchasegraph.db.executor import Executor, Record
from purchasegraph.policy import SUBSCRIPTION_VISIBLE, Scope


def capacity_of_tenant(*, tenant: str, whole: str, viewer: str) -> str:
    """The capacity rows of tenant ``tenant`` (an SQL expression) in a scope given as SQL
    expressions: the list query below and the compiled read path are both built from it."""
    visible = SUBSCRIPTION_VISIBLE.format(s="s", whole=whole, viewer=viewer)
    return f"""SELECT s.product_id,
       COALESCE(sum(s.quantity) FILTER (WHERE s.channel = 'self_service'), 0)::int AS self_service_quantity,
       COALESCE(sum(s.quantity) FILTER (WHERE s.channel = 'central'), 0)::int AS central_quantity,
       COALESCE(sum(a.assigned), 0)::int AS assigned,
       count(*) FILTER (WHERE s.channel = 'self_service')::int AS self_service_subscriptions,
       count(*) FILTER (WHERE s.channel = 'central')::int AS central_subscriptions
  FROM subscriptions s
  LEFT JOIN LATERAL (SELECT count(*) AS assigned FROM license_assignments la
                      WHERE la.tenant_id = s.tenant_id AND la.subscription_id = s.id
                        AND la.removed_at IS NULL) a ON true
 WHERE s.tenant_id = {tenant} AND effective_status(s) IN ('trial', 'active', 'expired')
   AND {visible}
 GROUP BY s.product_id"""


# The order `capacity` lists the rows `{s}` in: by product id.
ORDER = "{s}.product_id"

SELECT_CAPACITY_BY_TENANT = (
    capacity_of_tenant(tenant="$1", whole="$2::bool", viewer="$3::uuid") + f"\n ORDER BY {ORDER.format(s='s')}\n"
)


async def fetch_capacity_by_tenant(db: Executor, *, scope: Scope) -> list[Record]:
    if not scope.sees_anything:
        return []
    return await db.fetch(SELECT_CAPACITY_BY_TENANT, scope.tenant_id, scope.whole_tenant, scope.viewer_id)
