"""The test world: one real PostgreSQL per session, migrated and seeded once.

Without DATABASE_URL the embedded server starts in a temporary folder (which also proves it
starts from nothing); with it, a fresh database is created on that server and dropped after.
Each test gets a connection inside a transaction that is rolled back, so tests may write.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from graphql import OperationDefinitionNode, parse
from strawberry.types import ExecutionResult

from purchasegraph.compiled import run_compiled
from purchasegraph.context import build_context
from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.db.migrate import migrate
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.seed import DEMO_USERS, seed_demo_world
from purchasegraph.identity import AppClaims, AppRole, Claims
from purchasegraph.payments import SandboxProcessor
from purchasegraph.schema import schema
from purchasegraph.viewer import load_app, load_viewer


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        import asyncio

        name = f"purchasegraph_test_{secrets.token_hex(4)}"

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(external)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        yield _with_database(external, name)
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        server = start_embedded_server(Path(tmp_path_factory.mktemp("pg")))
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

    async def execute(
        self, query: str, *, as_user: str | None = None, variables: dict[str, Any] | None = None
    ) -> ExecutionResult:
        """As the gateway runs it: the viewer read and the query run as the gateway role, bound by
        row-level security to the viewer's tenant, so every test also proves the policies admit
        what it does. The test's own statements and factories stay the owner's."""
        db = ConnectionExecutor(self.conn)
        tenant_id = self.ids[as_user].tenant_id if as_user is not None else None
        await self.conn.execute(ENTER_GATEWAY_ROLE)
        await self.conn.execute(ACT_FOR_TENANT, "" if tenant_id is None else str(tenant_id))
        try:
            viewer = None
            if as_user is not None:
                ids = self.ids[as_user]
                viewer = await load_viewer(db, Claims(user_id=ids.user_id, tenant_id=ids.tenant_id))
                assert viewer is not None, as_user
                db.statements = 0  # count what the query runs, not the authentication
            context = build_context(viewer=viewer, db=db, processor=self.processor)
            result = await schema.execute(query, variable_values=variables, context_value=context)
        finally:
            # A statement that failed outside a savepoint leaves the transaction aborted: the role
            # ends with it, and the test reads the error from the result, not from this reset.
            with contextlib.suppress(asyncpg.InFailedSQLTransactionError):
                await self.conn.execute(LEAVE_GATEWAY_ROLE)
        self.last_statements = db.statements
        return result

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
        claims, as the gateway verified them): the gateway role, row-level security bound to that
        tenant, the principal read as the gateway reads it."""
        db = ConnectionExecutor(self.conn)
        await self.conn.execute(ENTER_GATEWAY_ROLE)
        await self.conn.execute(ACT_FOR_TENANT, str(tenant_id))
        try:
            app = await load_app(db, AppClaims(app_id=app_id, tenant_id=tenant_id, roles=frozenset(roles)))
            assert app is not None, tenant_id
            db.statements = 0
            context = build_context(viewer=app, db=db, processor=self.processor)
            result = await schema.execute(query, variable_values=variables, context_value=context)
        finally:
            with contextlib.suppress(asyncpg.InFailedSQLTransactionError):
                await self.conn.execute(LEAVE_GATEWAY_ROLE)
        self.last_statements = db.statements
        return result

    async def compiled(
        self, query: str, *, as_user: str | None = None, variables: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The compiled read path's data for the query, run exactly as ``execute`` runs the
        resolvers (gateway role, the viewer's tenant); None when it does not compile."""
        db = ConnectionExecutor(self.conn)
        tenant_id = self.ids[as_user].tenant_id if as_user is not None else None
        await self.conn.execute(ENTER_GATEWAY_ROLE)
        await self.conn.execute(ACT_FOR_TENANT, "" if tenant_id is None else str(tenant_id))
        try:
            viewer = None
            if as_user is not None:
                ids = self.ids[as_user]
                viewer = await load_viewer(db, Claims(user_id=ids.user_id, tenant_id=ids.tenant_id))
                db.statements = 0
            context = build_context(viewer=viewer, db=db, processor=self.processor)
            document = parse(query)
            [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            result = await run_compiled(schema._schema, document, operation, variables, context)
        finally:
            with contextlib.suppress(asyncpg.InFailedSQLTransactionError):
                await self.conn.execute(LEAVE_GATEWAY_ROLE)
        self.last_statements = db.statements
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
