"""Migrations and the embedded server."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import asyncpg

from purchasegraph.db.embedded import dev_secret, start_embedded_server
from purchasegraph.db.migrate import load_migrations, migrate
from purchasegraph.db.pool import create_pool
from purchasegraph.runtime import running
from purchasegraph.settings import Settings


async def test_migrating_twice_is_a_no_op(conn: asyncpg.Connection) -> None:
    # The session's database is migrated already: a second run applies nothing.
    assert await migrate(conn) == []
    versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in load_migrations()]


async def test_concurrent_migrations_wait_for_each_other(database_url: str) -> None:
    connections = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in connections))
    finally:
        for c in connections:
            await c.close()
    assert results == [[], [], []]


async def test_every_tenant_owned_table_is_keyed_by_tenant(conn: asyncpg.Connection) -> None:
    """Ready to be distributed by tenant: tenant_id leads every tenant-owned primary key."""
    rows = await conn.fetch(
        """
        SELECT c.relname AS table_name, a.attname AS first_key_column
          FROM pg_constraint k
          JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
         WHERE k.contype = 'p' AND c.relnamespace = 'public'::regnamespace
           AND c.relname NOT IN ('tenants', 'products', 'product_prices', 'schema_migrations', 'throttle_buckets',
                                 'tenant_directory', 'sign_in_names')
        """
    )
    assert len(rows) >= 12
    assert {r["table_name"]: r["first_key_column"] for r in rows} == {r["table_name"]: "tenant_id" for r in rows}


async def test_a_row_cannot_reference_a_row_of_another_tenant(conn: asyncpg.Connection) -> None:
    woodgrove_user = await conn.fetchval(
        "SELECT id FROM users WHERE user_principal_name = 'olga.outsider@woodgrove.example'"
    )
    contoso_subscription = await conn.fetchrow(
        "SELECT tenant_id, id FROM subscriptions WHERE channel = 'central' LIMIT 1"
    )
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO license_assignments (tenant_id, id, subscription_id, user_id) "
                "VALUES ($1, gen_random_uuid(), $2, $3)",
                contoso_subscription["tenant_id"],
                contoso_subscription["id"],
                woodgrove_user,
            )
    except asyncpg.ForeignKeyViolationError:
        return
    raise AssertionError("an assignment crossed tenants")


def test_the_embedded_server_starts_from_an_empty_folder_and_reuses_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    async def first_start() -> tuple[list[int], bool]:
        async with running(Settings(data_dir=data_dir)) as runtime:
            assert runtime.embedded is not None
            return runtime.migrated, runtime.seeded

    async def second_start() -> tuple[list[int], bool, int]:
        async with running(Settings(data_dir=data_dir)) as runtime:
            tenants = await runtime.pool.fetchval("SELECT count(*) FROM tenants")
            return runtime.migrated, runtime.seeded, tenants

    migrated, seeded = asyncio.run(first_start())
    assert migrated == [m.version for m in load_migrations()]
    assert seeded
    migrated_again, seeded_again, tenants = asyncio.run(second_start())
    assert (migrated_again, seeded_again) == ([], False)
    assert tenants >= 9


def test_the_development_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    first = dev_secret(tmp_path)
    assert len(first) >= 32
    assert dev_secret(tmp_path) == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0


def test_a_stopped_embedded_server_releases_its_folder(tmp_path: Path) -> None:
    server = start_embedded_server(tmp_path / "pg")
    url = server.database_url

    async def ping() -> int:
        conn = await asyncpg.connect(url)
        try:
            value: int = await conn.fetchval("SELECT 1")
            return value
        finally:
            await conn.close()

    assert asyncio.run(ping()) == 1
    server.stop()
    assert not (tmp_path / "pg" / "pgdata" / "postmaster.pid").exists()


async def test_every_connection_counts_days_in_utc_whatever_the_databases_time_zone(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """An invoice's dates, a card's last day and the days paid are UTC days: a database whose
    default zone is UTC+14 does not move them to the next day."""
    name = await pool.fetchval("SELECT current_database()")
    await pool.execute(f"ALTER DATABASE \"{name}\" SET TimeZone = 'Pacific/Kiritimati'")
    try:
        other = await create_pool(database_url, min_size=1, max_size=1)
        try:
            day = await other.fetchval("SELECT '2027-03-01T23:00:00Z'::timestamptz::date")
        finally:
            await other.close()
    finally:
        await pool.execute(f'ALTER DATABASE "{name}" RESET TimeZone')
    assert day == datetime.date(2027, 3, 1)
