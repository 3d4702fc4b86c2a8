"""Where a request's SQL runs, and how many statements it ran.

asyncpg runs one statement at a time per connection, and DataLoaders dispatch side by side,
so the request executor borrows a pool connection per statement. Tests (and later, mutations)
run on one connection inside a transaction; that executor serializes its statements.
Both count the statements they send; every query of a request goes through its executor
(asyncpg's query logger reports asynchronously, too late for a request to read its own count).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeAlias

import asyncpg

Record: TypeAlias = asyncpg.Record


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
