"""``Query.accessibleTenants`` and ``tenant(id:)`` by primary domain, compiled.

The tenants a principal reaches are the principal's own, known before the statement is written
(``policy.reach_of``), so the page is cut here by the resolvers' own function (``fleet.page_of``)
and each item's tenant is selected under its own scope, as ``tenant(id:)`` selects it.
"""

from __future__ import annotations

import json

from graphql import FieldNode

from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Emitter
from purchasegraph.compiled.objects import NULL
from purchasegraph.compiled.sql import enum_names, literal
from purchasegraph.db.queries.tenants import DOMAIN_IN_REACH
from purchasegraph.errors import BadUserInput
from purchasegraph.fleet import FleetPage, page_of
from purchasegraph.policy import Reach, reach_of

TYPE = "AccessibleTenant"


def accessible_tenants(e: Emitter, node: FieldNode, path: tuple[str, ...]) -> str:
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, f"{TYPE}Connection without selection")
    arguments = {name: e._argument(node, name) for name in ("first", "after", "last", "before")}
    for name in ("first", "last"):
        if arguments[name] is not None and (not isinstance(arguments[name], int) or isinstance(arguments[name], bool)):
            raise NotCompilable(Reason.INVALID_INPUT, f"accessibleTenants({name}:)")
    for name in ("after", "before"):
        if arguments[name] is not None and not isinstance(arguments[name], str):
            raise NotCompilable(Reason.INVALID_INPUT, f"accessibleTenants({name}:)")
    try:
        page = page_of(reach_of(e._viewer), **arguments)
    except BadUserInput:
        raise NotCompilable(Reason.INVALID_INPUT, "accessibleTenants paging") from None
    pairs: list[tuple[str, str]] = []
    for child in e._fields(node.selection_set, f"{TYPE}Connection"):
        name, key = child.name.value, e._key(child)
        at = (*path, key)
        if name == "__typename":
            value = literal(f"{TYPE}Connection")
        elif name == "totalCount":
            value = e._param(page.total_count, "int")
        elif name == "nodes":
            e._state.node_lists.append(at)
            value = _items(e, child, page, at, edges=False)
        elif name == "edges":
            e._state.node_lists.append(at)
            value = _items(e, child, page, at, edges=True)
        elif name == "pageInfo":
            value = _page_info(e, child, page)
        else:
            raise NotCompilable(Reason.FIELD, f"{TYPE}Connection.{name}")
        pairs.append((key, value))
    return e._object(pairs)


def _items(e: Emitter, node: FieldNode, page: FleetPage, path: tuple[str, ...], *, edges: bool) -> str:
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, "items without selection")
    items = []
    for reach, cursor in zip(page.items, page.cursors, strict=True):
        if not edges:
            items.append(_accessible_tenant(e, node, reach, path))
            continue
        pairs = []
        for child in e._fields(node.selection_set, f"{TYPE}Edge"):
            name = child.name.value
            if name == "node":
                pairs.append((e._key(child), _accessible_tenant(e, child, reach, (*path, e._key(child)))))
            elif name == "cursor":
                pairs.append((e._key(child), f"to_json({e._param(cursor, 'text')})"))
            elif name == "__typename":
                pairs.append((e._key(child), literal(f"{TYPE}Edge")))
            else:
                raise NotCompilable(Reason.FIELD, f"{TYPE}Edge.{name}")
        items.append(e._object(pairs))
    return f"json_build_array({', '.join(items)})" if items else "'[]'::json"


def _accessible_tenant(e: Emitter, node: FieldNode, reach: Reach, path: tuple[str, ...]) -> str:
    """One item: what opens the tenant is the principal's, known now; the tenant is a row read
    under the item's own scope."""
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, f"{TYPE} without selection")
    access_names = enum_names(e._schema, "AccessLevel")
    role_names = enum_names(e._schema, "DirectoryRole")
    grant = reach.grant
    roles = sorted(grant.roles) if grant is not None else []
    if not set(roles) <= role_names.keys():
        raise NotCompilable(Reason.FIELD, f"{TYPE}.grantedRoles")  # the resolver would raise
    ends_at = grant.ends_at if grant is not None else None
    tenant_id = reach.scope.tenant_id
    pairs = []
    for child in e._fields(node.selection_set, TYPE):
        name, key = child.name.value, e._key(child)
        if name == "__typename":
            value = literal(TYPE)
        elif name == "tenant":
            t = e._state.alias("t")
            body = e._selection(child, "Tenant", t, reach.scope, (*path, key))
            value = f"(SELECT {body} FROM tenants {t} WHERE {t}.id = {e._param(tenant_id, 'uuid')})"
        elif name == "access":
            access = reach.scope.access
            value = literal(access_names[access.value]) if access is not None else NULL
        elif name == "grantedRoles":
            value = f"({e._param(json.dumps([role_names[r] for r in roles]), 'text')})::json"
        elif name == "endsAt":
            value = f"to_json({e._param(ends_at.isoformat(), 'text')})" if ends_at is not None else NULL
        elif name == "canAdminister":
            value = e._param(reach.scope.can_administer, "bool")
        else:
            raise NotCompilable(Reason.FIELD, f"{TYPE}.{name}")
        pairs.append((key, value))
    return e._object(pairs)


def _page_info(e: Emitter, node: FieldNode, page: FleetPage) -> str:
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, "pageInfo without selection")
    values = {
        "hasNextPage": page.has_next_page,
        "hasPreviousPage": page.has_previous_page,
        "startCursor": page.cursors[0] if page.cursors else None,
        "endCursor": page.cursors[-1] if page.cursors else None,
        "__typename": "PageInfo",
    }
    pairs = []
    for child in e._fields(node.selection_set, "PageInfo"):
        name = child.name.value
        if name not in values:
            raise NotCompilable(Reason.FIELD, f"PageInfo.{name}")
        pairs.append((e._key(child), f"({e._param(json.dumps(values[name]), 'text')})::json"))
    return e._object(pairs)


def tenant_by_domain(e: Emitter, node: FieldNode, domain: str, path: tuple[str, ...]) -> str:
    """``tenant(id:)`` given a primary domain: the tenant of that domain among those in reach, each
    candidate selected under its own scope (at most one row matches: domains are unique)."""
    candidates = []
    for reach in reach_of(e._viewer):
        t = e._state.alias("t")
        where = DOMAIN_IN_REACH.format(
            t=t, domain=e._param(domain, "text"), reach=f"ARRAY[{e._param(reach.scope.tenant_id, 'uuid')}]"
        )
        body = e._selection(node, "Tenant", t, reach.scope, path)
        candidates.append(f"(SELECT {body} FROM tenants {t} WHERE {where})")
    if not candidates:
        return NULL
    return f"COALESCE({', '.join(candidates)})" if len(candidates) > 1 else candidates[0]
