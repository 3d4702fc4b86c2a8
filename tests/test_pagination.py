"""Relay connections: cursors page forwards and backwards, counts stay whole."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, DemoUserIds
from tests.factories import add_subscriptions, create_tenant

PAGE = """
query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  tenant(id: $id) {
    subscriptions(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id } }
    }
  }
}
"""


async def page(api: Api, upn: str, tenant_id: str, **args: Any) -> dict[str, Any]:
    data = await api.data(PAGE, as_user=upn, variables={"id": tenant_id, **args})
    connection: dict[str, Any] = data["tenant"]["subscriptions"]
    return connection


async def test_paging_forward_visits_every_subscription_once(api: Api) -> None:
    tenant = await create_tenant(api.conn, users=5)
    await add_subscriptions(api.conn, tenant, count=23, orders_each=1, assignments_each=0)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        conn = await page(api, tenant.admin_upn, str(tenant.tenant_id), first=10, after=after)
        assert conn["totalCount"] == 23
        seen += [e["node"]["id"] for e in conn["edges"]]
        assert conn["pageInfo"]["hasPreviousPage"] == (pages > 0)
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 23


async def test_last_and_before_page_backwards(api: Api) -> None:
    tenant = await create_tenant(api.conn, users=5)
    await add_subscriptions(api.conn, tenant, count=12, orders_each=1, assignments_each=0)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    everything = await page(api, tenant.admin_upn, str(tenant.tenant_id), first=100)
    ids = [e["node"]["id"] for e in everything["edges"]]
    tail = await page(api, tenant.admin_upn, str(tenant.tenant_id), last=5)
    assert [e["node"]["id"] for e in tail["edges"]] == ids[-5:]
    assert tail["pageInfo"]["hasPreviousPage"]
    assert not tail["pageInfo"]["hasNextPage"]
    before = await page(api, tenant.admin_upn, str(tenant.tenant_id), last=5, before=tail["pageInfo"]["startCursor"])
    assert [e["node"]["id"] for e in before["edges"]] == ids[-10:-5]
    head = await page(api, tenant.admin_upn, str(tenant.tenant_id), last=5, before=before["edges"][2]["cursor"])
    # Only four items come before the fifth: a short page, and nothing before it.
    assert [e["node"]["id"] for e in head["edges"]] == ids[0:4]
    assert not head["pageInfo"]["hasPreviousPage"]


async def test_a_page_past_the_end_is_empty_but_still_counts(api: Api) -> None:
    tenant = await create_tenant(api.conn, users=5)
    await add_subscriptions(api.conn, tenant, count=3, orders_each=1, assignments_each=0)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    first = await page(api, tenant.admin_upn, str(tenant.tenant_id), first=3)
    after_end = await page(api, tenant.admin_upn, str(tenant.tenant_id), first=3, after=first["pageInfo"]["endCursor"])
    assert after_end["edges"] == []
    assert after_end["totalCount"] == 3
    assert not after_end["pageInfo"]["hasNextPage"]


async def test_without_first_or_last_a_page_holds_twenty(api: Api) -> None:
    tenant = await create_tenant(api.conn, users=5)
    await add_subscriptions(api.conn, tenant, count=25, orders_each=1, assignments_each=0)
    api.ids[tenant.admin_upn] = DemoUserIds(tenant.admin_id, tenant.tenant_id)
    conn = await page(api, tenant.admin_upn, str(tenant.tenant_id))
    assert len(conn["edges"]) == 20
    assert conn["pageInfo"]["hasNextPage"]
