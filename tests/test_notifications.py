"""Notifications as a connection: ``Viewer.notifications`` pages the viewer's own with
keyset cursors (newest first, the id breaking ties), filters ``unreadOnly``, counts ``totalCount``
only when asked, and shows the read state ``markNotificationsRead`` sets.

Expectations come from the table by plain SQL (the owner's, past row-level security), never from
the API under test; every read is asked of both read paths, which must agree byte for byte. Rows a
test adds are dated from the app clock (SQL ``app_now()``), never from today.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from purchasegraph.demo.actors import ALEX, BEA, GUS, LEE, LIA, OLGA, PAT, PAULA, PETE, RITA, SAM
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api, DemoUserIds
from tests.mutations import mutate, problems
from tests.relay_pages import node_ids, pages_backward, pages_forward
from tests.test_app_principals import ACTORS, as_app, compiled_as_app
from tests.test_compiled_roots import agree

NOTIFICATIONS = """
query($first: Int, $after: String, $last: Int, $before: String, $unread: Boolean! = false,
      $order: [NotificationOrder!]) {
  viewer {
    notifications(first: $first, after: $after, last: $last, before: $before, unreadOnly: $unread,
                  orderBy: $order) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id kind message subjectId createdAt readAt } }
    }
  }
}"""
MARK_READ = "mutation ($ids: [ID!]) { markNotificationsRead(ids: $ids) { markedCount userErrors { code field } } }"

# Every kind of user; the application and the anonymous caller have no viewer.
USERS = {
    "admin": ALEX,
    "billing_admin": BEA,
    "global_reader": RITA,
    "purchaser": PAULA,
    "another_purchaser": PETE,
    "licensed_user": LEE,
    "synced_user": SAM,
    "guest": GUS,
    "partner": PAT,
    "expired_partner": LIA,
    "outsider": OLGA,
}

# Newest first, the id breaking ties: the connection's default order.
OWN_NOTIFICATIONS = """
SELECT tenant_id, id, read_at FROM notifications
 WHERE tenant_id = $1 AND user_id = $2 AND (NOT $3::bool OR read_at IS NULL)
 ORDER BY created_at DESC, id"""

# Notifications for a user, `$3` of them, all at one instant of the app clock (so only the id
# orders them) and one a day older for each.
ADD_NOTIFICATIONS = """
INSERT INTO notifications (tenant_id, id, user_id, kind, message, created_at)
SELECT $1, gen_random_uuid(), $2, 'test_notice', 'A notice ' || g,
       app_now() - CASE WHEN g % 2 = 0 THEN interval '0' ELSE g * interval '1 day' END
  FROM generate_series(1, $3) AS g"""


async def own(conn: asyncpg.Connection, ids: DemoUserIds, *, unread: bool = False) -> list[str]:
    rows = await conn.fetch(OWN_NOTIFICATIONS, ids.tenant_id, ids.user_id, unread)
    return [encode_id("Notification", r["id"], r["tenant_id"]) for r in rows]


async def add(conn: asyncpg.Connection, ids: DemoUserIds, count: int) -> None:
    await conn.execute(ADD_NOTIFICATIONS, ids.tenant_id, ids.user_id, count)


async def both(api: Api, as_user: str | None, variables: dict[str, Any]) -> dict[str, Any]:
    """The data, after both read paths agreed on it byte for byte (the compiler with no fallback)."""
    return await agree(api, NOTIFICATIONS, as_user, variables)


def page_of(data: dict[str, Any]) -> dict[str, Any]:
    page: dict[str, Any] = data["viewer"]["notifications"]
    return page


def gids(data: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page_of(data)["edges"]]


# -- role x operation: reading ------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(USERS))
async def test_every_user_sees_exactly_their_own_notifications_newest_first(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds], role: str
) -> None:
    upn = USERS[role]
    await add(conn, demo_ids[upn], 3)
    expected = await own(conn, demo_ids[upn])
    data = await both(api, upn, {"first": 100})
    assert gids(data) == expected
    assert page_of(data)["totalCount"] == len(expected)


async def test_an_admin_sees_only_their_own_notifications_not_the_tenants(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    await add(conn, demo_ids[PAULA], 2)
    paulas = set(await own(conn, demo_ids[PAULA]))
    for viewer in (ALEX, BEA, RITA, PETE, PAT):
        assert not set(gids(await both(api, viewer, {"first": 100}))) & paulas, viewer


async def test_anonymous_has_no_viewer_and_so_no_notifications(api: Api) -> None:
    assert await both(api, None, {}) == {"viewer": None}


@pytest.mark.parametrize("actor", ["contoso_reader", "adatum_reader", "woodgrove_unrelated"])
async def test_an_application_has_no_viewer_and_so_no_notifications(api: Api, actor: str) -> None:
    assert await as_app(api, ACTORS[actor], NOTIFICATIONS) == {"viewer": None}
    assert await compiled_as_app(api, ACTORS[actor], NOTIFICATIONS, {}) == {"viewer": None}


# -- paging -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3])
async def test_notifications_page_forward_and_backward_with_cursors(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds], size: int
) -> None:
    await add(conn, demo_ids[PAULA], 10)  # several at one instant: the id orders them
    expected = await own(conn, demo_ids[PAULA])
    assert len(expected) > 3 * size

    async def notifications(paging: dict[str, Any]) -> dict[str, Any]:
        return page_of(await both(api, PAULA, paging))

    forward = await pages_forward(notifications, size)
    assert node_ids(forward) == expected
    assert {page["totalCount"] for page in forward} == {len(expected)}
    assert node_ids(await pages_backward(notifications, size)) == expected


async def test_a_notification_arriving_between_pages_does_not_shift_the_next_page(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    await add(conn, demo_ids[PAULA], 4)
    expected = await own(conn, demo_ids[PAULA])
    first = page_of(await both(api, PAULA, {"first": 2}))
    # A newer one arrives: it sorts before the page, never onto the next one.
    await conn.execute(
        "INSERT INTO notifications (tenant_id, id, user_id, kind, message, created_at)"
        " VALUES ($1, gen_random_uuid(), $2, 'test_notice', 'Newer', app_now() + interval '1 hour')",
        demo_ids[PAULA].tenant_id,
        demo_ids[PAULA].user_id,
    )
    second = page_of(await both(api, PAULA, {"first": 2, "after": first["pageInfo"]["endCursor"]}))
    assert [e["node"]["id"] for e in second["edges"]] == expected[2:4]


async def test_notifications_sort_oldest_first_by_order_by(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    await add(conn, demo_ids[PAULA], 4)
    rows = await conn.fetch(
        "SELECT tenant_id, id FROM notifications WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id",
        demo_ids[PAULA].tenant_id,
        demo_ids[PAULA].user_id,
    )
    expected = [encode_id("Notification", r["id"], r["tenant_id"]) for r in rows]
    oldest_first = {"first": 100, "order": [{"field": "CREATED_AT", "direction": "ASC"}]}
    assert gids(await both(api, PAULA, oldest_first)) == expected


async def test_a_cursor_of_another_order_is_refused(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    await add(conn, demo_ids[PAULA], 3)
    page = page_of(await both(api, PAULA, {"first": 1}))
    oldest_first = [{"field": "CREATED_AT", "direction": "ASC"}]
    variables = {"first": 1, "after": page["pageInfo"]["endCursor"], "order": oldest_first}
    result = await api.execute(NOTIFICATIONS, as_user=PAULA, variables=variables)
    assert result.errors is not None
    assert await api.compiled(NOTIFICATIONS, as_user=PAULA, variables=variables) is None  # declined to the resolvers


@pytest.mark.parametrize("size", [101, -1])
async def test_a_page_size_out_of_range_is_refused_as_on_every_connection(api: Api, size: int) -> None:
    result = await api.execute(NOTIFICATIONS, as_user=PAULA, variables={"first": size})
    assert result.errors is not None
    assert "between 0 and 100" in result.errors[0].message


async def test_total_count_is_not_counted_unless_asked(api: Api) -> None:
    query = "{ viewer { notifications(first: 1) { nodes { id } pageInfo { hasNextPage } } } }"
    data = await agree(api, query, ALEX, {})
    assert "totalCount" not in data["viewer"]["notifications"]


# -- read state ---------------------------------------------------------------------------------


async def test_unread_only_keeps_those_not_yet_marked_read(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    await add(conn, demo_ids[PAULA], 4)
    everything = await own(conn, demo_ids[PAULA])
    await mutate(api, MARK_READ, PAULA, ids=everything[:2])
    unread = await own(conn, demo_ids[PAULA], unread=True)
    assert unread == [g for g in everything if g not in everything[:2]]
    data = await both(api, PAULA, {"first": 100, "unread": True})
    assert gids(data) == unread
    assert page_of(data)["totalCount"] == len(unread)
    assert all(e["node"]["readAt"] is None for e in page_of(data)["edges"])
    # Paging the unread ones stays within them.
    first = page_of(await both(api, PAULA, {"first": 1, "unread": True}))
    rest = page_of(await both(api, PAULA, {"first": 100, "after": first["pageInfo"]["endCursor"], "unread": True}))
    assert [e["node"]["id"] for e in first["edges"] + rest["edges"]] == unread


async def test_mark_notifications_read_sets_the_read_state_the_connection_shows(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    await add(conn, demo_ids[PAULA], 3)
    before = page_of(await both(api, PAULA, {"first": 100}))
    newest = before["edges"][0]["node"]
    assert newest["readAt"] is None
    assert await mutate(api, MARK_READ, PAULA, ids=[newest["id"]]) == {"markedCount": 1, "userErrors": []}
    after = page_of(await both(api, PAULA, {"first": 100}))
    assert [e["node"]["id"] for e in after["edges"]] == [e["node"]["id"] for e in before["edges"]]
    assert after["edges"][0]["node"]["readAt"] is not None
    assert newest["id"] not in gids(await both(api, PAULA, {"first": 100, "unread": True}))
    # All of hers: none unread is left, and nobody else's changed.
    petes_unread = await own(conn, demo_ids[PETE], unread=True)
    marked = await mutate(api, MARK_READ, PAULA, ids=None)
    assert marked["userErrors"] == []
    empty = page_of(await both(api, PAULA, {"first": 100, "unread": True}))
    assert (empty["edges"], empty["totalCount"], empty["pageInfo"]["hasNextPage"]) == ([], 0, False)
    assert await own(conn, demo_ids[PETE], unread=True) == petes_unread


async def test_another_users_notification_cannot_be_marked_read_and_stays_unread(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    await add(conn, demo_ids[PAULA], 1)
    paulas = (await own(conn, demo_ids[PAULA], unread=True))[0]
    for someone in (PETE, ALEX, PAT, OLGA):
        refused = await mutate(api, MARK_READ, someone, ids=[paulas])
        assert problems(refused) == [("NOT_FOUND", ["ids", "0"])], someone
    assert paulas in gids(await both(api, PAULA, {"first": 100, "unread": True}))


async def test_an_unknown_notification_id_is_not_found(api: Api) -> None:
    unknown = encode_id("Notification", uuid.uuid4(), api.ids[PAULA].tenant_id)
    assert problems(await mutate(api, MARK_READ, PAULA, ids=[unknown])) == [("NOT_FOUND", ["ids", "0"])]
