"""Row-level security, the second wall (migration 0003): whatever a query asks for, the database
answers only for the tenants the connection acts in.

Most tests here go past the first wall on purpose: they call query functions with another
tenant's id and an ADMIN scope of it, as a resolver bug would, and check the database still
returns nothing. Each such read first runs as the owner to show the rows are really there.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from purchasegraph.db import ordering as sortables
from purchasegraph.db.executor import ConnectionExecutor, Executor, RequestExecutor
from purchasegraph.db.ordering import Sortable
from purchasegraph.db.pagination import PageArgs
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.queries import (
    assignments,
    capacity,
    invoices,
    orders,
    partners,
    payment_methods,
    requests,
    subscriptions,
    users,
)
from purchasegraph.demo.actors import CONTOSO_ID, WOODGROVE_ID, demo_tenant_id, demo_user_id
from purchasegraph.policy import Access, Scope
from tests.conftest import ACT_FOR_TENANT, ENTER_GATEWAY_ROLE

ADATUM_ID = demo_tenant_id("adatum-partners.example")  # active partner of Contoso, lapsed at Woodgrove
LITWARE_ID = demo_tenant_id("litware-partners.example")  # its relationships expired or were terminated
PETRA_ID = demo_user_id("petra.purchaser@woodgrove.example")  # owns a card at Woodgrove

# What a resolver bug could hand a query function: Woodgrove, as if its admin (and card owner) asked.
WOODGROVE_ADMIN = Scope(WOODGROVE_ID, Access.ADMIN, PETRA_ID, can_administer=True, can_govern=True)


def everything(sortable: Sortable) -> PageArgs:
    """A page of a hundred rows in the connection's default order."""
    return PageArgs(first=100, last=None, after=None, before=None, ordering=sortable.ordering(None))


TENANT_TABLES = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       has_table_privilege('purchasegraph_gateway', c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS gateway_may_touch,
       EXISTS (SELECT 1 FROM pg_policy p
                WHERE p.polrelid = c.oid AND p.polcmd = '*'
                  AND pg_get_expr(p.polqual, p.polrelid) LIKE '%purchasegraph_reach()%'
                  AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%purchasegraph_reach()%') AS reach_policy
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace
 ORDER BY c.relname
"""
TENANTS_SEEN = "SELECT array_agg(DISTINCT tenant_id ORDER BY tenant_id) FROM {table}"


async def act_for(conn: asyncpg.Connection, tenant_id: uuid.UUID | None) -> None:
    """The rest of the test's transaction as the gateway acting for ``tenant_id`` (None: anonymous)."""
    await conn.execute(ENTER_GATEWAY_ROLE)
    await conn.execute(ACT_FOR_TENANT, "" if tenant_id is None else str(tenant_id))


async def tenants_seen(conn: asyncpg.Connection, table: str) -> set[uuid.UUID]:
    # `table` comes from the catalogue or a literal below, never from a request.
    seen: list[uuid.UUID] | None = await conn.fetchval(TENANTS_SEEN.format(table=table))
    return set(seen or [])


# -- The role -----------------------------------------------------------------------------------


async def test_the_gateway_role_is_neither_superuser_nor_bypasses_rls_nor_logs_in(conn: asyncpg.Connection) -> None:
    role = await conn.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1", GATEWAY_ROLE
    )
    assert role is not None
    assert dict(role) == {"rolsuper": False, "rolbypassrls": False, "rolcanlogin": False}


async def test_the_gateway_role_owns_no_table_since_owners_pass_rls(conn: asyncpg.Connection) -> None:
    owned = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)", GATEWAY_ROLE
    )
    assert owned == []


async def test_every_table_with_a_tenant_id_column_has_rls_enabled_and_the_reach_policy(
    conn: asyncpg.Connection,
) -> None:
    tables = await conn.fetch(TENANT_TABLES)
    assert len(tables) >= 14  # today's tables: a query that found none would pass for nothing
    # A table the gateway may not touch at all (the directory's reference tables, read by the owner
    # only) needs no policy: the privilege check comes first. Any other is filtered by reach.
    unguarded = [
        t["relname"] for t in tables if t["gateway_may_touch"] and not (t["relrowsecurity"] and t["reach_policy"])
    ]
    assert unguarded == []
    # Not forced: the owner (migrations, seed, sweep) works across tenants on purpose.
    assert [t["relname"] for t in tables if t["relforcerowsecurity"]] == []


async def test_the_gateway_cannot_read_the_directory_of_every_tenants_sign_in_names_and_domains(
    conn: asyncpg.Connection,
) -> None:
    """The reference tables list every tenant's users and domains: only the owner reads them."""
    await act_for(conn, CONTOSO_ID)
    for table in ("sign_in_names", "tenant_directory"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.fetch(f"SELECT * FROM {table}")


async def test_the_gateway_deletes_nothing_rewrites_no_audit_event_and_cannot_read_migrations(
    conn: asyncpg.Connection,
) -> None:
    """Privileges, checked before any policy: only what the application's SQL needs was granted."""
    await act_for(conn, CONTOSO_ID)
    for table in ("audit_events", "subscriptions", "idempotency_keys"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1", CONTOSO_ID)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with conn.transaction():
            await conn.execute("UPDATE audit_events SET action = action WHERE tenant_id = $1", CONTOSO_ID)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with conn.transaction():
            await conn.fetch("SELECT * FROM schema_migrations")


# -- Reads past the app's own scope -------------------------------------------------------------


Ids = dict[str, list[uuid.UUID]]
ID_TABLES = ("subscriptions", "orders", "invoices", "users", "payment_methods")


async def woodgrove_ids(conn: asyncpg.Connection) -> Ids:
    """Ids of Woodgrove's rows, read as the owner: what a bug could pass to a by-id query."""
    return {
        table: await conn.fetchval(f"SELECT array_agg(id) FROM {table} WHERE tenant_id = $1", WOODGROVE_ID)
        for table in ID_TABLES
    }


async def subscriptions_by_tenant(db: Executor, ids: Ids) -> int:
    page = await subscriptions.fetch_subscriptions_by_tenant(
        db,
        scope=WOODGROVE_ADMIN,
        page=everything(sortables.SUBSCRIPTION),
        channels=None,
        product_id=None,
        statuses=None,
        purchaser_id=None,
    )
    return await page.count() + len(page.rows)


async def subscriptions_by_id(db: Executor, ids: Ids) -> int:
    return sum(
        r is not None
        for r in await subscriptions.fetch_subscriptions_by_id(db, scope=WOODGROVE_ADMIN, ids=ids["subscriptions"])
    )


async def purchases_by_tenant(db: Executor, ids: Ids) -> int:
    page = await orders.fetch_purchases_by_tenant(
        db, scope=WOODGROVE_ADMIN, page=everything(sortables.ORDER), product_id=None, purchaser_id=None
    )
    return await page.count() + len(page.rows)


async def orders_by_id(db: Executor, ids: Ids) -> int:
    return sum(r is not None for r in await orders.fetch_orders_by_id(db, scope=WOODGROVE_ADMIN, ids=ids["orders"]))


async def assignments_by_tenant(db: Executor, ids: Ids) -> int:
    page = await assignments.fetch_assignments_by_tenant(
        db, scope=WOODGROVE_ADMIN, page=everything(sortables.ASSIGNMENT), product_id=None, user_id=None
    )
    return await page.count() + len(page.rows)


async def invoices_by_subscription(db: Executor, ids: Ids) -> int:
    pages = await invoices.fetch_invoices_by_subscription(
        db, scope=WOODGROVE_ADMIN, page=everything(sortables.INVOICE), subscription_ids=ids["subscriptions"]
    )
    return sum([await p.count() + len(p.rows) for p in pages])


async def invoices_by_id(db: Executor, ids: Ids) -> int:
    return sum(
        r is not None for r in await invoices.fetch_invoices_by_id(db, scope=WOODGROVE_ADMIN, ids=ids["invoices"])
    )


async def users_by_tenant(db: Executor, ids: Ids) -> int:
    page = await users.fetch_users_by_tenant(db, scope=WOODGROVE_ADMIN, page=everything(sortables.USER), search=None)
    return await page.count() + len(page.rows)


async def users_by_id(db: Executor, ids: Ids) -> int:
    return sum(r is not None for r in await users.fetch_users_by_id(db, scope=WOODGROVE_ADMIN, ids=ids["users"]))


async def payment_methods_by_id(db: Executor, ids: Ids) -> int:
    found = await payment_methods.fetch_payment_methods_by_id(db, scope=WOODGROVE_ADMIN, ids=ids["payment_methods"])
    return sum(r is not None for r in found)


async def capacity_by_tenant(db: Executor, ids: Ids) -> int:
    return len(await capacity.fetch_capacity_by_tenant(db, scope=WOODGROVE_ADMIN))


async def partner_relationships_of_customer(db: Executor, ids: Ids) -> int:
    return len(await partners.fetch_relationships_by_customer(db, scope=WOODGROVE_ADMIN))


async def audit_events_by_tenant(db: Executor, ids: Ids) -> int:
    page = await requests.fetch_audit_events_by_tenant(
        db, scope=WOODGROVE_ADMIN, page=everything(sortables.AUDIT_EVENT)
    )
    return await page.count() + len(page.rows)


Read = Callable[[Executor, Ids], Awaitable[int]]
READS_PAST_THE_SCOPE: list[Read] = [
    subscriptions_by_tenant,
    subscriptions_by_id,
    purchases_by_tenant,
    orders_by_id,
    assignments_by_tenant,
    invoices_by_subscription,
    invoices_by_id,
    users_by_tenant,
    users_by_id,
    payment_methods_by_id,
    capacity_by_tenant,
    partner_relationships_of_customer,
    audit_events_by_tenant,
]


@pytest.mark.parametrize("read", [pytest.param(r, id=r.__name__) for r in READS_PAST_THE_SCOPE])
async def test_a_query_asked_for_another_tenant_with_its_admin_scope_gets_no_rows(
    conn: asyncpg.Connection, read: Read
) -> None:
    db, ids = ConnectionExecutor(conn), await woodgrove_ids(conn)
    assert await read(db, ids) > 0  # as the owner: the rows are there, and the scope lets them through
    await act_for(conn, CONTOSO_ID)
    assert await read(db, ids) == 0


# -- Writes into another tenant -----------------------------------------------------------------


async def test_a_row_written_into_another_tenant_is_refused(conn: asyncpg.Connection) -> None:
    olga = demo_user_id("olga.outsider@woodgrove.example")
    await act_for(conn, CONTOSO_ID)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO notifications (tenant_id, id, user_id, kind, message) VALUES ($1, $2, $3, 'x', 'x')",
                WOODGROVE_ID,
                uuid.uuid4(),
                olga,
            )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO self_service_policies (tenant_id, product_id, value) VALUES ($1, $2, 'disabled')",
                WOODGROVE_ID,
                "CFQ7TTC0H9MP",
            )


async def test_another_tenants_rows_cannot_be_changed_or_a_row_moved_into_it(conn: asyncpg.Connection) -> None:
    await act_for(conn, CONTOSO_ID)
    status = await conn.execute("UPDATE subscriptions SET quantity = 0 WHERE tenant_id = $1", WOODGROVE_ID)
    assert status == "UPDATE 0"  # invisible, so untouched
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with conn.transaction():
            await conn.execute(
                "UPDATE license_requests SET tenant_id = $1 WHERE tenant_id = $2", WOODGROVE_ID, CONTOSO_ID
            )
    await conn.execute("RESET ROLE")
    assert await conn.fetchval("SELECT min(quantity) FROM subscriptions WHERE tenant_id = $1", WOODGROVE_ID) > 0


async def test_no_audit_event_is_written_into_a_tenant_out_of_reach_not_even_a_refusal(
    conn: asyncpg.Connection,
) -> None:
    """A refusal naming a tenant out of reach is audited at home (policy.audit_tenant), so the
    gateway has no write outside its reach at all, and its record tells nothing of what exists."""
    insert = """
    INSERT INTO audit_events (tenant_id, actor_tenant_id, action, target_type, target_id, outcome)
    VALUES ($1, $2, 'subscription.cancel', 'Subscription', 'x', $3)
    """
    count = "SELECT count(*) FROM audit_events WHERE tenant_id = $1"
    before = await conn.fetchval(count, WOODGROVE_ID)
    await act_for(conn, CONTOSO_ID)
    for actor_tenant, outcome in ((CONTOSO_ID, "refused"), (CONTOSO_ID, "accepted"), (WOODGROVE_ID, "refused")):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            async with conn.transaction():
                await conn.execute(insert, WOODGROVE_ID, actor_tenant, outcome)
    await conn.execute(insert, CONTOSO_ID, CONTOSO_ID, "refused")  # at home: admitted
    await conn.execute("RESET ROLE")
    assert await conn.fetchval(count, WOODGROVE_ID) == before


# -- Who reaches what ---------------------------------------------------------------------------


async def test_a_partner_sees_its_active_customer_but_not_a_lapsed_or_unrelated_one(conn: asyncpg.Connection) -> None:
    await act_for(conn, ADATUM_ID)
    assert await tenants_seen(conn, "users") == {ADATUM_ID, CONTOSO_ID}
    assert await tenants_seen(conn, "subscriptions") == {CONTOSO_ID}
    # Both of its relationships (the lapsed one from the partner side), not Contoso's with Litware.
    relationships = await conn.fetch("SELECT tenant_id, partner_tenant_id FROM partner_relationships")
    assert {(r["tenant_id"], r["partner_tenant_id"]) for r in relationships} == {
        (CONTOSO_ID, ADATUM_ID),
        (WOODGROVE_ID, ADATUM_ID),
    }


async def test_a_partner_whose_relationships_ended_reaches_only_itself(conn: asyncpg.Connection) -> None:
    await act_for(conn, LITWARE_ID)
    assert await tenants_seen(conn, "users") == {LITWARE_ID}
    assert await tenants_seen(conn, "subscriptions") == set()


async def test_an_anonymous_connection_sees_no_tenants_rows_but_the_product_catalogue(
    conn: asyncpg.Connection,
) -> None:
    tables = [t["relname"] for t in await conn.fetch(TENANT_TABLES) if t["gateway_may_touch"]]
    await act_for(conn, None)
    seen = {table: await tenants_seen(conn, table) for table in tables}
    assert seen == {table: set() for table in tables}
    assert await conn.fetchval("SELECT count(*) FROM products") > 0
    assert await conn.fetchval("SELECT count(*) FROM product_prices") > 0


# -- The request's connection -------------------------------------------------------------------

SESSION = (
    "SELECT current_user AS role, current_setting('purchasegraph.tenant_id', true) AS tenant, pg_backend_pid() AS pid"
)
CONTOSO_SUBSCRIPTIONS = "SELECT count(*) FROM subscriptions WHERE tenant_id = $1"


@pytest.fixture
async def one_connection_pool(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A gateway pool of exactly one connection, so each acquire gets the one the last released."""
    single = await create_pool(database_url, min_size=1, max_size=1, role=GATEWAY_ROLE)
    yield single
    await single.close()


async def test_a_request_acts_for_its_tenant_and_the_released_connection_for_none(
    one_connection_pool: asyncpg.Pool,
) -> None:
    """asyncpg's RESET ALL on release clears the tenant; the role, set at connect, stays."""
    db = RequestExecutor(one_connection_pool, tenant_id=CONTOSO_ID)
    try:
        during = await db.fetchrow(SESSION)
        contoso_subscriptions = await db.fetchrow(CONTOSO_SUBSCRIPTIONS, CONTOSO_ID)
        assert db.statements == 2  # the tenant set-up is not one of the request's statements
    finally:
        await db.close()
    assert during is not None
    assert contoso_subscriptions is not None
    assert (during["role"], during["tenant"]) == (GATEWAY_ROLE, str(CONTOSO_ID))
    assert contoso_subscriptions["count"] > 0
    async with one_connection_pool.acquire() as released:
        after = await released.fetchrow(SESSION)
        assert (after["pid"], after["role"], after["tenant"]) == (during["pid"], GATEWAY_ROLE, "")
        assert await released.fetchval(CONTOSO_SUBSCRIPTIONS, CONTOSO_ID) == 0


async def test_reset_role_on_a_gateway_connection_keeps_the_gateway_role(one_connection_pool: asyncpg.Pool) -> None:
    """The role is the session's default (a startup parameter), not a SET ROLE one could undo."""
    async with one_connection_pool.acquire() as conn:
        await conn.execute("RESET ROLE")
        await conn.execute("RESET ALL")
        assert await conn.fetchval("SELECT current_user") == GATEWAY_ROLE


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A release that resets nothing, as a misconfigured pool or a proxy might."""


async def test_a_request_names_its_tenant_even_on_a_connection_that_was_not_reset(
    database_url: str, pool: asyncpg.Pool
) -> None:
    """Anonymous after Contoso, on a pool that skips the reset: the executor still clears the tenant."""
    no_reset = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, server_settings={"role": GATEWAY_ROLE}, reset=_keep_session
    )
    try:
        for tenant_id, expected in ((CONTOSO_ID, str(CONTOSO_ID)), (None, "")):
            db = RequestExecutor(no_reset, tenant_id=tenant_id)
            try:
                session = await db.fetchrow(SESSION)
                assert session is not None
                assert session["tenant"] == expected
            finally:
                await db.close()
    finally:
        await no_reset.close()
