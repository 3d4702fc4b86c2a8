"""The schema can be spread over a Citus cluster by tenant, proved on the migrated catalogue.

Citus spreads a distributed table's rows over servers by one column and can only check, on one
server, what that server holds: so every primary key and unique key of a distributed table must
include that column, a foreign key between two distributed tables must join their columns
(co-location: a tenant's rows of both tables live on one server), and a key that spans tenants
belongs in a reference table, copied whole to every server. The same holds of statements: one
that joins two distributed tables runs on one server only when they are joined on the tenant.

Citus itself cannot be installed here, so these tests read PostgreSQL's catalogue and the SQL the
app runs, and report every rule broken as one readable list. docs/SCALE.md says how the tables map
onto a cluster and how each read that spans tenants runs there.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import purchasegraph
from purchasegraph.db.migrate import CREATE_MIGRATIONS_TABLE, INSERT_APPLIED, load_migrations, migrate
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.db.queries.users import fetch_user_by_principal_name
from purchasegraph.demo.actors import ALEX, CONTOSO, PAT
from tests.conftest import Api, _with_database
from tests.factories import INSERT_USER, create_tenant

# Copied whole to every server: small, read by every tenant, and the only home of a key that spans
# tenants (a shard can only check keys that include its tenant).
REFERENCE_TABLES = {
    "products": "the catalogue, the same for every tenant",
    "product_prices": "the catalogue's prices, the same for every tenant",
    "tenant_directory": "a domain names one tenant over all tenants; the target of keys to another tenant",
    "sign_in_names": "a sign-in name names one user over all tenants",
}
# Stay on the coordinator, outside the cluster's tables.
LOCAL_TABLES = {
    "schema_migrations": "the migrations applied: the coordinator's bookkeeping (Citus propagates the DDL itself)",
}
# Distributed by a column of their own, not co-located with the tenants' data.
OWN_KEY_TABLES = {
    "throttle_buckets": (
        "principal",
        "a bucket per principal, not tenant data (an anonymous bucket has no tenant); each take is one row's upsert",
    ),
}
# Every other table is a tenant's data, distributed by tenant and co-located: by tenant_id, except
# the tenants table itself, whose id is the tenant.
TENANT_COLUMN = {"tenants": "id"}
TENANT_GROUP = "tenant"
# The migration that moved the keys spanning tenants into the directory tables.
DIRECTORY_MIGRATION = 27


@dataclass(frozen=True)
class Placement:
    kind: str  # distributed, reference or local
    column: str | None = None  # the distribution column of a distributed table
    group: str | None = None  # its co-location group


def placement_of(table: str) -> Placement:
    if table in REFERENCE_TABLES:
        return Placement("reference")
    if table in LOCAL_TABLES:
        return Placement("local")
    if table in OWN_KEY_TABLES:
        return Placement("distributed", OWN_KEY_TABLES[table][0], table)
    return Placement("distributed", TENANT_COLUMN.get(table, "tenant_id"), TENANT_GROUP)


@dataclass(frozen=True)
class Key:
    table: str
    name: str
    kind: str  # primary key, unique, unique index, foreign key
    columns: tuple[str, ...]  # key columns; an expression's columns are not listed
    referenced_table: str | None = None
    referenced_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    columns: dict[str, frozenset[str]]  # every table of the app's schema and its columns
    keys: list[Key]


SELECT_TABLES = """
SELECT c.relname AS table_name, array_agg(a.attname::text) AS columns
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
 GROUP BY c.relname
"""
# Columns of an array of attribute numbers, in key order.
_NAMES = """ARRAY(SELECT a.attname::text FROM unnest({numbers}) WITH ORDINALITY AS x(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = x.attnum ORDER BY x.n)"""
SELECT_CONSTRAINTS = f"""
SELECT c.relname AS table_name, k.conname AS name,
       CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' ELSE 'foreign key' END AS kind,
       {_NAMES.format(numbers="k.conkey", rel="k.conrelid")} AS columns,
       r.relname AS referenced_table,
       {_NAMES.format(numbers="k.confkey", rel="k.confrelid")} AS referenced_columns
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  LEFT JOIN pg_class r ON r.oid = k.confrelid
 WHERE c.relnamespace = 'public'::regnamespace AND k.contype IN ('p', 'u', 'f')
"""
# Unique indexes that no constraint owns (expressions, partial keys): their key columns only.
SELECT_UNIQUE_INDEXES = f"""
SELECT c.relname AS table_name, i.relname AS name, 'unique index' AS kind,
       ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
              WHERE k.n <= x.indnkeyatts ORDER BY k.n) AS columns
  FROM pg_index x
  JOIN pg_class c ON c.oid = x.indrelid
  JOIN pg_class i ON i.oid = x.indexrelid
 WHERE c.relnamespace = 'public'::regnamespace AND x.indisunique
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u'))
"""


async def read_catalogue(conn: asyncpg.Connection) -> Catalogue:
    tables = {r["table_name"]: frozenset(r["columns"]) for r in await conn.fetch(SELECT_TABLES)}
    keys = [
        Key(
            table=r["table_name"],
            name=r["name"],
            kind=r["kind"],
            columns=tuple(r["columns"]),
            referenced_table=r.get("referenced_table"),
            referenced_columns=tuple(r.get("referenced_columns") or ()),
        )
        for query in (SELECT_CONSTRAINTS, SELECT_UNIQUE_INDEXES)
        for r in await conn.fetch(query)
    ]
    return Catalogue(columns=tables, keys=keys)


def misplaced_tables(catalogue: Catalogue) -> Iterator[str]:
    """Named tables that do not exist, and distributed tables without their distribution column."""
    for table in sorted({*REFERENCE_TABLES, *LOCAL_TABLES, *OWN_KEY_TABLES} - catalogue.columns.keys()):
        yield f"{table}: named in this test's lists but not in the schema"
    for table, columns in sorted(catalogue.columns.items()):
        place = placement_of(table)
        if place.kind == "distributed" and place.column not in columns:
            yield (
                f"{table}: a tenant's table has no {place.column} column to be distributed by"
                " (add it, or name the table in REFERENCE_TABLES / LOCAL_TABLES with the reason)"
            )
    for table in sorted(catalogue.columns.keys() - {k.table for k in catalogue.keys if k.kind == "primary key"}):
        yield f"{table}: has no primary key"


def keys_without_the_distribution_column(catalogue: Catalogue) -> Iterator[str]:
    for key in catalogue.keys:
        place = placement_of(key.table)
        if key.kind != "foreign key" and place.kind == "distributed" and place.column not in key.columns:
            columns = ", ".join(key.columns) or "an expression"
            yield f"{key.table}: {key.kind} {key.name} ({columns}) does not include {place.column}"


def foreign_keys_across_servers(catalogue: Catalogue) -> Iterator[str]:
    for key in catalogue.keys:
        if key.kind != "foreign key" or key.referenced_table is None:
            continue
        source, target = placement_of(key.table), placement_of(key.referenced_table)
        where = f"{key.table}: foreign key {key.name} ({', '.join(key.columns)}) to {key.referenced_table}"
        if "local" in (source.kind, target.kind):
            yield f"{where} joins a table that stays on the coordinator"
        elif source.kind == "reference" and target.kind == "distributed":
            yield f"{where}: a reference table cannot point into a distributed one"
        elif source.kind == "distributed" and target.kind == "distributed":
            pairs = set(zip(key.columns, key.referenced_columns, strict=True))
            if source.group != target.group or (source.column, target.column) not in pairs:
                yield f"{where} does not join {source.column} to {target.column}: the rows may live on different servers"


def citus_objections(catalogue: Catalogue) -> list[str]:
    return [
        *misplaced_tables(catalogue),
        *keys_without_the_distribution_column(catalogue),
        *foreign_keys_across_servers(catalogue),
    ]


def report(title: str, problems: list[str]) -> str:
    return title + ":\n  - " + "\n  - ".join(problems)


async def test_the_schema_distributes_by_tenant_as_citus_requires(conn: asyncpg.Connection) -> None:
    catalogue = await read_catalogue(conn)
    problems = citus_objections(catalogue)
    assert not problems, report("The schema cannot be distributed by tenant", problems)
    distributed = [t for t in catalogue.columns if placement_of(t).group == TENANT_GROUP]
    assert len(distributed) >= 17, distributed  # the test reads the real schema, not an empty one


async def test_a_table_or_key_that_breaks_a_rule_is_reported_by_name(conn: asyncpg.Connection) -> None:
    """The checks themselves: within the test's transaction, a table with each kind of mistake."""
    await conn.execute(
        """
        CREATE TABLE careless (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            code text UNIQUE,
            partner_id uuid REFERENCES tenants (id),
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
        );
        CREATE TABLE untenanted (id uuid PRIMARY KEY);
        CREATE UNIQUE INDEX careless_lower_code ON careless (lower(code));
        ALTER TABLE tenant_directory ADD COLUMN careless_id uuid REFERENCES careless (id);
        """
    )
    problems = citus_objections(await read_catalogue(conn))
    assert sorted(problems) == sorted(
        [
            "untenanted: a tenant's table has no tenant_id column to be distributed by (add it, or name the"
            " table in REFERENCE_TABLES / LOCAL_TABLES with the reason)",
            "careless: primary key careless_pkey (id) does not include tenant_id",
            "untenanted: primary key untenanted_pkey (id) does not include tenant_id",
            "careless: unique careless_code_key (code) does not include tenant_id",
            "careless: unique index careless_lower_code (an expression) does not include tenant_id",
            "careless: foreign key careless_partner_id_fkey (partner_id) to tenants does not join tenant_id to id:"
            " the rows may live on different servers",
            "tenant_directory: foreign key tenant_directory_careless_id_fkey (careless_id) to careless: a reference"
            " table cannot point into a distributed one",
        ]
    ), report("reported", problems)


# -- the directory: the keys that span tenants, in reference tables of their own

SELECT_SIGN_IN_NAME = "SELECT tenant_id, user_id FROM sign_in_names WHERE upn_lower = $1"
SELECT_DOMAIN = "SELECT primary_domain FROM tenant_directory WHERE tenant_id = $1"


async def test_a_sign_in_name_taken_in_another_tenant_is_still_refused(conn: asyncpg.Connection) -> None:
    first, second = await create_tenant(conn, users=0), await create_tenant(conn, users=0)
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        async with conn.transaction():
            # Compared in lower case, as the identity provider compares sign-in names.
            await conn.execute(
                INSERT_USER, second.tenant_id, uuid.uuid4(), "Twin", first.admin_upn.upper(), "member", "cloud", True
            )
    assert refused.value.constraint_name == "sign_in_names_pkey"
    assert await conn.fetchrow(SELECT_SIGN_IN_NAME, first.admin_upn) == (first.tenant_id, first.admin_id)


async def test_a_sign_in_name_is_unique_within_its_tenant_too(conn: asyncpg.Connection) -> None:
    tenant = await create_tenant(conn, users=0)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with conn.transaction():
            await conn.execute(INSERT_USER, tenant.tenant_id, uuid.uuid4(), "Twin", tenant.admin_upn, "member", "cloud", True)


async def test_a_domain_taken_by_another_tenant_is_refused(conn: asyncpg.Connection) -> None:
    first, second = await create_tenant(conn, users=0), await create_tenant(conn, users=0)
    taken = await conn.fetchval(SELECT_DOMAIN, first.tenant_id)
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        async with conn.transaction():
            await conn.execute("UPDATE tenants SET primary_domain = $2 WHERE id = $1", second.tenant_id, taken.upper())
    assert refused.value.constraint_name == "tenant_directory_primary_domain_key"


async def test_the_directory_follows_whatever_writes_users_and_tenants(conn: asyncpg.Connection) -> None:
    tenant = await create_tenant(conn, users=1)
    [user_id] = tenant.user_ids
    await conn.execute("UPDATE users SET user_principal_name = 'Renamed@Example.test' WHERE id = $1", user_id)
    assert await conn.fetchrow(SELECT_SIGN_IN_NAME, "renamed@example.test") == (tenant.tenant_id, user_id)
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    assert await conn.fetchrow(SELECT_SIGN_IN_NAME, "renamed@example.test") is None
    await conn.execute("UPDATE tenants SET primary_domain = 'Moved.Example' WHERE id = $1", tenant.tenant_id)
    assert await conn.fetchval(SELECT_DOMAIN, tenant.tenant_id) == "moved.example"
    counts = "SELECT (SELECT count(*) FROM users) - (SELECT count(*) FROM sign_in_names), (SELECT count(*) FROM tenants) - (SELECT count(*) FROM tenant_directory)"
    assert await conn.fetchrow(counts) == (0, 0)


async def test_the_token_look_up_finds_a_user_of_any_tenant_through_the_directory(conn: asyncpg.Connection) -> None:
    tenant = await create_tenant(conn, users=0)
    found = await fetch_user_by_principal_name(ConnectionExecutor(conn), tenant.admin_upn.upper())
    assert found is not None and (found["tenant_id"], found["id"]) == (tenant.tenant_id, tenant.admin_id)
    await conn.execute("DELETE FROM sign_in_names WHERE user_id = $1", tenant.admin_id)
    # The directory decides: a user it does not name is not found, whatever users holds.
    assert await fetch_user_by_principal_name(ConnectionExecutor(conn), tenant.admin_upn) is None


async def test_the_directory_migration_fills_the_tables_of_an_existing_database(database_url: str) -> None:
    name = f"purchasegraph_shardable_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(_with_database(database_url, name))
        try:
            await conn.execute(CREATE_MIGRATIONS_TABLE)
            for migration in [m for m in load_migrations() if m.version < DIRECTORY_MIGRATION]:
                await conn.execute(migration.sql)
                await conn.execute(INSERT_APPLIED, migration.version, migration.name, migration.checksum)
            tenant = await create_tenant(conn, users=2)
            assert DIRECTORY_MIGRATION in await migrate(conn)
            names = await conn.fetch("SELECT upn_lower FROM sign_in_names WHERE tenant_id = $1", tenant.tenant_id)
            assert len(names) == 3 and tenant.admin_upn in {r["upn_lower"] for r in names}
            assert await conn.fetchval(SELECT_DOMAIN, tenant.tenant_id) == tenant.admin_upn.partition("@")[2]
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
