"""Where a request's SQL runs, and how many statements it ran.

asyncpg runs one statement at a time per connection, and DataLoaders dispatch side by side,
so the request executor borrows a pool connection per statement. Tests (and later, mutations)
run on one connection inside a transaction; that executor serializes its statements.
Both count the statements they send; every query of a request goes through its executor
(asyncpg's query logger reports asynchronously, too late for a request to read its own count).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

import asyncpg

from purchasegraph.db.availability import database_unavailable
from purchasegraph.db.lending import SET_TENANT, give_back

if TYPE_CHECKING:
    from purchasegraph.db.replicas import Chosen, ReadRoute

Record: TypeAlias = asyncpg.Record
T = TypeVar("T")


class Executor(Protocol):
    statements: int

    async def fetch(self, sql: str, *args: Any) -> list[Record]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Record | None: ...

    def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection inside a transaction that commits on exit (the unit of work of a mutation)."""
        ...


class _Counting:
    def __init__(self) -> None:
        self.statements = 0


class PoolExecutor(_Counting):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self._pool = pool

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        async with self._pool.acquire() as conn:
            self.statements += 1
            rows: list[Record] = await conn.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        async with self._pool.acquire() as conn:
            self.statements += 1
            row: Record | None = await conn.fetchrow(sql, *args)
            return row

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn


class ConnectionExecutor(_Counting):
    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__()
        self._conn = conn
        self._lock = asyncio.Lock()

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        async with self._lock:
            self.statements += 1
            rows: list[Record] = await self._conn.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        async with self._lock:
            self.statements += 1
            row: Record | None = await self._conn.fetchrow(sql, *args)
            return row

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        # Inside a test's transaction this is a savepoint: the test still rolls everything back.
        async with self._lock, self._conn.transaction():
            yield self._conn


class RequestExecutor(_Counting):
    """One pool connection for the whole of a request, taken at its first statement.

    Holding one connection lets the request's database settings (whose tenant it acts in) be
    set once, and saves an acquire per statement; its statements run one after another.
    ``close()`` must be awaited when the request ends: it gives the connection back.

    Right after acquiring, it names ``tenant_id`` (the token's home tenant; '' when anonymous)
    in ``purchasegraph.tenant_id``, which row-level security reads (migration 0003). It does so
    on every acquire, so a connection never acts for a previous request's tenant even if a reset
    were skipped. That set-up statement is not counted in ``statements``, which counts the
    request's data statements only (what the statement-count tests bound). An HTTP request
    saves that round trip: ``open()`` names the tenant in the statement that signs it in.
    The release still resets the session (asyncpg's RESET ALL: a connection waiting in the pool
    acts for no tenant), so a read request waits on PostgreSQL three times: sign-in, read, reset.

    Once ``close()`` is called the executor is spent: a statement running then finishes first, and
    every later one (or one still queued behind it) raises ``ExecutorClosed`` instead of taking a
    connection. Work of the request can outlive its answer: a field's error that propagates past a
    non-null field leaves sibling resolvers to be settled in the background, and a DataLoader batch
    runs in a task of its own, dispatched a turn or two after its load. Taking a fresh connection
    for them would act for this request's tenant on a connection nobody gives back.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, tenant_id: uuid.UUID | None = None, acquire_timeout: float | None = None
    ) -> None:
        super().__init__()
        self._pool = pool
        self.tenant_id = tenant_id
        self._acquire_timeout = acquire_timeout
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        # Where a read's statements run once ``read_from`` moved them off the primary.
        self._route: ReadRoute | None = None
        self.read_on: Chosen | None = None

    @property
    def tenant_setting(self) -> str:
        """What ``purchasegraph.tenant_id`` says on this request's connection: '' for none."""
        return "" if self.tenant_id is None else str(self.tenant_id)

    async def open(self, sql: str, *args: Any) -> Record | None:
        """Take the connection with the request's opening statement in place of the tenant set-up:
        one round trip for both. ``sql`` receives ``tenant_setting`` as $1 (then ``args``) and
        must name that tenant on the connection before it reads anything, as the ``sign_in_*``
        functions do (migration 0014). It counts as one of the request's statements."""
        async with self._lock:
            self._check_open()
            if self._conn is not None:
                raise RuntimeError("open() is the request's first statement")
            self._conn, row = await self._acquire(sql, *args)
            self.statements += 1
            return row

    def _check_open(self) -> None:
        # Called under the lock, so no statement starts between this check and close().
        if self._closed:
            raise ExecutorClosed("the request has answered and released its connection")

    async def _connection(self) -> asyncpg.Connection:
        self._check_open()
        if self._conn is None and self._route is not None:
            # A read whose server failed and whose next server was not reached: the route chooses
            # again, so no statement runs on a replica it took out of rotation.
            return (await self._take_route()).conn
        if self._conn is None:
            self._conn, _ = await self._acquire(SET_TENANT)
        return self._conn

    async def _acquire(self, sql: str, *args: Any) -> tuple[asyncpg.Connection, Record | None]:
        """A pool connection that has run ``sql`` (which names the tenant), and its row."""
        attempts = self._pool.get_max_size() + 1
        while True:
            attempts -= 1
            conn = await self._pool.acquire(timeout=self._acquire_timeout)
            try:
                row: Record | None = await conn.fetchrow(sql, self.tenant_setting, *args)
            except STALE_CONNECTION:
                # A pooled connection the server dropped (it restarted since) fails its first
                # statement; it was terminated, the pool replaces it, the next acquire is fresh.
                await give_back(self._pool, conn)
                if attempts <= 0:
                    raise
                continue
            except BaseException:
                # Not handed to the request, so close() would never give it back.
                await give_back(self._pool, conn)
                raise
            return conn, row

    async def read_from(self, route: ReadRoute) -> Chosen:
        """Move the request's statements, after its sign-in on the primary, to the server ``route``
        chooses (a replica, else the primary), on a connection named for the same tenant. Should
        that server fail a statement, the statement runs again on the route's next server: a read
        answers nothing until its last statement returned, so the caller never sees the failure."""
        async with self._lock:
            self._check_open()
            conn, self._conn = self._conn, None
            if conn is not None:
                await give_back(self._pool, conn)
            self._route = route
            return await self._take_route()

    async def _take_route(self) -> Chosen:
        assert self._route is not None
        chosen = await self._route.connect(self._acquire_timeout)
        self._conn, self._pool, self.read_on = chosen.conn, chosen.pool, chosen
        return chosen

    async def _statement(self, run: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with self._lock:
            conn = await self._connection()
            self.statements += 1
            while True:
                try:
                    return await run(conn)
                except Exception as error:
                    if not self._on_failed_replica(error):
                        raise
                    conn = await self._next_server(error)

    def _on_failed_replica(self, error: Exception) -> bool:
        """Whether ``error`` is a replica's that the next server may answer instead: one away, or
        one that cancelled the statement to replay the primary's changes (a recovery conflict)."""
        on_replica = self.read_on is not None and self.read_on.replica is not None
        conflict = isinstance(error, asyncpg.exceptions.SerializationError)
        return on_replica and (conflict or database_unavailable(error))

    async def _next_server(self, error: Exception) -> asyncpg.Connection:
        failed = self.read_on
        assert failed is not None
        assert failed.replica is not None
        assert self._route is not None
        self._route.failed(failed.replica, error)
        self._conn = None
        await give_back(failed.pool, failed.conn)
        return (await self._take_route()).conn

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        rows: list[Record] = await self._statement(lambda conn: conn.fetch(sql, *args))
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        row: Record | None = await self._statement(lambda conn: conn.fetchrow(sql, *args))
        return row

    async def wal_position(self) -> str:
        """The primary's WAL position now, as a ``pg_lsn``: after a mutation's commit, the position
        a replica must have replayed to show it. Not one of the request's data statements."""
        async with self._lock:
            conn = await self._connection()
            position: str = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
            return position

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._lock:
            conn = await self._connection()
            async with conn.transaction():
                yield conn

    async def close(self) -> None:
        """Give the connection back once the statement running now (if any) has finished; refuse
        every statement after it, those already waiting for the lock included (the answer is
        decided: they would only delay it). Closing twice is harmless."""
        self._closed = True
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            await give_back(self._pool, conn)


class ExecutorClosed(RuntimeError):
    """A statement asked of a request's executor after the request released its connection:
    abandoned work (a sibling of a failed field, a late DataLoader batch), never run."""


# The first statement on a connection the server closed since it was pooled fails with one of
# these (the last when asyncpg has not yet noticed the socket closing under a statement).
STALE_CONNECTION = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
