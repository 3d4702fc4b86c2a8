"""The read replicas attacked from outside: what a client can send, and what a standby can do,
must never cost a read, take a healthy replica out of rotation or serve data older than the bound.

The module has a primary of its own and a streaming standby of it (one test cuts the standby's
stream and restores it), so nothing here touches the session's standby.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.migrate import migrate
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.replicas import Replica, ReplicaSet, ReplicaState, RouteReason, close_pools, parse_lsn
from purchasegraph.db.standby import Standby, start_standby
from purchasegraph.demo.actors import CONTOSO_ID

# A short lag bound, so a standby that stopped streaming is found out within the test.
MAX_LAG = 0.5
TENANT_SETTING = "SELECT current_setting('purchasegraph.tenant_id', true)"


@pytest.fixture(scope="module")
async def primary_url(own_database: str) -> str:
    conn = await asyncpg.connect(own_database)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return own_database


@pytest.fixture(scope="module")
def hot_standby(primary_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standby]:
    standby = start_standby(primary_url, Path(tmp_path_factory.mktemp("attacked-standby")))
    yield standby
    standby.stop()


@asynccontextmanager
async def gateway_pools(
    primary_url: str, standby: Standby, *, max_size: int = 2
) -> AsyncIterator[tuple[asyncpg.Pool, ReplicaSet]]:
    """A gateway's primary pool and a replica set over the standby, probed once (found up)."""
    primary = await create_pool(primary_url, min_size=0, max_size=max_size, role=GATEWAY_ROLE)
    pool = await create_pool(standby.database_url, min_size=0, max_size=max_size, role=GATEWAY_ROLE)
    replicas = ReplicaSet([Replica("replica-0", pool, url=standby.database_url)], max_lag=MAX_LAG, read_after_wait=0.05)
    try:
        await until_state(replicas, ReplicaState.UP)
        yield primary, replicas
    finally:
        await close_pools(replicas)
        await primary.close()


@asynccontextmanager
async def executor_of(primary: asyncpg.Pool, tenant_id: uuid.UUID | None) -> AsyncIterator[RequestExecutor]:
    """A request's executor, closed however the block ends (a pool waits for every connection
    lent out before it closes)."""
    executor = RequestExecutor(primary, tenant_id=tenant_id)
    try:
        yield executor
    finally:
        await executor.close()


async def until_state(replicas: ReplicaSet, state: ReplicaState, within: float = 10.0) -> None:
    started = time.monotonic()
    while True:
        await replicas.probe_all()
        if replicas.replicas[0].state is state:
            return
        assert time.monotonic() - started < within, f"the replica was not {state.value} within {within} s"
        await asyncio.sleep(0.05)


# -- What a client sends in X-Read-After -----------------------------------------------------------


@pytest.mark.parametrize("sent", ["7FFFFFFF/FFFFFFFF", "80000000/0", "FFFFFFFF/FFFFFFFF"])
async def test_a_position_no_primary_has_reached_runs_on_the_primary_and_the_replica_stays_in_rotation(
    primary_url: str, hot_standby: Standby, sent: str
) -> None:
    """Any header value accepted as a position costs the client a wait and the primary; it never
    makes the replica look broken (else one client's header empties the rotation for everyone)."""
    position = parse_lsn(sent)
    assert position is not None
    async with gateway_pools(primary_url, hot_standby) as (primary, replicas):
        async with executor_of(primary, CONTOSO_ID) as executor:
            chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, position))
        assert (chosen.replica, chosen.reason) == (None, RouteReason.READ_AFTER_WAIT)
        assert replicas.replicas[0].state is ReplicaState.UP


# -- Row-level security on the replica's connections -----------------------------------------------


async def test_a_replica_connection_given_back_acts_for_no_tenant(primary_url: str, hot_standby: Standby) -> None:
    async with gateway_pools(primary_url, hot_standby, max_size=1) as (primary, replicas):
        async with executor_of(primary, CONTOSO_ID) as executor:
            chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, None))
            assert chosen.replica is replicas.replicas[0]
            assert await executor.fetchrow(TENANT_SETTING) == (str(CONTOSO_ID),)
        # The pool holds one connection: the next read takes the same one, reset on release.
        async with replicas.replicas[0].pool.acquire() as conn:
            assert await conn.fetchval(TENANT_SETTING) in (None, "")
        async with executor_of(primary, None) as anonymous:
            chosen = await anonymous.read_from(replicas.route(primary, anonymous.tenant_setting, None))
            assert chosen.replica is replicas.replicas[0]
            assert await anonymous.fetchrow(TENANT_SETTING) == ("",)


# -- A standby that stopped streaming -----------------------------------------------------------------


async def test_a_replica_whose_stream_from_the_primary_stopped_leaves_the_rotation(
    primary_url: str, hot_standby: Standby
) -> None:
    """A standby that receives nothing has replayed all it received, yet falls further behind with
    every commit on the primary: it must not count as current (lag 0) and serve stale reads."""
    async with gateway_pools(primary_url, hot_standby) as (_, replicas):
        superuser = await asyncpg.connect(hot_standby.database_url)
        conninfo = await superuser.fetchval("SHOW primary_conninfo")
        try:
            await superuser.execute("ALTER SYSTEM SET primary_conninfo = ''")
            await superuser.execute("SELECT pg_reload_conf()")
            await wait_for(superuser, "SELECT NOT EXISTS (SELECT FROM pg_stat_wal_receiver)")
            await commit_on(primary_url)
            # The stream is gone, so the commit never arrives: the replica leaves within the bound.
            await until_state(replicas, ReplicaState.LAGGING, within=MAX_LAG + 3)
        finally:
            await superuser.execute(f"ALTER SYSTEM SET primary_conninfo = '{escaped(conninfo)}'")
            await superuser.execute("SELECT pg_reload_conf()")
            await wait_for(superuser, "SELECT EXISTS (SELECT FROM pg_stat_wal_receiver)")
            await superuser.close()
        await until_state(replicas, ReplicaState.UP)


def escaped(literal: str) -> str:
    return literal.replace("'", "''")


async def wait_for(conn: asyncpg.Connection, sql: str, within: float = 10.0) -> None:
    started = time.monotonic()
    while not await conn.fetchval(sql):
        assert time.monotonic() - started < within, sql
        await asyncio.sleep(0.05)


async def commit_on(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS attack_commits (at timestamptz)")
        await conn.execute("INSERT INTO attack_commits VALUES (now())")
    finally:
        await conn.close()
