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

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

import purchasegraph
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.db.migrate import CREATE_MIGRATIONS_TABLE, INSERT_APPLIED, load_migrations, migrate
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
# Bookkeeping rather than the tenant's records, yet distributed by tenant and co-located like them.
CO_LOCATED_BOOKKEEPING = {
    "audit_event_counters": "a tenant's next event number, taken by a trigger on the same server as its events",
    "invoice_number_counters": "a tenant's next invoice number, taken by a trigger on the same server as its invoices",
    "idempotency_keys": "a mutation's stored answer, the tenant's, keyed by tenant, principal and key",
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
SELECT_UNIQUE_INDEXES = """
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
    named = {*REFERENCE_TABLES, *LOCAL_TABLES, *OWN_KEY_TABLES, *CO_LOCATED_BOOKKEEPING, *TENANT_COLUMN}
    for table in sorted(named - catalogue.columns.keys()):
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
                yield f"{where} does not join {source.column} to {target.column}: rows on different servers"


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
            " rows on different servers",
            "tenant_directory: foreign key tenant_directory_careless_id_fkey (careless_id) to careless: a reference"
            " table cannot point into a distributed one",
        ]
    ), report("reported", problems)


# -- the directory: the keys that span tenants, in reference tables of their own

SELECT_SIGN_IN_NAME = "SELECT tenant_id, user_id FROM sign_in_names WHERE upn_lower = $1"
SELECT_DOMAIN = "SELECT primary_domain FROM tenant_directory WHERE tenant_id = $1"
UNLISTED = """
SELECT (SELECT count(*) FROM users) - (SELECT count(*) FROM sign_in_names),
       (SELECT count(*) FROM tenants) - (SELECT count(*) FROM tenant_directory)
"""


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
            await conn.execute(
                INSERT_USER, tenant.tenant_id, uuid.uuid4(), "Twin", tenant.admin_upn, "member", "cloud", True
            )


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
    assert await conn.fetchrow(UNLISTED) == (0, 0)


async def test_the_token_look_up_finds_a_user_of_any_tenant_through_the_directory(conn: asyncpg.Connection) -> None:
    tenant = await create_tenant(conn, users=0)
    found = await fetch_user_by_principal_name(ConnectionExecutor(conn), tenant.admin_upn.upper())
    assert found is not None
    assert (found["tenant_id"], found["id"]) == (tenant.tenant_id, tenant.admin_id)
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
            assert len(names) == 3
            assert tenant.admin_upn in {r["upn_lower"] for r in names}
            assert await conn.fetchval(SELECT_DOMAIN, tenant.tenant_id) == tenant.admin_upn.partition("@")[2]
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# -- statements: two distributed tables are joined on the tenant

SQL_WORDS = {
    "where", "join", "on", "left", "right", "inner", "full", "cross", "lateral", "using", "set", "order",
    "group", "limit", "as", "natural", "union", "returning", "values", "select", "for", "window",
    "having", "and", "or", "offset", "except", "intersect", "default", "with", "tablesample",
}  # fmt: skip
TABLE_REFERENCE = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+(?:ONLY\s+)?(\w+)(?:\s+(?:AS\s+)?(\w+))?", re.I)
# A parameter, a column of a derived table's row (``(w.r).tenant_id``), a qualified or a bare column.
OPERAND = r"(\$\d+|\(\w+\.\w+\)\.\w+|\w+\.\w+|\w+)(?:::[\w\[\]]+)?"
EQUALITY = re.compile(rf"{OPERAND}\s*=\s*(?:ANY\s*\(\s*)?{OPERAND}", re.I)
COMMENT = re.compile(r"--[^\n]*")
ROW_OF_TABLE = re.compile(r"\(SELECT (\w+) AS (\w+)\b", re.I)
AFTER_PARENTHESIS = re.compile(r"\)\s*(?:AS\s+)?(\w+)", re.I)


def tenant_column(table: str) -> str:
    return placement_of(table).column or ""


def table_references(sql: str, distributed: frozenset[str]) -> dict[str, str]:
    """Alias → table, for the distributed tables ``sql`` reads or writes."""
    aliases: dict[str, str] = {}
    for match in TABLE_REFERENCE.finditer(sql):
        table, alias = match.group(1).lower(), match.group(2)
        if table in distributed:
            aliases[alias if alias and alias.lower() not in SQL_WORDS else table] = table
    return aliases


def derived_rows(sql: str) -> dict[tuple[str, str], str]:
    """(derived table, column) → the alias whose whole row that column holds, as the compiled reads
    write ``(SELECT x14 AS r, … ) w2q`` and then read ``(w2q.r).tenant_id``."""
    rows: dict[tuple[str, str], str] = {}
    for match in ROW_OF_TABLE.finditer(sql):
        depth = 0
        for end in range(match.start(), len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            if depth == 0:
                break
        named = AFTER_PARENTHESIS.match(sql, end)
        if named:
            rows[(named.group(1), match.group(2))] = match.group(1)
    return rows


def unjoined_tenants(sql: str, distributed: frozenset[str]) -> list[list[str]] | None:
    """The distributed tables of ``sql`` grouped by what ties their tenants together (an equality
    between their tenant columns); None when that is one group, or when every group is pinned to a
    parameter (each then runs on the servers of its own tenants, as Citus plans a subquery on its
    own). A reading of the text, not a parse: an alias is taken to name one table throughout the
    statement, and a bare ``tenant_id`` belongs to the one table read without an alias."""
    sql = COMMENT.sub("", sql)
    aliases = table_references(sql, distributed)
    if len(aliases) < 2:
        return None
    rows = derived_rows(sql)
    unaliased = [a for a, t in aliases.items() if a == t]
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    def tenant_of(operand: str) -> str | None:
        if operand.startswith("$"):
            return operand
        alias, _, column = operand.rpartition(".")
        if alias.startswith("("):
            derived, _, row = alias.strip("()").partition(".")
            alias = rows.get((derived, row), "")
        elif not alias and len(unaliased) == 1:
            alias = unaliased[0]
        return alias if alias in aliases and column == tenant_column(aliases[alias]) else None

    for match in EQUALITY.finditer(sql):
        left, right = tenant_of(match.group(1)), tenant_of(match.group(2))
        if left and right:
            parent[root(left)] = root(right)
    groups: dict[str, list[str]] = {}
    for alias, table in aliases.items():
        groups.setdefault(root(alias), []).append(table if alias == table else f"{table} {alias}")
    pinned = {root(node) for node in parent if node.startswith("$")}
    if len(groups) == 1 or groups.keys() <= pinned:
        return None
    return sorted(groups.values())


def package_statements() -> dict[str, str]:
    """Every SQL text the package holds as a module constant (fragments formatted, as they run)."""
    found: dict[str, str] = {}
    for module in pkgutil.walk_packages(purchasegraph.__path__, "purchasegraph."):
        if module.name.endswith("__main__"):  # importing it would run it
            continue
        for name, value in vars(importlib.import_module(module.name)).items():
            if isinstance(value, str) and re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", value):
                found[f"{module.name}.{name}"] = value
    return found


SELECT_FUNCTION_BODIES = """
SELECT p.proname AS name, pg_get_functiondef(p.oid) AS body
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'public'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
"""
EXAMPLES = Path(__file__).parent.parent / "examples"
WORKLOADS = Path(__file__).parent.parent / "bench" / "workloads"
READS = [
    *sorted(EXAMPLES.glob("*.graphql")),
    WORKLOADS / "purchase_graph.graphql",
    WORKLOADS / "purchase_graph_relay.graphql",
    WORKLOADS / "viewer.graphql",
]
READ_VARIABLES = {
    "tenant": CONTOSO,
    "tenantId": CONTOSO,
    "expiresBefore": "2100-01-01T00:00:00Z",
    "purchasedSince": "2000-01-01T00:00:00Z",
    "first": 5,
}


async def statements_of_reads(api: Api) -> dict[str, str]:
    """The statements the examples and the bench's reads run, on both read paths, for an admin, a
    partner and an anonymous caller."""
    ran: list[str] = []

    def note(record: LoggedQuery) -> None:
        ran.append(record.query)

    api.conn.add_query_logger(note)
    try:
        for path in READS:
            text = path.read_text()
            variables = {k: v for k, v in READ_VARIABLES.items() if f"${k}" in text}
            for viewer in (ALEX, PAT, None):
                await api.execute(text, as_user=viewer, variables=variables)
                await api.compiled(text, as_user=viewer, variables=variables)
    finally:
        # The connection goes back to the session's pool; the next test's statements are its own.
        api.conn.remove_query_logger(note)
    return {f"read statement {n} ({sql[:50]!r}…)": sql for n, sql in enumerate(dict.fromkeys(ran))}


# Statements that read across tenants on purpose, with how each runs on Citus (docs/SCALE.md).
ACROSS_TENANTS = {
    "function principal_user": (
        "a user's partner grants: the relationships, of every customer, that name the user's tenant as"
        " partner; on Citus their own statement over partner_relationships by partner_tenant_id"
    ),
    "function principal_app": "an application's partner grants, as for a user",
}


async def test_no_statement_joins_two_tenant_tables_on_different_tenants(api: Api) -> None:
    catalogue = await read_catalogue(api.conn)
    distributed = frozenset(t for t in catalogue.columns if placement_of(t).kind == "distributed")
    texts = package_statements()
    texts |= {f"function {r['name']}": r["body"] for r in await api.conn.fetch(SELECT_FUNCTION_BODIES)}
    reads = await statements_of_reads(api)
    assert len(reads) >= 40  # the reads ran, on both paths
    across = {name: groups for name, sql in (texts | reads).items() if (groups := unjoined_tenants(sql, distributed))}
    unexpected = {name: groups for name, groups in across.items() if name not in ACROSS_TENANTS}
    problems = [f"{name} joins {groups} on no common tenant" for name, groups in unexpected.items()]
    assert not problems, report("Statements that join tenant tables across tenants", problems)
    # The list of exceptions stays true: each still exists and still reads across tenants.
    assert across.keys() == ACROSS_TENANTS.keys()


ORDERS_AND_SUBSCRIPTIONS = "SELECT 1 FROM orders o JOIN subscriptions s ON s.id = o.subscription_id"
READINGS = [
    (ORDERS_AND_SUBSCRIPTIONS + " AND s.tenant_id = o.tenant_id", None),
    (ORDERS_AND_SUBSCRIPTIONS, [["orders o"], ["subscriptions s"]]),
    ("SELECT 1 FROM users u JOIN tenants t ON t.id = u.tenant_id", None),
    ("SELECT (SELECT 1 FROM users WHERE tenant_id = $1), (SELECT 1 FROM tenants t WHERE t.id = $2)", None),
    (
        "SELECT 1 FROM users u WHERE EXISTS (SELECT 1 FROM partner_relationships p WHERE p.partner_tenant_id = u.id)",
        [["partner_relationships p"], ["users u"]],
    ),
    ("SELECT (SELECT 1 FROM users r WHERE r.tenant_id = (w.r).tenant_id) FROM (SELECT x AS r FROM orders x) w", None),
    ("SELECT 1 FROM sign_in_names n JOIN users u ON u.tenant_id = n.tenant_id", None),
]


@pytest.mark.parametrize(("sql", "groups"), READINGS)
def test_the_statement_reading_ties_tables_only_through_their_tenant(sql: str, groups: list[list[str]] | None) -> None:
    distributed = frozenset({"orders", "subscriptions", "users", "tenants", "partner_relationships"})
    assert unjoined_tenants(sql, distributed) == groups
