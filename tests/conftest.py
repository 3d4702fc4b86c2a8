"""The test world: one real PostgreSQL per session, migrated and seeded once.

Without DATABASE_URL the embedded server starts in a temporary folder (which also proves it
starts from nothing); with it, a fresh database is created on that server and dropped after.
Each test gets a connection inside a transaction that is rolled back, so tests may write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from graphql import OperationDefinitionNode, parse
from strawberry.types import ExecutionResult

from purchasegraph.compiled import run_compiled
from purchasegraph.context import Context, build_context
from purchasegraph.db.clock import CLOCK_OFFSET_SETTING, clock_offset
from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.db.migrate import migrate
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.standby import HotStandby, is_standby_of, start_standby
from purchasegraph.demo.actors import DEMO_USERS
from purchasegraph.demo.world import seed_demo_world
from purchasegraph.gateway.authentication import signed_in
from purchasegraph.identity import AppClaims, AppRole, Claims
from purchasegraph.payments import SandboxProcessor
from purchasegraph.schema import schema
from purchasegraph.settings import settings_from_env


def pytest_configure(config: pytest.Config) -> None:
    """A temporary folder of this run's own: pytest's shared numbered folders are pruned by
    whichever run starts next, which deletes a concurrent run's embedded server from under it."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="purchasegraph-tests-")
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _live_on_test_date(url: str) -> None:
    """With PURCHASEGRAPH_TODAY set, every connection to the test database (the suite's pools,
    its raw connections and the servers it starts) runs the app clock on that date, and the
    session's seed builds the world of that day."""
    today = settings_from_env().today
    if today is not None:
        name = urlsplit(url).path.lstrip("/") or "postgres"
        asyncio.run(_admin(url, f"ALTER DATABASE \"{name}\" SET {CLOCK_OFFSET_SETTING} = '{clock_offset(today)}'"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        name = f"purchasegraph_test_{secrets.token_hex(4)}"
        asyncio.run(_admin(external, f'CREATE DATABASE "{name}"'))
        url = _with_database(external, name)
        _live_on_test_date(url)
        yield url
        asyncio.run(_admin(external, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        server = start_embedded_server(Path(tmp_path_factory.mktemp("pg")))
        _live_on_test_date(server.database_url)
        yield server.database_url
        server.stop()


@pytest.fixture(scope="module")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A module's own embedded PostgreSQL, not the session's: for modules whose requests commit
    (purchases over HTTP, live events), so no other module sees what they wrote."""
    server = start_embedded_server(Path(tmp_path_factory.mktemp("own")))
    yield server.database_url
    server.stop()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=8)
    async with pool.acquire() as conn:
        await migrate(conn)
        await seed_demo_world(conn)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def gateway_pool(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """Connections as the gateway makes them: as its role, bound by row-level security. After
    `pool`, whose migrations create the role."""
    gateway = await create_pool(database_url, min_size=1, max_size=8, role=GATEWAY_ROLE)
    yield gateway
    await gateway.close()


@pytest.fixture(scope="session")
async def standby(
    database_url: str, pool: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HotStandby]:
    """A streaming hot standby of the session's server, holding its migrated, seeded world; started
    the first time a test asks for it. On a DATABASE_URL server the tests cannot make one: there
    PURCHASEGRAPH_TEST_REPLICA_URL names a standby of that server, or the tests that need it skip."""
    if os.environ.get("DATABASE_URL"):
        replica = os.environ.get("PURCHASEGRAPH_TEST_REPLICA_URL")
        if not replica:
            pytest.skip("DATABASE_URL is set: PURCHASEGRAPH_TEST_REPLICA_URL must name a hot standby of that server")
        if not await is_standby_of(replica, database_url):
            pytest.skip("PURCHASEGRAPH_TEST_REPLICA_URL is not a hot standby of the DATABASE_URL server")
        # The session's database was made on the primary moments ago: it is there once replayed.
        await HotStandby(replica).wait_until_replayed(await pool.fetchval("SELECT pg_current_wal_lsn()::text"))
        yield HotStandby(_with_database(replica, urlsplit(database_url).path.lstrip("/")))
        return
    started = await asyncio.to_thread(start_standby, database_url, tmp_path_factory.mktemp("standby"))
    yield started
    await asyncio.to_thread(started.stop)


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield connection
        finally:
            await transaction.rollback()


@dataclass(frozen=True)
class DemoUserIds:
    user_id: uuid.UUID
    tenant_id: uuid.UUID


@pytest.fixture(scope="session")
async def demo_ids(pool: asyncpg.Pool) -> dict[str, DemoUserIds]:
    """Sign-in name → ids, for every demo user."""
    rows = await pool.fetch(
        "SELECT user_principal_name, id, tenant_id FROM users WHERE user_principal_name = ANY($1::text[])",
        [u.user_principal_name for u in DEMO_USERS],
    )
    return {r["user_principal_name"]: DemoUserIds(r["id"], r["tenant_id"]) for r in rows}


# What Api.execute wraps every request in (for the whole of the test's transaction, which
# already is one): the gateway's role and tenant setting, then back to the owner.
ENTER_GATEWAY_ROLE = f"SET LOCAL ROLE {GATEWAY_ROLE}"
ACT_FOR_TENANT = "SELECT set_config('purchasegraph.tenant_id', $1, true)"
LEAVE_GATEWAY_ROLE = "RESET ROLE"
GATEWAY_SET_UP = frozenset({ENTER_GATEWAY_ROLE, ACT_FOR_TENANT, LEAVE_GATEWAY_ROLE})


@dataclass
class Api:
    """Runs GraphQL against the schema as a given user, inside the test's transaction."""

    conn: asyncpg.Connection
    ids: dict[str, DemoUserIds]
    last_statements: int = 0
    processor: SandboxProcessor = field(default_factory=SandboxProcessor)

    @asynccontextmanager
    async def as_gateway(self, principal: Claims | AppClaims | None) -> AsyncIterator[Context]:
        """As the gateway runs a request: the principal read and the operation run as the gateway
        role, bound by row-level security to the principal's tenant, so every test also proves the
        policies admit what it does. The test's own statements and factories stay the owner's.
        ``last_statements`` counts what the operation ran, not the authentication."""
        db = ConnectionExecutor(self.conn)
        await self.conn.execute(ENTER_GATEWAY_ROLE)
        await self.conn.execute(ACT_FOR_TENANT, "" if principal is None else str(principal.tenant_id))
        try:
            # Refused as the gateway refuses it (a RequestError, 401): unknown or disabled accounts.
            viewer = await signed_in(db, principal) if principal is not None else None
            db.statements = 0
            yield build_context(viewer=viewer, db=db, processor=self.processor)
        finally:
            # A statement that failed outside a savepoint leaves the transaction aborted: the role
            # ends with it, and the test reads the error from the result, not from this reset.
            with contextlib.suppress(asyncpg.InFailedSQLTransactionError):
                await self.conn.execute(LEAVE_GATEWAY_ROLE)
            self.last_statements = db.statements

    def claims_of(self, as_user: str | None) -> Claims | None:
        if as_user is None:
            return None
        ids = self.ids[as_user]
        return Claims(user_id=ids.user_id, tenant_id=ids.tenant_id)

    async def execute(
        self, query: str, *, as_user: str | None = None, variables: dict[str, Any] | None = None
    ) -> ExecutionResult:
        """The resolvers, as the gateway runs them for ``as_user`` (anonymous when None)."""
        async with self.as_gateway(self.claims_of(as_user)) as context:
            return await schema.execute(query, variable_values=variables, context_value=context)

    async def execute_as_app(
        self,
        query: str,
        *,
        app_id: uuid.UUID,
        tenant_id: uuid.UUID,
        roles: Collection[AppRole],
        variables: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """As ``execute``, for an application of ``tenant_id`` holding ``roles`` (an app-only token's
        claims, as the gateway verified them)."""
        claims = AppClaims(app_id=app_id, tenant_id=tenant_id, roles=frozenset(roles))
        async with self.as_gateway(claims) as context:
            return await schema.execute(query, variable_values=variables, context_value=context)

    async def compiled(
        self, query: str, *, as_user: str | None = None, variables: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The compiled read path's data for the query, run exactly as ``execute`` runs the
        resolvers; None when it does not compile."""
        document = parse(query)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        async with self.as_gateway(self.claims_of(as_user)) as context:
            result = await run_compiled(schema._schema, document, operation, variables, context)
        return result.data if result is not None else None

    async def data(
        self, query: str, *, as_user: str | None = None, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        result = await self.execute(query, as_user=as_user, variables=variables)
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data


@pytest.fixture
def api(conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]) -> Api:
    return Api(conn=conn, ids=demo_ids)
