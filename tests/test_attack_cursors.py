"""Attacks on keyset cursors: a cursor the API issued must be accepted back, and must carry nothing
a viewer cannot read through the API itself.

``Tenant.auditEvents`` sorts newest first and breaks ties by the event's number in its own tenant
(migration 0015). It used to be ``audit_events.id``, one identity for every tenant: the difference
between two of a tenant's cursors counted what other tenants did in between.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import asyncpg
import pytest

from purchasegraph.demo.actors import ALEX, CONTOSO, CONTOSO_ID, WOODGROVE_ID
from tests.conftest import Api
from tests.factories import create_tenant

PAGE = """
query ($t: ID!, $after: String) {
  tenant(id: $t) {
    auditEvents(first: 1, after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { action } } }
  }
}
"""
# One instant after every seeded event, whatever the date: these are the trail's newest, and
# written by one transaction, share their time as a mutation's events do.
INSERT = """
INSERT INTO audit_events (tenant_id, actor_tenant_id, action, target_type, target_id, outcome, occurred_at)
VALUES ($1, $1, $2, 'Subscription', 'x', 'accepted', '2999-01-01T00:00:00Z')
"""


def values_of(cursor: str) -> list[Any]:
    decoded: list[Any] = json.loads(base64.urlsafe_b64decode(cursor))
    return decoded[1:]


@pytest.fixture
async def two_events(conn: asyncpg.Connection) -> None:
    """Two of Contoso's events with Woodgrove's activity in between (the owner's writes)."""
    await conn.execute(INSERT, CONTOSO_ID, "attack.first")
    for _ in range(5):
        await conn.execute(INSERT, WOODGROVE_ID, "attack.elsewhere")
    await conn.execute(INSERT, CONTOSO_ID, "attack.second")


@pytest.mark.usefixtures("two_events")
async def test_the_audit_trail_pages_past_its_first_event_with_the_cursor_it_issued(api: Api) -> None:
    first = await api.data(PAGE, as_user=ALEX, variables={"t": CONTOSO})
    connection = first["tenant"]["auditEvents"]
    assert connection["pageInfo"]["hasNextPage"]
    second = await api.execute(
        PAGE, as_user=ALEX, variables={"t": CONTOSO, "after": connection["pageInfo"]["endCursor"]}
    )
    assert second.errors is None, second.errors  # today: "`after` is not a cursor this API issued."


@pytest.mark.usefixtures("two_events")
async def test_an_audit_events_cursor_holds_no_counter_shared_with_other_tenants(api: Api) -> None:
    """Every key value is one a viewer reads elsewhere (the time, the action) or a number that
    counts only this tenant's events: Contoso's two events, written one after the other, are 1
    apart in it whatever Woodgrove recorded in between (5 events, which a shared counter shows)."""
    data = await api.data(PAGE.replace("first: 1", "first: 2"), as_user=ALEX, variables={"t": CONTOSO})
    edges = data["tenant"]["auditEvents"]["edges"]
    assert [edge["node"]["action"] for edge in edges] == ["attack.second", "attack.first"]
    *_, second = values_of(edges[0]["cursor"])
    *_, first = values_of(edges[1]["cursor"])
    assert int(second) - int(first) == 1


async def test_two_transactions_writing_one_tenants_events_take_numbers_in_turn(pool: asyncpg.Pool) -> None:
    """Committed rows, two connections: the second writer waits for the first to commit, then
    counts on from its number; the two never share one."""
    async with pool.acquire() as conn:
        tenant = (await create_tenant(conn, users=0)).tenant_id
    async with pool.acquire() as first, pool.acquire() as second:
        transaction = first.transaction()
        await transaction.start()
        try:
            mine = await first.fetchval(INSERT + " RETURNING tenant_seq", tenant, "race.first")
            theirs = asyncio.ensure_future(second.fetchval(INSERT + " RETURNING tenant_seq", tenant, "race.second"))
            await asyncio.sleep(0.3)
            assert not theirs.done()  # the tenant's counter is the first writer's until it ends
        finally:
            await transaction.commit()
        assert await theirs == mine + 1
