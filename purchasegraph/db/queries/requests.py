"""License requests, audit events and notifications: the paper trail around purchases."""

from __future__ import annotations

import uuid

from purchasegraph.db import ordering
from purchasegraph.db.batch import RowSource, fetch_tenant_page
from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.db.queries import policies
from purchasegraph.policy import (
    AUDIT_ACTOR_VISIBLE,
    AUDIT_VISIBLE,
    LICENSE_REQUEST_VISIBLE,
    NOTIFICATION_VISIBLE,
    Scope,
    audit_partner,
    own_only,
    sees_audit,
)

LICENSE_REQUESTS = RowSource(
    source="FROM license_requests r",
    alias="r",
    columns="""r.tenant_id, r.id, r.product_id, r.requester_user_id, r.for_user_ids, r.status,
       r.created_at, r.decided_by, r.decided_at, r.assigned_from_subscription_id""",
)

# The tenant list's filter over a request `{r}`: {status} text, NULL for any. Shared with the
# compiled read path.
LICENSE_REQUEST_FILTERS = "({status} IS NULL OR {r}.status = {status})"

# Admins see every request of the tenant (kept 12 months); a member sees their own and those that
# name them. The same rule (policy.LICENSE_REQUEST_VISIBLE) in the list, by id, and for the admins
# deciding one. $9 the status (NULL = any).
SELECT_LICENSE_REQUESTS_BY_TENANT = LICENSE_REQUESTS.listing(
    "tenant_id",
    f"""{LICENSE_REQUEST_VISIBLE.format(r="r", whole="$7::bool", viewer="$8::uuid")}
        AND {LICENSE_REQUEST_FILTERS.format(r="r", status="$9::text")}""",
    ordering.LICENSE_REQUEST,
)
SELECT_LICENSE_REQUEST = f"""
SELECT {LICENSE_REQUESTS.columns}
  {LICENSE_REQUESTS.source}
 WHERE r.tenant_id = $1 AND r.id = $2
   AND {LICENSE_REQUEST_VISIBLE.format(r="r", whole="$3::bool", viewer="$4::uuid")}
"""

# $9 the viewer's partner tenant (policy.audit_partner): an actor it may not know is withheld, and
# with it the request id that actor's client chose (it could name them).
_ACTOR_VISIBLE = AUDIT_ACTOR_VISIBLE.format(e="e", partner="$9::uuid")
# A change's value before and after (a policy, auto-renew), as the mutation recorded them in the
# event's details; shared with the compiled read path.
AUDIT_PREVIOUS_VALUE = "({e}.details ->> 'old_value')"
AUDIT_NEW_VALUE = "({e}.details ->> 'new_value')"
AUDIT_EVENTS = RowSource(
    source="FROM audit_events e",
    alias="e",
    columns=f"""e.tenant_id, e.id,
       CASE WHEN {_ACTOR_VISIBLE} THEN e.actor_user_id END AS actor_user_id,
       CASE WHEN {_ACTOR_VISIBLE} THEN e.actor_tenant_id END AS actor_tenant_id,
       CASE WHEN {_ACTOR_VISIBLE} THEN e.actor_app_id END AS actor_app_id,
       NOT {_ACTOR_VISIBLE} AS actor_withheld, e.on_behalf_of_tenant_id, e.action,
       e.target_type, e.target_id, e.request_id, e.outcome, e.error_codes, e.occurred_at,
       CASE WHEN {_ACTOR_VISIBLE} THEN e.client_request_id END AS client_request_id,
       {AUDIT_PREVIOUS_VALUE.format(e="e")} AS previous_value, {AUDIT_NEW_VALUE.format(e="e")} AS new_value""",
)
SELECT_AUDIT_EVENTS_BY_TENANT = AUDIT_EVENTS.listing(
    "tenant_id", AUDIT_VISIBLE.format(whole="$7::bool", viewer="$8::uuid"), ordering.AUDIT_EVENT, column_filters=True
)

# Viewer.notifications over a notification `{n}`: only ever the signed-in user's own
# (policy.NOTIFICATION_VISIBLE, `{tenant}` their home tenant, `{user}` their id); `{whole}` is
# policy.own_only (false): a notification has no whole-tenant way in, so the term only names the
# parameter every connection statement carries. `{unread_only}` true keeps those not yet marked
# read. Shared with the compiled read path.
NOTIFICATIONS_OF_VIEWER = NOTIFICATION_VISIBLE + " AND NOT {whole} AND (NOT {unread_only} OR {n}.read_at IS NULL)"
NOTIFICATIONS = RowSource(
    source="FROM notifications n",
    alias="n",
    columns="n.tenant_id, n.id, n.kind, n.subject_id, n.message, n.created_at, n.read_at",
)
# The page of the viewer's notifications (the parent is their home tenant), newest first unless
# `orderBy` says otherwise: $7 policy.own_only, $8 the viewer, $9 unreadOnly.
SELECT_NOTIFICATIONS_OF_VIEWER = NOTIFICATIONS.listing(
    "tenant_id",
    NOTIFICATIONS_OF_VIEWER.format(n="n", tenant="k.parent", user="$8::uuid", whole="$7::bool", unread_only="$9::bool"),
    ordering.NOTIFICATION,
)

# One product's policy (`Tenant.policy`): the row `policies` lists for it, shared with the
# compiled read path.
SELECT_POLICY = f"""
SELECT p.id AS product_id, {policies.POLICY_VALUE.format(ssp="ssp")} AS value, ssp.updated_at
  {policies.POLICIES_OF_TENANT.format(p="p", ssp="ssp", tenant="$1", sees="$3::bool")}
   AND {policies.ONE_PRODUCT.format(p="p", product="$2")}
"""


async def fetch_license_requests_by_tenant(
    db: Executor, *, scope: Scope, page: PageArgs, status: str | None = None
) -> Slice:
    return await fetch_tenant_page(db, SELECT_LICENSE_REQUESTS_BY_TENANT, scope=scope, page=page, filters=(status,))


async def fetch_license_request(db: Executor, *, scope: Scope, request_id: uuid.UUID) -> Record | None:
    if not scope.sees_anything:
        return None
    return await db.fetchrow(SELECT_LICENSE_REQUEST, scope.tenant_id, request_id, scope.whole_tenant, scope.viewer_id)


async def fetch_audit_events_by_tenant(db: Executor, *, scope: Scope, page: PageArgs) -> Slice:
    return await fetch_tenant_page(
        db,
        SELECT_AUDIT_EVENTS_BY_TENANT,
        scope=scope,
        page=page,
        widen_to=sees_audit(scope),
        filters=(audit_partner(scope),),
    )


async def fetch_notifications_of_viewer(db: Executor, *, scope: Scope, page: PageArgs, unread_only: bool) -> Slice:
    """One page of the notifications of the user of ``scope`` (``policy.own_notifications_scope``)."""
    listing = SELECT_NOTIFICATIONS_OF_VIEWER
    return await fetch_tenant_page(
        db, listing, scope=scope, page=page, filters=(unread_only,), widen_to=own_only(scope)
    )


async def fetch_policy(db: Executor, *, scope: Scope, product_id: str) -> Record | None:
    if not scope.sees_policies:
        return None
    return await db.fetchrow(SELECT_POLICY, scope.tenant_id, product_id, scope.sees_policies)
