"""Tenants and what hangs off them directly: directory, policies, capacity, partners."""

from __future__ import annotations

import uuid

from purchasegraph.context import Info
from purchasegraph.db.executor import Record
from purchasegraph.db.pagination import EMPTY_SLICE, PageArgs, Slice
from purchasegraph.db.queries import capacity, partners, policies, requests, users
from purchasegraph.db.queries import tenants as tenants_q
from purchasegraph.fleet import FleetPage, page_of
from purchasegraph.policy import Scope, own_notifications_scope, reach_of, tenants_in_reach


async def tenant(info: Info, tenant_id: uuid.UUID) -> Record | None:
    """A tenant exists for a viewer only if the viewer has some scope in it."""
    if not info.context.scope_of(tenant_id).sees_anything:
        return None
    return await info.context.loaders.tenant().load(tenant_id)


async def reachable_tenants(info: Info) -> list[tuple[Scope, Record]]:
    scopes = tenants_in_reach(info.context.viewer)
    rows = await info.context.loaders.tenant().load_many([s.tenant_id for s in scopes])
    return [(scope, row) for scope, row in zip(scopes, rows, strict=True) if row is not None]


async def user(info: Info, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Record | None:
    return await info.context.loaders.by_id(users.fetch_users_by_id, info.context.scope_of(tenant_id)).load(user_id)


async def users_of_tenant(info: Info, tenant_id: uuid.UUID, page: PageArgs, search: str | None) -> Slice:
    scope = info.context.scope_of(tenant_id)
    return await users.fetch_users_by_tenant(info.context.db, scope=scope, page=page, search=search)


async def policies_of_tenant(info: Info, tenant_id: uuid.UUID) -> list[Record]:
    return await policies.fetch_policies_by_tenant(info.context.db, scope=info.context.scope_of(tenant_id))


async def capacity_of_tenant(info: Info, tenant_id: uuid.UUID) -> list[Record]:
    return await capacity.fetch_capacity_by_tenant(info.context.db, scope=info.context.scope_of(tenant_id))


async def partner_relationships_of_tenant(info: Info, tenant_id: uuid.UUID) -> list[Record]:
    scope = info.context.scope_of(tenant_id)
    return await partners.fetch_relationships_by_customer(info.context.db, scope=scope)


async def license_requests_of_tenant(
    info: Info, tenant_id: uuid.UUID, page: PageArgs, *, status: str | None = None
) -> Slice:
    scope = info.context.scope_of(tenant_id)
    return await requests.fetch_license_requests_by_tenant(info.context.db, scope=scope, page=page, status=status)


async def license_request(info: Info, tenant_id: uuid.UUID, request_id: uuid.UUID) -> Record | None:
    scope = info.context.scope_of(tenant_id)
    return await requests.fetch_license_request(info.context.db, scope=scope, request_id=request_id)


async def audit_events_of_tenant(info: Info, tenant_id: uuid.UUID, page: PageArgs) -> Slice:
    scope = info.context.scope_of(tenant_id)
    return await requests.fetch_audit_events_by_tenant(info.context.db, scope=scope, page=page)


async def policy(info: Info, tenant_id: uuid.UUID, product_id: str) -> Record | None:
    scope = info.context.scope_of(tenant_id)
    return await requests.fetch_policy(info.context.db, scope=scope, product_id=product_id)


async def notifications_of_viewer(info: Info, page: PageArgs, *, unread_only: bool) -> Slice:
    """A page of the signed-in user's own notifications (``policy.own_notifications_scope``)."""
    scope = own_notifications_scope(info.context.viewer)
    if scope is None:
        return EMPTY_SLICE  # notifications are a user's; an application has none
    db = info.context.db
    return await requests.fetch_notifications_of_viewer(db, scope=scope, page=page, unread_only=unread_only)


async def accessible_tenants(
    info: Info, *, first: int | None, after: str | None, last: int | None, before: str | None
) -> tuple[FleetPage, list[Record]]:
    """A page of the tenants the principal reaches (``policy.reach_of``), with each one's row."""
    page = page_of(reach_of(info.context.viewer), first=first, after=after, last=last, before=before)
    rows = await info.context.loaders.tenant().load_many([r.scope.tenant_id for r in page.items])
    found = [row for row in rows if row is not None]
    assert len(found) == len(rows), "a tenant in reach is a row of tenants (foreign keys of its grants)"
    return page, found


async def tenant_by_domain(info: Info, domain: str) -> Record | None:
    """A tenant by its primary domain, scoped exactly like by id: outside the reach it is null,
    the same answer as a domain no tenant has."""
    reach = [r.scope.tenant_id for r in reach_of(info.context.viewer)]
    if not reach:
        return None
    return await tenants_q.fetch_tenant_by_domain(info.context.db, domain=domain, reach=reach)
