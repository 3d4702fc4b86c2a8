"""The purchaser's "my bills" and "my cards": ``Viewer.invoices``, ``Viewer.paymentMethods``,
``Invoice.number`` and the printable invoice ``GET /invoices/{Invoice ID}`` (``Invoice.printUrl``).

Expectations come from the tables by plain SQL (the owner's, past row-level security), never from
the API under test; every read is asked of both read paths, which must agree byte for byte. No
expectation names a date: the seed is laid out around the app clock, so the tests compare sets and
orders the SQL fixes, and invoice numbers by their shape.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from purchasegraph.demo.actors import (
    ALEX,
    CONTOSO_ID,
    GUS,
    LEE,
    LIA,
    OLGA,
    PAT,
    PAULA,
    PETE,
    RITA,
    SAM,
    WOODGROVE_ID,
    demo_id,
)
from purchasegraph.gateway.invoice_page import render_invoice
from purchasegraph.identity import AppRole, mint_app_token
from purchasegraph.schema.ids import encode_id
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, ThrottleSettings
from tests.conftest import Api, DemoUserIds
from tests.relay_pages import node_ids, pages_backward, pages_forward
from tests.settings import SECRET, gateway_settings
from tests.test_app_principals import ACTORS, as_app, compiled_as_app
from tests.test_compiled_roots import agree
from tests.test_http import serving, token_for

NUMBER = re.compile(r"^INV-(\d{4})-(\d{6,})$")

MY_BILLS = """
query($first: Int, $after: String, $last: Int, $before: String, $status: [InvoiceStatus!], $due: Date,
      $order: [InvoiceOrder!]) {
  viewer {
    invoices(first: $first, after: $after, last: $last, before: $before, status: $status, dueBefore: $due,
             orderBy: $order) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id number status dueDate periodStart printUrl amount { amount currency }
                            subscription { id product { name } } } }
    }
  }
}"""
MY_CARDS = "{ viewer { paymentMethods { id kind brand last4 expMonth expYear } } }"

# Every kind of user the brief names; the application and the anonymous caller have no viewer.
USERS = {
    "purchaser": PAULA,
    "another_purchaser": PETE,
    "admin": ALEX,
    "global_reader": RITA,
    "partner": PAT,
    "guest": GUS,
    "licensed_user": LEE,
    "outsider": OLGA,
    "expired_partner": LIA,
    "purchaser_of_a_disabled_subscription": SAM,
}

# The printable page's statuses: scoped exactly like the invoice (node(id:)): its billed user and
# the tenant's whole-tenant viewers; anyone else finds nothing.
PAGE_STATUS = {
    "purchaser": 200,
    "another_purchaser": 404,
    "admin": 200,
    "global_reader": 200,
    "partner": 200,
    "guest": 404,
    "licensed_user": 404,
    "outsider": 404,
    "expired_partner": 404,
    "purchaser_of_a_disabled_subscription": 404,
}


def invoice_gid(row: asyncpg.Record) -> str:
    return encode_id("Invoice", row["id"], row["tenant_id"])


# Newest first: the default order of the connection, the id to make it total.
OWN_INVOICES = """
SELECT tenant_id, id, number, status, due_date, period_start FROM invoices
 WHERE tenant_id = $1 AND billed_user_id = $2
 ORDER BY period_start DESC, id"""


async def own_invoices(conn: asyncpg.Connection, ids: DemoUserIds) -> list[asyncpg.Record]:
    return list(await conn.fetch(OWN_INVOICES, ids.tenant_id, ids.user_id))


async def both(api: Api, query: str, as_user: str | None, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The data, after both read paths agreed on it byte for byte (the engine with no fallback)."""
    return await agree(api, query, as_user, variables or {})


def gids(data: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in data["viewer"]["invoices"]["edges"]]


# -- invoice numbers --------------------------------------------------------------------------


async def test_every_invoice_has_a_number_unique_in_its_tenant(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch("SELECT tenant_id, number, period_start FROM invoices")
    assert rows
    for row in rows:
        match = NUMBER.match(row["number"])
        assert match is not None, row["number"]
        assert int(match.group(1)) == row["period_start"].year
    assert len({(r["tenant_id"], r["number"]) for r in rows}) == len(rows)


# A copy of an invoice of Contoso ($3) under a new id ($2), naming a number the trigger overrides.
COPY_INVOICE = """
INSERT INTO invoices (tenant_id, id, subscription_id, billed_user_id, period_start, period_end,
                      amount, currency, status, due_date, paid_at, number)
SELECT tenant_id, $2, subscription_id, billed_user_id, period_start, period_end, amount, currency,
       'open', due_date, NULL, 'INV-0000-000001' FROM invoices WHERE tenant_id = $1 AND id = $3
RETURNING number"""


async def a_contoso_invoice(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM invoices WHERE tenant_id = $1 ORDER BY id LIMIT 1", CONTOSO_ID)
    assert row is not None
    return row


async def test_a_new_invoice_takes_the_next_number_of_its_tenant_and_year_and_keeps_it(
    conn: asyncpg.Connection,
) -> None:
    source = await a_contoso_invoice(conn)
    year = source["period_start"].year
    last = await conn.fetchval(
        "SELECT last_number FROM invoice_number_counters WHERE tenant_id = $1 AND year = $2", CONTOSO_ID, year
    )
    numbers = [await conn.fetchval(COPY_INVOICE, CONTOSO_ID, uuid.uuid4(), source["id"]) for _ in range(2)]
    assert numbers == [f"INV-{year}-{last + 1:06d}", f"INV-{year}-{last + 2:06d}"]
    # Printed on the bill: an update never renumbers it.
    await conn.execute(
        "UPDATE invoices SET number = 'INV-1999-000001' WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, source["id"]
    )
    kept = await conn.fetchval("SELECT number FROM invoices WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, source["id"])
    assert kept == source["number"]


async def test_bills_written_at_once_take_numbers_in_turn_and_a_rolled_back_one_gives_its_number_back(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as first, pool.acquire() as second:
        source = await a_contoso_invoice(first)
        one, two = first.transaction(), second.transaction()
        await one.start()
        await two.start()
        waiting: asyncio.Task[Any] | None = None
        one_open = True
        try:
            taken = await first.fetchval(COPY_INVOICE, CONTOSO_ID, uuid.uuid4(), source["id"])
            waiting = asyncio.create_task(second.fetchval(COPY_INVOICE, CONTOSO_ID, uuid.uuid4(), source["id"]))
            await asyncio.sleep(0.3)
            assert not waiting.done(), "the second bill waits for the first's number to be kept or given back"
            await one.rollback()
            one_open = False
            assert await asyncio.wait_for(waiting, timeout=10) == taken
        finally:
            if one_open:
                await one.rollback()
            if waiting is not None and not waiting.done():
                await asyncio.gather(waiting, return_exceptions=True)
            await two.rollback()


async def test_migration_0017_numbers_the_invoices_of_an_existing_database(conn: asyncpg.Connection) -> None:
    """Applied to a database that already has invoices (here: the demo world with 0017 undone)."""
    await conn.execute("""
        DROP TRIGGER invoices_number ON invoices;
        DROP FUNCTION invoices_number_in_tenant();
        DROP INDEX invoices_by_billed_user;
        ALTER TABLE invoices DROP COLUMN number;
        DROP TABLE invoice_number_counters;
    """)
    migration = Path(__file__).parent.parent / "purchasegraph/db/migrations/0017_invoice_numbers.sql"
    await conn.execute(migration.read_text(encoding="utf-8"))
    rows = await conn.fetch(
        "SELECT tenant_id, id, number, period_start FROM invoices ORDER BY tenant_id, period_start, id"
    )
    assert rows
    assert all(NUMBER.match(r["number"]) for r in rows)
    assert len({(r["tenant_id"], r["number"]) for r in rows}) == len(rows)
    # Numbered in period order within a tenant and year, from 1; the counters carry on from there.
    by_year: dict[tuple[uuid.UUID, int], list[str]] = {}
    for r in rows:
        by_year.setdefault((r["tenant_id"], r["period_start"].year), []).append(r["number"])
    for (tenant_id, year), numbers in by_year.items():
        assert numbers == [f"INV-{year}-{n:06d}" for n in range(1, len(numbers) + 1)]
        counter = await conn.fetchval(
            "SELECT last_number FROM invoice_number_counters WHERE tenant_id = $1 AND year = $2", tenant_id, year
        )
        assert counter == len(numbers)


# -- Viewer.invoices: role x operation ----------------------------------------------------------


@pytest.mark.parametrize("role", sorted(USERS))
async def test_viewer_invoices_are_exactly_the_bills_billed_to_the_viewer_newest_first(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds], role: str
) -> None:
    upn = USERS[role]
    expected = await own_invoices(conn, demo_ids[upn])
    data = await both(api, MY_BILLS, upn, {"first": 100})
    assert gids(data) == [invoice_gid(r) for r in expected]
    assert data["viewer"]["invoices"]["totalCount"] == len(expected)
    for edge, row in zip(data["viewer"]["invoices"]["edges"], expected, strict=True):
        assert edge["node"]["number"] == row["number"]
        assert edge["node"]["printUrl"] == f"/invoices/{invoice_gid(row)}"


async def test_purchaser_sees_only_their_own_invoices(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    mine = await own_invoices(conn, demo_ids[PAULA])
    petes = await own_invoices(conn, demo_ids[PETE])
    assert mine, "the demo world bills both purchasers"
    assert petes, "the demo world bills both purchasers"
    data = await both(api, MY_BILLS, PAULA, {"first": 100})
    assert set(gids(data)) == {invoice_gid(r) for r in mine}
    assert not set(gids(data)) & {invoice_gid(r) for r in petes}


async def test_an_admins_bills_are_only_their_own_purchases_bills_not_the_tenants(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    assert await conn.fetchval("SELECT count(*) FROM invoices WHERE tenant_id = $1", CONTOSO_ID) > 0
    assert gids(await both(api, MY_BILLS, ALEX, {"first": 100})) == []
    # Once one bill is Alex's (as if he had bought it), that one and nothing else.
    one = (await own_invoices(conn, demo_ids[PAULA]))[0]
    await conn.execute(
        "UPDATE invoices SET billed_user_id = $3 WHERE tenant_id = $1 AND id = $2",
        one["tenant_id"],
        one["id"],
        demo_ids[ALEX].user_id,
    )
    assert gids(await both(api, MY_BILLS, ALEX, {"first": 100})) == [invoice_gid(one)]


async def test_purchaser_keeps_the_bills_of_a_disabled_subscription(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    """DOMAIN: a disabled subscription's purchaser still sees its billing record and can pay it."""
    disabled = demo_id("subscription:sam-visio-plan-2-disabled")
    rows = await conn.fetch(
        "SELECT tenant_id, id FROM invoices WHERE tenant_id = $1 AND subscription_id = $2", CONTOSO_ID, disabled
    )
    assert rows
    data = await both(api, MY_BILLS, SAM, {"first": 100})
    assert {invoice_gid(r) for r in rows} <= set(gids(data))


async def test_anonymous_has_no_viewer_and_so_no_bills_or_cards(api: Api) -> None:
    assert await both(api, MY_BILLS, None) == {"viewer": None}
    assert await both(api, MY_CARDS, None) == {"viewer": None}


@pytest.mark.parametrize("actor", ["contoso_reader", "adatum_reader"])
async def test_an_application_has_no_viewer_and_so_no_bills_or_cards(api: Api, actor: str) -> None:
    for query in (MY_BILLS, MY_CARDS):
        assert await as_app(api, ACTORS[actor], query) == {"viewer": None}
        assert await compiled_as_app(api, ACTORS[actor], query, {}) == {"viewer": None}


# -- filters and paging -----------------------------------------------------------------------


@pytest.mark.parametrize("statuses", [["OPEN"], ["PAID"], ["PAST_DUE"], ["OPEN", "PAST_DUE"], [], None])
async def test_viewer_invoices_filter_by_status(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds], statuses: list[str] | None
) -> None:
    for upn in (PAULA, PETE):
        rows = await own_invoices(conn, demo_ids[upn])
        wanted = {s.lower() for s in statuses} if statuses is not None else None
        expected = [invoice_gid(r) for r in rows if wanted is None or r["status"] in wanted]
        assert gids(await both(api, MY_BILLS, upn, {"first": 100, "status": statuses})) == expected


async def test_viewer_invoices_filter_by_due_date_strictly_before_the_day(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    rows = await own_invoices(conn, demo_ids[PAULA])
    days = sorted({r["due_date"] for r in rows})
    assert len(days) >= 2
    for day in (days[0], days[1], days[-1], days[-1] + datetime.timedelta(days=1)):
        expected = [invoice_gid(r) for r in rows if r["due_date"] < day]
        data = await both(api, MY_BILLS, PAULA, {"first": 100, "due": day.isoformat()})
        assert gids(data) == expected, day
    # Both filters at once.
    day = days[-1] + datetime.timedelta(days=1)
    expected = [invoice_gid(r) for r in rows if r["due_date"] < day and r["status"] == "open"]
    assert (
        gids(await both(api, MY_BILLS, PAULA, {"first": 100, "due": day.isoformat(), "status": ["OPEN"]})) == expected
    )


async def test_viewer_invoices_filter_literals_compile_like_variables(api: Api) -> None:
    query = '{ viewer { invoices(status: [PAID], dueBefore: "2100-01-01") { totalCount nodes { id number } } } }'
    data = await both(api, query, PAULA)
    assert data["viewer"]["invoices"]["nodes"]


@pytest.mark.parametrize("size", [1, 2, 3])
async def test_viewer_invoices_page_forward_and_backward_through_every_bill(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds], size: int
) -> None:
    expected = [invoice_gid(r) for r in await own_invoices(conn, demo_ids[PAULA])]
    assert len(expected) > 3

    async def bills(paging: dict[str, Any]) -> dict[str, Any]:
        page: dict[str, Any] = (await both(api, MY_BILLS, PAULA, paging))["viewer"]["invoices"]
        return page

    assert node_ids(await pages_forward(bills, size)) == expected
    assert node_ids(await pages_backward(bills, size)) == expected


async def test_viewer_invoices_sort_by_order_by(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    rows = await own_invoices(conn, demo_ids[PAULA])
    expected = [invoice_gid(r) for r in sorted(rows, key=lambda r: (r["due_date"], r["id"]))]
    data = await both(api, MY_BILLS, PAULA, {"first": 100, "order": [{"field": "DUE_DATE", "direction": "ASC"}]})
    assert gids(data) == expected


# -- Viewer.paymentMethods ----------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(USERS))
async def test_viewer_payment_methods_are_the_cards_on_file_the_viewer_owns(
    api: Api, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds], role: str
) -> None:
    ids = demo_ids[USERS[role]]
    rows = await conn.fetch(
        """SELECT tenant_id, id, brand, last4 FROM payment_methods
            WHERE tenant_id = $1 AND owner_user_id = $2 AND removed_at IS NULL ORDER BY created_at DESC, id""",
        ids.tenant_id,
        ids.user_id,
    )
    data = await both(api, MY_CARDS, USERS[role])
    cards = data["viewer"]["paymentMethods"]
    assert [c["id"] for c in cards] == [encode_id("PaymentMethod", r["id"], r["tenant_id"]) for r in rows]
    assert [c["last4"] for c in cards] == [r["last4"] for r in rows]


async def test_purchaser_sees_their_card_on_file_but_not_the_removed_one_and_an_admin_never_sees_it(
    api: Api,
) -> None:
    paula = (await both(api, MY_CARDS, PAULA))["viewer"]["paymentMethods"]
    assert [(c["brand"], c["last4"]) for c in paula] == [("visa", "4242")]  # the replaced mastercard is gone
    assert all(set(c) == {"id", "kind", "brand", "last4", "expMonth", "expYear"} for c in paula)
    alex = (await both(api, MY_CARDS, ALEX))["viewer"]["paymentMethods"]
    assert paula[0]["id"] not in {c["id"] for c in alex}


# -- the printable invoice ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def http(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url)) as client:
        yield client


async def a_bill_of(pool: asyncpg.Pool, upn: str) -> asyncpg.Record:
    """The user's newest bill, as the owner reads it."""
    row = await pool.fetchrow(
        """SELECT i.tenant_id, i.id, i.number, i.amount, i.currency FROM invoices i
             JOIN users u ON u.tenant_id = i.tenant_id AND u.id = i.billed_user_id
            WHERE u.user_principal_name = $1 ORDER BY i.period_start DESC, i.id LIMIT 1""",
        upn,
    )
    assert row is not None
    return row


def bearer(upn: str) -> dict[str, str]:
    domain = upn.rpartition("@")[2]
    return {"Authorization": f"Bearer {token_for(upn, domain)}"}


@pytest.mark.parametrize("role", sorted(PAGE_STATUS))
async def test_the_printable_invoice_is_scoped_like_the_invoice(
    http: httpx.AsyncClient, pool: asyncpg.Pool, role: str
) -> None:
    bill = await a_bill_of(pool, PAULA)
    response = await http.get(f"/invoices/{invoice_gid(bill)}", headers=bearer(USERS[role]))
    assert response.status_code == PAGE_STATUS[role], response.text
    assert response.headers["cache-control"] == "private, no-store"
    if response.status_code == 200:
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert bill["number"] in response.text
        assert f"{bill['amount']:,.2f} {bill['currency']}" in response.text
        assert "Power BI Pro" in response.text


async def test_an_invoice_outside_scope_looks_exactly_like_a_missing_one(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    bill = await a_bill_of(pool, PAULA)
    missing = await http.get(f"/invoices/{encode_id('Invoice', uuid.UUID(int=7), CONTOSO_ID)}", headers=bearer(PETE))
    hidden = await http.get(f"/invoices/{invoice_gid(bill)}", headers=bearer(PETE))
    other_tenant = await http.get(f"/invoices/{invoice_gid(bill)}", headers=bearer(OLGA))
    garbage = await http.get("/invoices/not-an-id", headers=bearer(PETE))
    not_an_invoice = await http.get(
        f"/invoices/{encode_id('Subscription', demo_id('subscription:paula-power-bi-pro'), CONTOSO_ID)}",
        headers=bearer(PAULA),
    )
    for response in (missing, hidden, other_tenant, garbage, not_an_invoice):
        assert response.status_code == 404
        assert (response.text, response.headers["content-type"]) == (missing.text, missing.headers["content-type"])


async def test_the_printable_invoice_needs_a_token(http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    bill = await a_bill_of(pool, PAULA)
    anonymous = await http.get(f"/invoices/{invoice_gid(bill)}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert bill["number"] not in anonymous.text
    refused = await http.get(f"/invoices/{invoice_gid(bill)}", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert bill["number"] not in refused.text


@pytest.mark.parametrize(
    ("home", "roles", "status"),
    [
        pytest.param(CONTOSO_ID, [AppRole.READ_ALL], 200, id="contoso_reader_app-reads-its-tenant"),
        pytest.param(CONTOSO_ID, [AppRole.POLICY_READ_WRITE], 404, id="contoso_policy_app-sees-no-bills"),
        pytest.param(WOODGROVE_ID, [AppRole.READ_ALL], 404, id="unrelated_app-finds-nothing"),
    ],
)
async def test_the_printable_invoice_for_an_app_token_is_scoped_like_the_invoice(
    http: httpx.AsyncClient, pool: asyncpg.Pool, home: uuid.UUID, roles: list[AppRole], status: int
) -> None:
    bill = await a_bill_of(pool, PAULA)
    token = mint_app_token(
        secret=SECRET, app_id=uuid.uuid4(), tenant_id=home, roles=roles, issuer=DEV_ISSUER, audience=DEFAULT_AUDIENCE
    )
    response = await http.get(f"/invoices/{invoice_gid(bill)}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status, response.text


async def test_the_printable_invoice_pays_from_the_callers_throttle_bucket(
    database_url: str, pool: asyncpg.Pool
) -> None:
    """A page costs a point of the caller's bucket, as a GraphQL read does; an empty bucket gets 429."""
    bill = await a_bill_of(pool, PAULA)
    # An application of its own (a fresh bucket, app:<tenant>:<appid>) with room for one page.
    token = mint_app_token(
        secret=SECRET,
        app_id=uuid.uuid4(),
        tenant_id=CONTOSO_ID,
        roles=[AppRole.READ_ALL],
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
    )
    settings = gateway_settings(database_url, throttle=ThrottleSettings(maximum_available=1, restore_rate=1))
    async with serving(settings) as client:
        headers = {"Authorization": f"Bearer {token}"}
        first = await client.get(f"/invoices/{invoice_gid(bill)}", headers=headers)
        second = await client.get(f"/invoices/{invoice_gid(bill)}", headers=headers)
    assert first.status_code == 200
    assert second.status_code == 429
    assert "retry-after" in second.headers
    assert bill["number"] not in second.text


async def test_the_print_url_of_an_invoice_is_the_page_its_reader_fetches(
    http: httpx.AsyncClient,
) -> None:
    query = "{ viewer { invoices(first: 1, status: [OPEN]) { nodes { id number printUrl } } } }"
    posted = await http.post("/graphql", json={"query": query}, headers=bearer(PAULA))
    [node] = posted.json()["data"]["viewer"]["invoices"]["nodes"]
    page = await http.get(node["printUrl"], headers=bearer(PAULA))
    assert page.status_code == 200
    assert node["number"] in page.text


def test_every_value_on_the_printable_invoice_is_html_escaped() -> None:
    hostile = "<script>alert('x')</script>&\""
    row = {
        "number": "INV-2026-000001",
        "billed_to": hostile,
        "tenant_name": hostile,
        "product_name": hostile,
        "period_start": datetime.date(2026, 1, 1),
        "period_end": datetime.date(2026, 1, 31),
        "amount": Decimal("1234.50"),
        "currency": "USD",
        "status": "past_due",
        "due_date": datetime.date(2026, 1, 8),
        "paid_at": None,
    }
    page = render_invoice(row)
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;") == 3
    assert "1,234.50 USD" in page
    assert "Past due" in page
    assert "Not paid" in page
