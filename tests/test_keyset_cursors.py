"""Keyset cursors: a page never repeats or skips a row that existed throughout, whatever commits
between the pages; both read paths hand out the same cursors for every ``orderBy``; a cursor of
one order is refused under another; ``totalCount`` is counted only when asked; page 50 is a seek.

The pages are read through the test's connection (the gateway's role, row-level security) while
another connection of the owner's pool commits purchases, cancellations and deletions between
them; the test's transaction reads committed data statement by statement (READ COMMITTED).
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest
from graphql import OperationDefinitionNode, parse

from purchasegraph.compiled.compiler import Compiler
from purchasegraph.db import ordering as sortables
from purchasegraph.db.ordering import cursor_sql
from purchasegraph.db.pagination import page_statement
from purchasegraph.db.queries.subscriptions import SELECT_SUBSCRIPTIONS_BY_TENANT
from purchasegraph.errors import BadUserInput
from purchasegraph.schema import schema
from purchasegraph.schema.ids import decode_uuid
from tests.conftest import Api, DemoUserIds
from tests.factories import TenantRows, add_subscriptions, create_tenant

PAGE = """
query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $order: [SubscriptionOrder!]) {
  tenant(id: $id) {
    subscriptions(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id quantity createdAt canceledAt } }
    }
  }
}
"""
PATHS = ["resolvers", "compiled"]

# A copy of one of the tenant's subscriptions with a new id and creation time: a purchase.
PURCHASE_LIKE = """
INSERT INTO subscriptions (tenant_id, id, product_id, channel, purchaser_user_id, controlled_by, quantity,
                           status, term_start, expires_at, unit_price, currency, created_at)
SELECT tenant_id, $2, product_id, channel, purchaser_user_id, controlled_by, quantity,
       status, term_start, expires_at, unit_price, currency, $3
  FROM subscriptions WHERE id = $1
"""
CANCEL = "UPDATE subscriptions SET status = 'deleted', canceled_at = app_now(), cancel_reason = 'test' WHERE id = $1"
DELETE = "DELETE FROM subscriptions WHERE id = $1"


async def read(api: Api, path: str, upn: str, **variables: Any) -> dict[str, Any]:
    if path == "resolvers":
        data = await api.data(PAGE, as_user=upn, variables=variables)
    else:
        compiled = await api.compiled(PAGE, as_user=upn, variables=variables)
        assert compiled is not None, "expected the compiler to take this page"
        data = compiled
    connection: dict[str, Any] = data["tenant"]["subscriptions"]
    return connection


def ids_of(connection: dict[str, Any]) -> list[uuid.UUID]:
    found = [decode_uuid(e["node"]["id"], "Subscription") for e in connection["edges"]]
    assert all(f is not None for f in found)
    return [f for f in found if f is not None]


async def committed_tenant(pool: asyncpg.Pool, count: int) -> TenantRows:
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=4)
        await add_subscriptions(conn, tenant, count=count, orders_each=0, assignments_each=0)
    return tenant


async def created(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime.datetime]:
    rows = await pool.fetch("SELECT id, created_at FROM subscriptions WHERE id = ANY($1::uuid[])", ids)
    return {r["id"]: r["created_at"] for r in rows}


async def meddle(
    pool: asyncpg.Pool, tenant: TenantRows, seen: list[uuid.UUID], unseen: list[uuid.UUID], step: int
) -> set[uuid.UUID]:
    """Commit, in a transaction of its own: purchases sorting before every row, at the cursor's
    neighbourhood inside the rows still to come and after every row; a cancellation of a row seen
    and of one to come (their sort key stays); a deletion of one to come. The rows deleted."""
    times = await created(pool, seen + unseen)
    template = (seen or unseen)[0]
    deleted: set[uuid.UUID] = set()
    async with pool.acquire() as conn, conn.transaction():
        oldest, newest = min(times.values()), max(times.values())
        stamps = [oldest - datetime.timedelta(days=1 + step), newest + datetime.timedelta(days=1 + step)]
        if seen and unseen:  # between the last row seen and the next one
            stamps.append(times[seen[-1]] + (times[unseen[0]] - times[seen[-1]]) / 2)
        for stamp in stamps:
            await conn.execute(PURCHASE_LIKE, template, uuid.uuid4(), stamp)
        for victim in (seen[-1:] + unseen[1:2])[:2]:
            await conn.execute(CANCEL, victim)
        if len(unseen) > 3:
            await conn.execute(DELETE, unseen[3])
            deleted.add(unseen[3])
    return deleted


@pytest.mark.parametrize("path", PATHS)
async def test_paging_forward_while_others_commit_never_repeats_or_skips_a_row(
    api: Api, pool: asyncpg.Pool, path: str
) -> None:
    tenant = await committed_tenant(pool, 14)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    tid = str(tenant.tenant_id)
    throughout = ids_of(await read(api, path, tenant.admin_upn, id=tid, first=100))
    seen: list[uuid.UUID] = []
    deleted: set[uuid.UUID] = set()
    after = None
    for step in range(40):
        page = await read(api, path, tenant.admin_upn, id=tid, first=2, after=after)
        seen += ids_of(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        to_come = [i for i in throughout if i not in seen and i not in deleted]
        deleted |= await meddle(pool, tenant, seen, to_come, step)
    assert [i for i, n in Counter(seen).items() if n > 1] == []
    survivors = [i for i in throughout if i not in deleted]
    assert [i for i in survivors if i not in seen] == []
    # In the order they sort in: the rows that existed throughout keep theirs.
    assert [i for i in seen if i in survivors] == survivors


@pytest.mark.parametrize("path", PATHS)
async def test_paging_backward_while_others_commit_never_repeats_or_skips_a_row(
    api: Api, pool: asyncpg.Pool, path: str
) -> None:
    tenant = await committed_tenant(pool, 14)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    tid = str(tenant.tenant_id)
    throughout = ids_of(await read(api, path, tenant.admin_upn, id=tid, first=100))
    seen: list[uuid.UUID] = []  # newest first
    deleted: set[uuid.UUID] = set()
    before = None
    for step in range(40):
        page = await read(api, path, tenant.admin_upn, id=tid, last=2, before=before)
        seen += list(reversed(ids_of(page)))
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
        to_come = [i for i in reversed(throughout) if i not in seen and i not in deleted]
        deleted |= await meddle(pool, tenant, seen, to_come, step)
    assert [i for i, n in Counter(seen).items() if n > 1] == []
    survivors = [i for i in reversed(throughout) if i not in deleted]
    assert [i for i in survivors if i not in seen] == []
    assert [i for i in seen if i in survivors] == survivors


ORDERS = [
    [{"field": "QUANTITY", "direction": "DESC"}],
    [{"field": "CANCELED_AT", "direction": "DESC"}],
    [{"field": "CANCELED_AT"}, {"field": "QUANTITY", "direction": "DESC"}],
    [{"field": "STATUS", "direction": "DESC"}, {"field": "CREATED_AT", "direction": "ASC"}],
]


async def mixed_tenant(api: Api) -> TenantRows:
    """Subscriptions with repeated quantities and some canceled (a null canceled_at for the rest)."""
    tenant = await create_tenant(api.conn, users=4)
    await add_subscriptions(api.conn, tenant, count=11, orders_each=0, assignments_each=0)
    for n, sub in enumerate(tenant.subscription_ids):
        await api.conn.execute("UPDATE subscriptions SET quantity = $2 WHERE id = $1", sub, 1 + n % 3)
        if n % 4 == 1:
            await api.conn.execute(CANCEL, sub)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    return tenant


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: json.dumps(o))
async def test_an_order_by_with_desc_and_a_nullable_key_pages_alike_on_both_paths(
    api: Api, order: list[dict[str, str]]
) -> None:
    tenant = await mixed_tenant(api)
    tid = str(tenant.tenant_id)
    whole = await read(api, "resolvers", tenant.admin_upn, id=tid, first=100, order=order)
    assert whole == await read(api, "compiled", tenant.admin_upn, id=tid, first=100, order=order)
    nodes = [e["node"] for e in whole["edges"]]
    first = order[0]
    key = {"QUANTITY": "quantity", "CANCELED_AT": "canceledAt"}.get(first["field"])
    if key is not None:  # nulls sort as the sentinel 'infinity': last ascending, first descending
        values = [(n[key] is None, n[key] or "") if key == "canceledAt" else (False, n[key]) for n in nodes]
        assert values == sorted(values, reverse=first.get("direction") == "DESC")
    # Two at a time forward, and back from the end, the paths agree page by page and cover it all.
    after, forward = None, list[Any]()
    while True:
        resolved = await read(api, "resolvers", tenant.admin_upn, id=tid, first=2, after=after, order=order)
        assert resolved == await read(api, "compiled", tenant.admin_upn, id=tid, first=2, after=after, order=order)
        forward += resolved["edges"]
        if not resolved["pageInfo"]["hasNextPage"]:
            break
        after = resolved["pageInfo"]["endCursor"]
    assert forward == whole["edges"]
    before, backward = None, list[Any]()
    while True:
        resolved = await read(api, "resolvers", tenant.admin_upn, id=tid, last=3, before=before, order=order)
        assert resolved == await read(api, "compiled", tenant.admin_upn, id=tid, last=3, before=before, order=order)
        backward = resolved["edges"] + backward
        if not resolved["pageInfo"]["hasPreviousPage"]:
            break
        before = resolved["pageInfo"]["startCursor"]
    assert backward == whole["edges"]


@pytest.mark.parametrize("argument", ["after", "before"])
async def test_a_cursor_of_one_order_is_refused_under_another(api: Api, argument: str) -> None:
    tenant = await mixed_tenant(api)
    tid = str(tenant.tenant_id)
    by_quantity = [{"field": "QUANTITY"}]
    cursor = (await read(api, "resolvers", tenant.admin_upn, id=tid, first=3, order=by_quantity))["edges"][1]["cursor"]
    # Accepted by its own order on both paths, and the same cursor either way.
    assert (await read(api, "compiled", tenant.admin_upn, id=tid, first=3, order=by_quantity))["edges"][1][
        "cursor"
    ] == cursor
    for order in (None, [{"field": "QUANTITY", "direction": "DESC"}], [{"field": "CREATED_AT"}]):
        variables = {"id": tid, argument: cursor, "order": order}
        result = await api.execute(PAGE, as_user=tenant.admin_upn, variables=variables)
        assert result.errors is not None
        [error] = result.errors
        assert error.message == f"`{argument}` is not a cursor this API issued."
        assert error.extensions is not None
        assert error.extensions["field"] == argument
        # The compiler declines it, and the resolvers report it as above.
        assert await api.compiled(PAGE, as_user=tenant.admin_upn, variables=variables) is None


COUNTED = """
query ($id: ID!) { tenant(id: $id) { subscriptions(first: 5) { totalCount nodes { id } } } }
"""
UNCOUNTED = """
query ($id: ID!) { tenant(id: $id) { subscriptions(first: 5) { pageInfo { hasNextPage } nodes { id } } } }
"""


async def test_total_count_is_counted_only_when_asked_for(api: Api) -> None:
    tenant = await mixed_tenant(api)
    variables = {"id": str(tenant.tenant_id)}
    statements: list[str] = []
    with api.conn.query_logger(lambda record: statements.append(record.query)):
        await api.data(UNCOUNTED, as_user=tenant.admin_upn, variables=variables)
        uncounted = api.last_statements
        assert not [s for s in statements if "count(" in s]
        counted = await api.data(COUNTED, as_user=tenant.admin_upn, variables=variables)
        assert counted["tenant"]["subscriptions"]["totalCount"] == 11
        assert api.last_statements == uncounted + 1
    # The compiled statement: one count more with totalCount than without.
    sql = {}
    for name, query in (("counted", COUNTED), ("uncounted", UNCOUNTED)):
        document = parse(query)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        async with api.as_gateway(api.claims_of(tenant.admin_upn)) as context:
            sql[name] = Compiler(schema._schema, document, variables, context.scope_of).compile(operation).sql
    assert sql["counted"].count("count(") == sql["uncounted"].count("count(") + 1


async def explain(conn: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """The executed plan of a statement (the pool may already decode json)."""
    explained = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
    [top] = json.loads(explained) if isinstance(explained, str) else explained
    plan: dict[str, Any] = top["Plan"]
    return plan


def scans(plan: dict[str, Any], relation: str) -> list[dict[str, Any]]:
    found = [plan] if plan.get("Relation Name") == relation else []
    for child in plan.get("Plans", []):
        found += scans(child, relation)
    return found


def rows_read(node: dict[str, Any]) -> float:
    """Rows a scan node produced or threw away, over all its loops."""
    loops = node.get("Actual Loops", 1)
    kept = node.get("Actual Rows", 0)
    removed = node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
    return float((kept + removed) * loops)


async def test_page_fifty_of_a_large_list_is_one_keyset_seek(api: Api) -> None:
    tenant = await create_tenant(api.conn, users=4)
    await add_subscriptions(api.conn, tenant, count=2000, orders_each=0, assignments_each=0)
    await api.conn.execute("ANALYZE subscriptions")
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    ordering = sortables.SUBSCRIPTION.ordering(None)
    after = await api.conn.fetchval(
        f"SELECT {cursor_sql(ordering, 's')} FROM subscriptions s WHERE s.tenant_id = $1"
        f" ORDER BY {ordering.order_by('s')} OFFSET 979 LIMIT 1",
        tenant.tenant_id,
    )
    page = await read(api, "resolvers", tenant.admin_upn, id=str(tenant.tenant_id), first=20, after=after)
    assert len(page["edges"]) == 20
    decoded = sortables.decode_cursor(after, ordering, "after")
    sql = page_statement(SELECT_SUBSCRIPTIONS_BY_TENANT, ordering, after=True, before=False, backward=False)
    args = (tenant.tenant_id, [tenant.tenant_id], list(decoded), None, 20, None, True, tenant.admin_id)
    plans = {}
    async with api.as_gateway(api.claims_of(tenant.admin_upn)):
        # No filters: channels, product, statuses, purchaser, expires before, purchased since ($9 to $14) all NULL.
        plans["resolvers"] = await explain(api.conn, sql, (*args, *[None] * 6))
    document = parse(PAGE)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    variables = {"id": str(tenant.tenant_id), "first": 20, "after": after}
    async with api.as_gateway(api.claims_of(tenant.admin_upn)) as context:
        compiled = Compiler(schema._schema, document, variables, context.scope_of).compile(operation)
        plans["compiled"] = await explain(api.conn, compiled.sql, tuple(compiled.params))
    for path, plan in plans.items():
        read_rows = [rows_read(node) for node in scans(plan, "subscriptions")]
        print(f"page 50 of 2000, {path}: subscription scans {[n['Node Type'] for n in scans(plan, 'subscriptions')]}")
        print(f"  rows read per scan {read_rows} (an OFFSET window reads 1000+)")
        assert read_rows
        assert max(read_rows) <= 21 + 1, (path, read_rows)
        assert "Seq Scan" not in [n["Node Type"] for n in scans(plan, "subscriptions")]


def keyset_cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode("utf-8", "surrogatepass")).decode()


BY_QUANTITY = sortables.SUBSCRIPTION.ordering([("QUANTITY", False)])
BY_NAME = sortables.USER.ordering(None)
NIL = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("cursor", "ordering"),
    [
        (keyset_cursor(BY_QUANTITY.signature, "\u0661\u0662", NIL), BY_QUANTITY),  # Arabic-Indic digits
        (keyset_cursor(BY_QUANTITY.signature, "1" * 19, NIL), BY_QUANTITY),  # past bigint
        (keyset_cursor(BY_QUANTITY.signature, "1.5", NIL), BY_QUANTITY),
        (keyset_cursor(BY_NAME.signature, "\ud800", NIL), BY_NAME),  # a lone surrogate asyncpg cannot send
        (keyset_cursor(BY_NAME.signature, "a\u0000", NIL), BY_NAME),
        (keyset_cursor(BY_NAME.signature, "Ann", "ABCDEF00-0000-0000-0000-000000000000"), BY_NAME),  # not as issued
        (keyset_cursor(sortables.SUBSCRIPTION.ordering(None).signature, "2026-02-30T00:00:00.000000Z", NIL), None),
        (keyset_cursor(sortables.SUBSCRIPTION.ordering(None).signature, "\u0662026-01-01T00:00:00.000000Z", NIL), None),
        (base64.urlsafe_b64encode(b"[" * 5000).decode(), BY_NAME),  # deeper than Python's JSON parses
        ("W" * 20_000, BY_NAME),
    ],
)
def test_a_value_that_would_fail_in_sql_is_refused_before_it_is_sent(cursor: str, ordering: Any) -> None:
    ordering = ordering or sortables.SUBSCRIPTION.ordering(None)
    with pytest.raises(BadUserInput, match="not a cursor this API issued"):
        sortables.decode_cursor(cursor, ordering, "after")
