"""The connection pools and their per-connection set-up.

Two pools share one database login. Requests run as ``GATEWAY_ROLE``, which row-level security
binds to the tenants named on the connection (migration 0003); migrations, the seed, the
lifecycle sweep and the CLI's look-ups run as the login itself, the tables' owner, which works
across tenants on purpose.
"""

from __future__ import annotations

import datetime
import json

import asyncpg

from purchasegraph.db.clock import clock_server_settings

GATEWAY_ROLE = "purchasegraph_gateway"


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb comes back as Python objects, not strings, wherever a query aggregates rows.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    database_url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    role: str | None = None,
    statement_timeout: float | None = None,
    today: datetime.date | None = None,
) -> asyncpg.Pool:
    """A pool whose connections act as ``role`` (None: as the login).

    The role is a startup parameter rather than a ``SET ROLE``: it becomes the session's
    default, so neither asyncpg's ``RESET ALL`` on release nor a ``RESET ROLE`` leaves it.
    ``statement_timeout`` bounds every statement twice: the server cancels it, and the client
    stops waiting a second later should the server not answer at all (a dead host).
    ``today`` puts the app clock of every connection on that date (``PURCHASEGRAPH_TODAY``).
    Every connection counts days in UTC, whatever the server's or database's default zone: the
    dates it writes (invoice periods, a departure, a term's days paid) are the same everywhere.
    """
    server_settings: dict[str, str] = clock_server_settings(today) | {"TimeZone": "UTC"}
    if role is not None:
        server_settings["role"] = role
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
    pool: asyncpg.Pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings=server_settings or None,
        command_timeout=statement_timeout + 1 if statement_timeout is not None else None,
        # A server that does not answer the connection attempt is treated like one that is down.
        timeout=10,
    )
    return pool
