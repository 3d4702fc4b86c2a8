"""A pooled connection lent to one request, on the primary or a replica alike: how it is told
whose tenant it acts for, and how it goes back to its pool."""

from __future__ import annotations

import logging

import asyncpg

log = logging.getLogger("purchasegraph.db")

# Session-level (not for one transaction): the request's reads run outside any transaction, and
# its mutations inside one, on the same connection. asyncpg's RESET ALL on release clears it.
SET_TENANT = "SELECT set_config('purchasegraph.tenant_id', $1, false)"


async def give_back(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Release. When the release-time reset fails, asyncpg terminates the connection and replaces
    it; the request has its answer already, so that is logged, not raised."""
    try:
        await pool.release(conn)
    except Exception:
        log.warning("a broken connection was dropped on release", exc_info=True)
