"""Telling "the database is away" apart from every other failure.

A request that fails because PostgreSQL is restarting, unreachable, or too slow to answer is
not the caller's fault and not a bug: it is answered 503 SERVICE_UNAVAILABLE, fast, so clients
and load balancers retry elsewhere or later. Everything else stays an internal error.
"""

from __future__ import annotations

import asyncio

import asyncpg

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # refused, reset, "the database system is starting up"
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown, cancelled
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing"
    # "another operation is in progress": what a connection the server killed (admin shutdown
    # while idle) answers before asyncpg notices the socket is gone. Statements on one
    # connection are serialized here, so it has no other cause.
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,  # pool acquire or statement timeout
)


def database_unavailable(error: BaseException | None) -> bool:
    """True when ``error`` (or what caused it) means the database could not be reached in time."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, _UNAVAILABLE):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
