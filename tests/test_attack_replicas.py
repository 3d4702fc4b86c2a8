"""The read replicas attacked from outside: what a client can send, and what a standby can do,
must never cost a read, take a healthy replica out of rotation or serve data older than the bound.

The module has a primary of its own and a streaming standby of it (one test cuts the standby's
stream and restores it), so nothing here touches the session's standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.migrate import migrate
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.replicas import Replica, ReplicaSet, ReplicaState, RouteReason, close_pools, parse_lsn
from purchasegraph.db.standby import HotStandby, Standby, start_standby
from purchasegraph.demo.actors import CONTOSO_ID, PAULA
from purchasegraph.runtime import running
from purchasegraph.settings import QueryLimits
from tests.factories import create_tenant
from tests.mutations import purchase_input
from tests.settings import gateway_settings
from tests.test_http import serving
from tests.test_replicas import BUY, READ, bearer, until_replica_is

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
    primary_url: str, standby: HotStandby, *, max_size: int = 2
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
async def executor_of(
    primary: asyncpg.Pool, tenant_id: uuid.UUID | None, acquire_timeout: float | None = None
) -> AsyncIterator[RequestExecutor]:
    """A request's executor, closed however the block ends (a pool waits for every connection
    lent out before it closes)."""
    executor = RequestExecutor(primary, tenant_id=tenant_id, acquire_timeout=acquire_timeout)
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


async def test_reads_waiting_for_a_far_position_never_take_every_replica_connection(
    primary_url: str, hot_standby: Standby
) -> None:
    """A position no commit has reached makes its read hold a replica connection for the whole
    wait. At most half the pool may be held so: the next such read goes to the primary at once,
    and a read that waits for nothing still finds a connection on the replica."""
    far = parse_lsn("7FFFFFFF/FFFFFFFF")
    async with gateway_pools(primary_url, hot_standby, max_size=2) as (primary, replicas):
        replicas.read_after_wait = 30.0  # the first read waits until the test is done with it
        replica = replicas.replicas[0]
        async with executor_of(primary, CONTOSO_ID) as waiting:
            held = asyncio.create_task(waiting.read_from(replicas.route(primary, waiting.tenant_setting, far)))
            try:
                while replica.waiting == 0:
                    assert not held.done()
                    await asyncio.sleep(0.01)
                async with executor_of(primary, CONTOSO_ID) as second:
                    # Not the 30 s wait: a far shorter bound tells "went on at once" from "waited".
                    route = replicas.route(primary, second.tenant_setting, far)
                    chosen = await asyncio.wait_for(second.read_from(route), timeout=10)
                    assert (chosen.replica, chosen.reason) == (None, RouteReason.READ_AFTER_WAIT)
                async with executor_of(primary, CONTOSO_ID) as plain:
                    chosen = await plain.read_from(replicas.route(primary, plain.tenant_setting, None))
                    assert (chosen.replica, chosen.reason) == (replica, RouteReason.ROTATION)
            finally:
                held.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await held
        assert replica.waiting == 0


# -- What runs where: nothing that writes, or must see a write, runs on the replica ------------------


@pytest.fixture(scope="module")
async def client(primary_url: str, hot_standby: Standby) -> AsyncIterator[httpx.AsyncClient]:
    settings = gateway_settings(
        primary_url,
        seed_demo=True,
        replica_urls=(hot_standby.database_url,),
        replica_max_lag=60.0,
        limits=QueryLimits(max_batch=3),
    )
    async with serving(settings) as http:
        await until_replica_is(http, "up")
        yield http


@asynccontextmanager
async def replay_paused(standby: Standby) -> AsyncIterator[None]:
    """The standby held back (still within the lag bound, so in rotation): a read there misses
    every commit made meanwhile."""
    await standby.pause_replay()
    try:
        yield
    finally:
        await standby.resume_replay()


def bought_input() -> dict[str, object]:
    return {"input": purchase_input(quantity=1, idempotencyKey=uuid.uuid4().hex)}


async def counted(http: httpx.AsyncClient) -> int:
    response = await http.post("/graphql", json={"query": READ}, headers=bearer(PAULA))
    total: int = response.json()["data"]["viewer"]["homeTenant"]["subscriptions"]["totalCount"]
    return total


async def test_a_batch_holding_a_mutation_runs_its_queries_on_the_primary_after_the_commit(
    client: httpx.AsyncClient, hot_standby: Standby
) -> None:
    async with replay_paused(hot_standby):
        before = await counted(client)
        batch = [{"query": BUY, "variables": bought_input()}, {"query": READ}]
        response = await client.post("/graphql", json=batch, headers=bearer(PAULA))
        bought, read = response.json()
        assert bought["data"]["purchaseSubscription"]["userErrors"] == []
        assert read["data"]["viewer"]["homeTenant"]["subscriptions"]["totalCount"] == before + 1
        assert response.headers["X-Read-After"] == bought["extensions"]["readAfter"]
        # The replica, held back, still answers the count from before the purchase.
        assert await counted(client) == before


async def test_the_operation_name_that_picks_a_mutation_sends_it_to_the_primary(
    client: httpx.AsyncClient, hot_standby: Standby
) -> None:
    document = f"{READ}\n{BUY}"
    async with replay_paused(hot_standby):
        body = {"query": document, "operationName": "Buy", "variables": bought_input()}
        response = await client.post("/graphql", json=body, headers=bearer(PAULA))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["purchaseSubscription"]["userErrors"] == []
        assert "X-Read-After" in response.headers
        get = await client.get("/graphql", params={"query": document, "operationName": "Buy"}, headers=bearer(PAULA))
        assert get.status_code == 405


@pytest.mark.parametrize(
    "extensions",
    [{"readAfter": ["0/1"]}, {"readAfter": {"lsn": "0/1"}}, {"readAfter": True}, {"readAfter": 1.5}],
)
async def test_a_position_of_another_type_in_the_extensions_is_a_bad_request(
    client: httpx.AsyncClient, extensions: dict[str, object]
) -> None:
    body = {"query": READ, "extensions": extensions}
    response = await client.post("/graphql", json=body, headers=bearer(PAULA) | {"X-Read-After": "0/1"})
    assert response.status_code == 400, response.text


async def test_the_header_and_the_extensions_disagreeing_wait_for_the_furthest(
    client: httpx.AsyncClient, hot_standby: Standby
) -> None:
    async with replay_paused(hot_standby):
        bought = await client.post("/graphql", json={"query": BUY, "variables": bought_input()}, headers=bearer(PAULA))
        position = bought.headers["X-Read-After"]
        before = await counted(client)
        for header, extension in (("0/1", position), (position, "0/1")):
            body = {"query": READ, "extensions": {"readAfter": extension}}
            response = await client.post("/graphql", json=body, headers=bearer(PAULA) | {"X-Read-After": header})
            assert response.json()["data"]["viewer"]["homeTenant"]["subscriptions"]["totalCount"] == before + 1


async def test_a_position_sent_twice_in_the_header_waits_for_the_furthest(
    client: httpx.AsyncClient, hot_standby: Standby
) -> None:
    """Two links of a client (or a proxy) may each add the header: the older position must not
    hide the newer one."""
    async with replay_paused(hot_standby):
        bought = await client.post("/graphql", json={"query": BUY, "variables": bought_input()}, headers=bearer(PAULA))
        position = bought.headers["X-Read-After"]
        before = await counted(client)
        for first, second in (("0/1", position), (position, "0/1")):
            headers = [*bearer(PAULA).items(), ("X-Read-After", first), ("X-Read-After", second)]
            response = await client.post("/graphql", json={"query": READ}, headers=headers)
            assert response.json()["data"]["viewer"]["homeTenant"]["subscriptions"]["totalCount"] == before + 1


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


async def test_after_a_replica_failed_and_the_primary_was_busy_no_later_statement_runs_on_that_replica(
    primary_url: str, hot_standby: Standby
) -> None:
    """The read's statement that found the replica gone answers 503 when the primary has no
    connection free; a later statement of the same request (a sibling resolver) must not slip
    back onto the replica that left the rotation, outside the route."""
    async with gateway_pools(primary_url, hot_standby, max_size=1) as (primary, replicas):
        [replica] = replicas.replicas
        async with executor_of(primary, CONTOSO_ID, acquire_timeout=0.2) as executor:
            chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, None))
            assert chosen.replica is replica
            await terminate(hot_standby, chosen.conn.get_server_pid())
            async with primary.acquire():
                with pytest.raises(TimeoutError):
                    await executor.fetchrow(STANDBY)
                assert replica.state is ReplicaState.DOWN
            assert await executor.fetchrow(STANDBY) == (False,)


STANDBY = "SELECT pg_is_in_recovery()"


async def terminate(standby: Standby, pid: int) -> None:
    superuser = await asyncpg.connect(standby.database_url)
    try:
        assert await superuser.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await superuser.close()


# -- A replica that cannot serve: the gateway role refused there, or promoted --------------------------


async def test_a_replica_whose_login_may_not_act_as_the_gateway_role_fails_no_read(
    primary_url: str, hot_standby: Standby
) -> None:
    """The probe (any login) finds it a healthy standby; the pool's connections (as the gateway
    role) are refused. Each read then runs on the primary, and the replica leaves the rotation."""
    owner = await asyncpg.connect(primary_url)
    try:
        await owner.execute("CREATE ROLE outsider LOGIN")
        await hot_standby.wait_until_replayed(await owner.fetchval("SELECT pg_current_wal_lsn()::text"))
    finally:
        await owner.close()
    outsider = HotStandby(hot_standby.database_url.replace("postgres:@", "outsider:@"))
    async with gateway_pools(primary_url, outsider) as (primary, replicas):
        async with executor_of(primary, CONTOSO_ID) as executor:
            chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, None))
            assert (chosen.replica, chosen.reason) == (None, RouteReason.REPLICA_FAILED)
            assert await executor.fetchrow(TENANT_SETTING) == (str(CONTOSO_ID),)
        assert replicas.replicas[0].state is ReplicaState.DOWN


async def test_a_promoted_replica_leaves_the_rotation(primary_url: str, tmp_path: Path) -> None:
    """A standby promoted to a primary of its own has parted from the primary's data: reading
    from it would be a split brain, so it serves nothing."""
    promoted = start_standby(primary_url, tmp_path / "promoted")
    try:
        async with gateway_pools(primary_url, promoted) as (primary, replicas):
            superuser = await asyncpg.connect(promoted.database_url)
            try:
                assert await superuser.fetchval("SELECT pg_promote(true, 10)")
            finally:
                await superuser.close()
            await replicas.probe_all()
            assert replicas.replicas[0].state is ReplicaState.DOWN
            async with executor_of(primary, CONTOSO_ID) as executor:
                chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, None))
                assert (chosen.replica, chosen.reason) == (None, RouteReason.NONE_IN_ROTATION)
    finally:
        promoted.stop()


async def test_a_standby_of_another_cluster_serves_nothing(primary_url: str, tmp_path: Path) -> None:
    """A replica URL naming a standby of some other primary (staging's, an old cluster's) would
    answer with another database's rows, and compare read-after positions of another WAL."""
    other = start_embedded_server(tmp_path / "other")
    foreign = start_standby(other.database_url, tmp_path / "foreign")
    try:
        async with running(gateway_settings(primary_url, replica_urls=(foreign.database_url,))) as runtime:
            await runtime.replicas.probe_all()
            assert runtime.replicas.replicas[0].state is ReplicaState.DOWN
    finally:
        foreign.stop()
        other.stop()


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


# -- The directory tables: a reference to a tenant names one that exists -------------------------------

INSERT_RELATIONSHIP = """
INSERT INTO partner_relationships (tenant_id, id, partner_tenant_id, display_name, roles, status, starts_at, ends_at)
VALUES ($1, gen_random_uuid(), $2, 'Partner', ARRAY['global_reader'], 'active', now(), now() + interval '1 year')
"""


async def test_a_tenant_another_tenant_names_as_partner_cannot_be_deleted(conn: asyncpg.Connection) -> None:
    customer, partner = await create_tenant(conn, users=0), await create_tenant(conn, users=0)
    await conn.execute(INSERT_RELATIONSHIP, customer.tenant_id, partner.tenant_id)
    # What the partner's own rows hold of it goes first; only the customer's relationship is left.
    for table in ("directory_roles", "users", "audit_event_counters"):
        await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1", partner.tenant_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError) as refused:
        await conn.execute("DELETE FROM tenants WHERE id = $1", partner.tenant_id)
    assert refused.value.constraint_name == "partner_relationships_partner_tenant_id_fkey"


async def test_emptying_the_tenants_empties_the_directory_so_nothing_names_a_tenant_that_is_gone(
    conn: asyncpg.Connection,
) -> None:
    gone = await create_tenant(conn, users=0)
    await conn.execute("SET LOCAL lock_timeout = '5s'")
    await conn.execute("TRUNCATE tenants CASCADE")
    customer = await create_tenant(conn, users=0)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with conn.transaction():
            await conn.execute(INSERT_RELATIONSHIP, customer.tenant_id, gone.tenant_id)
    assert await conn.fetchval("SELECT count(*) FROM sign_in_names WHERE tenant_id = $1", gone.tenant_id) == 0
