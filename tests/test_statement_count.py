"""A nested query's SQL statement count must not grow with the number of rows it returns."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import GATEWAY_SET_UP, Api, DemoUserIds
from tests.factories import add_subscriptions, create_tenant

PURCHASE_GRAPH = """
query PurchaseGraph($id: ID!) {
  tenant(id: $id) {
    name
    subscriptions(first: 50) {
      totalCount
      edges { cursor node {
        id status quantity expiresAt
        product { name }
        purchaser { displayName }
        orders(first: 5) { totalCount nodes { kind quantityDelta total { amount currency } } }
        assignments(first: 25) { totalCount nodes { assignedAt user { displayName } } }
      } }
    }
  }
}
"""
# tenant, subscriptions page, products, purchasers, orders, assignments, assigned users. Purchasers
# and assigned users share one loader, so when their loads land in the same tick they are one
# statement: 6 or 7. Then one count per connection whose totalCount is asked for (counted only
# then, for every parent of its page at once): 3 here. Never more, whatever the number of rows.
MAX_STATEMENTS = 10


async def statements_for(api: Api, subscriptions: int) -> tuple[int, int, int]:
    """(statements counted by the executor, by the connection's query logger, subscriptions returned)."""
    tenant = await create_tenant(api.conn, users=30)
    await add_subscriptions(api.conn, tenant, count=subscriptions, orders_each=6, assignments_each=4)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    logged: list[str] = []
    await asyncio.sleep(0.05)  # let earlier log callbacks drain before listening
    with api.conn.query_logger(lambda record: logged.append(record.query)):
        data = await api.data(PURCHASE_GRAPH, as_user=tenant.admin_upn, variables={"id": str(tenant.tenant_id)})
        await asyncio.sleep(0.05)  # asyncpg reports to query loggers from the event loop
    edges = data["tenant"]["subscriptions"]["edges"]
    assert data["tenant"]["subscriptions"]["totalCount"] == subscriptions
    assert all(len(e["node"]["orders"]["nodes"]) == 5 for e in edges)
    assert all(len(e["node"]["assignments"]["nodes"]) == 4 for e in edges)
    assert all(e["node"]["assignments"]["nodes"][0]["user"] is not None for e in edges)
    # The executor counted the viewer's own statement too before it was reset: only the query's remain.
    # The log also holds the role and tenant set-up Api wraps a request in (not the request's SQL).
    queries = [q for q in logged if q not in GATEWAY_SET_UP]
    return api.last_statements, len(queries) - 1, len(edges)


@pytest.mark.parametrize("subscriptions", [10, 100])
async def test_purchase_graph_runs_a_fixed_number_of_statements(api: Api, subscriptions: int) -> None:
    counted, logged, returned = await statements_for(api, subscriptions)
    assert returned == min(subscriptions, 50)
    assert counted <= MAX_STATEMENTS
    assert logged == counted


async def test_statement_count_stays_bounded_from_10_to_100_subscriptions(api: Api) -> None:
    small, _, _ = await statements_for(api, 10)
    large, _, _ = await statements_for(api, 100)
    assert small <= MAX_STATEMENTS
    assert large <= MAX_STATEMENTS
