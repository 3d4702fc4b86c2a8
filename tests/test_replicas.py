"""Read replicas on a real primary and a real streaming hot standby: where reads run, read-your-writes
with X-Read-After, a replica held back or killed, and what /readyz and /metrics say of it.

The module has a primary of its own (its purchases commit) and a standby of it made with
``pg_basebackup -R``; the gateway under test names the standby in ``replica_urls``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.replicas import ReplicaSet, ReplicaState, RouteReason, close_pools, parse_lsn
from purchasegraph.db.standby import HotStandby, Standby, start_standby
from purchasegraph.demo.actors import BRUNO, CONTOSO, CONTOSO_ID, FABRIKAM, PAULA, demo_tenant_id
from purchasegraph.demo.global_ids import subscription
from purchasegraph.runtime import replica_set
from purchasegraph.settings import Settings, settings_from_env
from tests.mutations import purchase_input
from tests.npm import node_for
from tests.settings import gateway_settings
from tests.test_client_conventions import EXAMPLE_RUNS, EXAMPLES
from tests.test_http import serving, token_for
from tests.test_purchase_events import served

BUY = """
mutation Buy($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code } }
}
"""
SUBSCRIPTION = "query Bought($id: ID!) { node(id: $id) { ... on Subscription { id quantity } } }"
READ = "query Mine { viewer { homeTenant { subscriptions(first: 5) { totalCount } } } }"
# The lag bound of the module's gateway: short, so a held-back standby leaves the rotation soon.
MAX_LAG = 2.0
ROUTES = "purchasegraph_read_routes_total"


def bearer(upn: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(upn, upn.rpartition('@')[2])}"}


def routed(target: str, reason: str) -> float:
    return REGISTRY.get_sample_value(ROUTES, {"target": target, "reason": reason}) or 0.0


@pytest.fixture(scope="module")
def hot_standby(own_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standby]:
    standby = start_standby(own_database, Path(tmp_path_factory.mktemp("standby")))
    yield standby
    standby.stop()


def replicated(primary: str, standby: Standby, **changes: Any) -> Settings:
    return gateway_settings(
        primary, seed_demo=True, replica_urls=(standby.database_url,), replica_max_lag=MAX_LAG, **changes
    )


@pytest.fixture(scope="module")
async def client(own_database: str, hot_standby: Standby) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(replicated(own_database, hot_standby, pool_max_size=10)) as http:
        await until_replica_is(http, "up")
        yield http


async def readiness(http: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await http.get("/readyz")).json()
    return body


async def until_replica_is(http: httpx.AsyncClient, state: str, within: float = 20.0) -> float:
    """Seconds until /readyz says the replica is in ``state``."""
    started = time.monotonic()
    while (await readiness(http))["replicas"][0]["state"] != state:
        assert time.monotonic() - started < within, f"the replica was not {state} within {within} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def buy(http: httpx.AsyncClient) -> httpx.Response:
    variables = {"input": purchase_input(quantity=1, idempotencyKey=uuid.uuid4().hex)}
    response = await http.post("/graphql", json={"query": BUY, "variables": variables}, headers=bearer(PAULA))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["purchaseSubscription"]["userErrors"] == []
    return response


async def read(http: httpx.AsyncClient, query: str, variables: Any = None, **headers: str) -> dict[str, Any]:
    body = {"query": query, "variables": variables}
    response = await http.post("/graphql", json=body, headers=bearer(PAULA) | headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert "errors" not in answer, answer
    return answer


# -- Read-your-writes ----------------------------------------------------------------------------


async def test_a_read_sent_with_the_position_a_purchase_returned_sees_the_purchase(client: httpx.AsyncClient) -> None:
    on_replica, seconds = 0, []
    for _ in range(20):
        bought = await buy(client)
        position = bought.headers["X-Read-After"]
        assert bought.json()["extensions"]["readAfter"] == position
        subscription = bought.json()["data"]["purchaseSubscription"]["subscription"]["id"]
        before = routed("replica", "replayed")
        started = time.perf_counter()
        answer = await read(client, SUBSCRIPTION, {"id": subscription}, **{"X-Read-After": position})
        seconds.append(time.perf_counter() - started)
        assert answer["data"]["node"] == {"id": subscription, "quantity": 1}
        on_replica += int(routed("replica", "replayed") - before)
    quantiles = statistics.quantiles(seconds, n=100)
    print(f"read with X-Read-After: p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms")
    # Replay on a local standby takes milliseconds, far within the 200 ms wait.
    assert on_replica >= 18, f"only {on_replica} of 20 reads ran on the replica"


async def test_the_position_also_travels_in_the_request_extensions(client: httpx.AsyncClient) -> None:
    bought = await buy(client)
    subscription = bought.json()["data"]["purchaseSubscription"]["subscription"]["id"]
    body = {
        "query": SUBSCRIPTION,
        "variables": {"id": subscription},
        "extensions": {"readAfter": bought.headers["X-Read-After"]},
    }
    response = await client.post("/graphql", json=body, headers=bearer(PAULA))
    assert response.json()["data"]["node"]["id"] == subscription


@pytest.mark.parametrize("value", ["yesterday", "0/", "1/2/3", "G/0", "123456789/0", "0/3000148; DROP"])
async def test_a_malformed_position_is_a_bad_request_not_an_error(client: httpx.AsyncClient, value: str) -> None:
    for headers, extensions in (({"X-Read-After": value}, None), ({}, {"readAfter": value})):
        response = await client.post(
            "/graphql",
            json={"query": READ, "extensions": extensions},
            headers=bearer(PAULA) | headers | {"Accept": "application/graphql-response+json"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert "X-Read-After" in response.json()["errors"][0]["message"]


async def test_a_position_that_is_not_a_string_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": READ, "extensions": {"readAfter": 5}},
        headers=bearer(PAULA) | {"Accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_browsers_on_other_origins_may_send_and_read_the_position(client: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://shop.example"}
    preflight = await client.options(
        "/graphql",
        headers=origin | {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-read-after"},
    )
    assert preflight.status_code == 204
    assert "x-read-after" in preflight.headers["access-control-allow-headers"].lower()
    variables = {"input": purchase_input(quantity=1, idempotencyKey=uuid.uuid4().hex)}
    bought = await client.post("/graphql", json={"query": BUY, "variables": variables}, headers=bearer(PAULA) | origin)
    assert "x-read-after" in bought.headers["access-control-expose-headers"].lower()
    assert parse_lsn(bought.headers["X-Read-After"]) is not None


CLIENTS_DIR = Path(__file__).parent / "clients"
README = Path(__file__).parent.parent / "README.md"


@pytest.mark.node
@pytest.mark.live_server
async def test_the_readme_apollo_link_sends_a_purchase_s_position_with_the_next_read(
    client: httpx.AsyncClient, own_database: str, hot_standby: Standby
) -> None:
    node = node_for(CLIENTS_DIR, "the README's Apollo link")
    variables = json.dumps({"input": purchase_input(quantity=2, idempotencyKey=uuid.uuid4().hex)})
    before = routed("replica", "replayed")
    with served(own_database, replica_urls=(hot_standby.database_url,), replica_max_lag=MAX_LAG) as live:
        completed = await asyncio.to_thread(
            subprocess.run,
            [node, str(CLIENTS_DIR / "read_after.mjs"), str(README), f"{live.url}/graphql", variables],
            cwd=CLIENTS_DIR,
            env={**os.environ, "PURCHASEGRAPH_TOKEN": token_for(PAULA, "contoso.example")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert parse_lsn(report["position"]) is not None
    assert report["sent"] == [None, report["position"]]
    assert report["read"] == {"__typename": "Subscription", "id": report["bought"], "quantity": 2}
    assert routed("replica", "replayed") == before + 1


# -- Where reads run, and row-level security there ------------------------------------------------


async def test_reads_run_on_the_replica_and_sign_in_on_the_primary(client: httpx.AsyncClient) -> None:
    before = routed("replica", "rotation")
    await read(client, READ)
    assert routed("replica", "rotation") == before + 1


async def test_a_read_on_the_replica_sees_no_other_tenant(database_url: str, standby: HotStandby) -> None:
    """On the session's world and its standby: another tenant's subscription is null on the replica
    as on the primary, and row-level security, the second wall, holds on the standby itself."""
    paulas = subscription("paula-power-bi-pro")
    async with serving(gateway_settings(database_url, replica_urls=(standby.database_url,))) as http:
        await until_replica_is(http, "up")
        before = routed("replica", "rotation")
        for upn, seen in ((PAULA, {"id": paulas}), (BRUNO, None)):
            body = {"query": "query Seen($id: ID!) { node(id: $id) { id } }", "variables": {"id": paulas}}
            response = await http.post("/graphql", json=body, headers=bearer(upn))
            assert response.json()["data"]["node"] == seen, upn
        assert routed("replica", "rotation") == before + 2
    # The gateway's role named for another tenant reads none of Contoso's rows, though they are there.
    conn = await asyncpg.connect(standby.database_url, server_settings={"role": GATEWAY_ROLE})
    try:
        await conn.execute(f"SET purchasegraph.tenant_id = '{demo_tenant_id(FABRIKAM)}'")
        assert await conn.fetchval("SELECT count(*) FROM subscriptions WHERE tenant_id = $1", CONTOSO_ID) == 0
        await conn.execute(f"SET purchasegraph.tenant_id = '{CONTOSO}'")
        assert await conn.fetchval("SELECT count(*) FROM subscriptions WHERE tenant_id = $1", CONTOSO_ID) > 0
    finally:
        await conn.close()


async def test_every_example_answers_on_the_replica_as_on_the_primary_on_both_read_paths(
    client: httpx.AsyncClient, own_database: str, hot_standby: Standby
) -> None:
    """The reads write nothing (a standby would refuse it), and a replica that has replayed the
    primary's position answers them exactly as the primary does, compiled or through resolvers."""
    async with (
        serving(gateway_settings(own_database)) as primary,
        serving(replicated(own_database, hot_standby, compiled_reads=False)) as resolvers,
    ):
        await until_replica_is(resolvers, "up")
        for name, (viewer, variables) in sorted(EXAMPLE_RUNS.items()):
            body = {"query": (EXAMPLES / name).read_text(encoding="utf-8"), "variables": variables}
            headers = bearer(viewer) if viewer else {}
            expected = (await primary.post("/graphql", json=body, headers=headers)).json()["data"]
            assert expected, name
            position = await primary_position(own_database)
            for gateway in (client, resolvers):
                before = routed("replica", "replayed")
                answer = await gateway.post("/graphql", json=body, headers=headers | {"X-Read-After": position})
                assert answer.json()["data"] == expected, name
                assert routed("replica", "replayed") == before + 1, name


async def primary_position(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        position: str = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        return position
    finally:
        await conn.close()


@asynccontextmanager
async def pools_of(
    own_database: str, hot_standby: Standby, **changes: Any
) -> AsyncIterator[tuple[asyncpg.Pool, ReplicaSet]]:
    """A gateway's primary pool and replica set of its own, the replica probed once."""
    primary = await create_pool(own_database, min_size=0, max_size=2, role=GATEWAY_ROLE)
    replicas = await replica_set(replicated(own_database, hot_standby, **changes))
    try:
        await replicas.probe_all()
        yield primary, replicas
    finally:
        await close_pools(replicas)
        await primary.close()


STANDBY_AND_TENANT = "SELECT current_setting('purchasegraph.tenant_id') AS tenant, pg_is_in_recovery() AS standby"


async def test_a_statement_the_replica_fails_runs_again_on_the_primary_for_the_same_tenant(
    client: httpx.AsyncClient, own_database: str, hot_standby: Standby
) -> None:
    async with pools_of(own_database, hot_standby) as (primary, replicas):
        executor = RequestExecutor(primary, tenant_id=CONTOSO_ID)
        chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, None))
        assert chosen.replica is replicas.replicas[0]
        superuser = await asyncpg.connect(hot_standby.database_url)
        try:
            assert await superuser.fetchval("SELECT pg_terminate_backend($1)", chosen.conn.get_server_pid())
        finally:
            await superuser.close()
        row = await executor.fetchrow(STANDBY_AND_TENANT)
        assert row is not None
        assert (row["tenant"], row["standby"]) == (CONTOSO, False)
        assert executor.read_on is not None
        assert executor.read_on.reason is RouteReason.REPLICA_FAILED
        assert executor.statements == 1
        assert replicas.replicas[0].state is ReplicaState.DOWN
        await executor.close()


async def test_a_replica_with_every_connection_lent_out_is_busy_not_down(
    client: httpx.AsyncClient, own_database: str, hot_standby: Standby
) -> None:
    async with pools_of(own_database, hot_standby, pool_max_size=1) as (primary, replicas):
        [replica] = replicas.replicas
        async with replica.pool.acquire():
            executor = RequestExecutor(primary, tenant_id=CONTOSO_ID)
            chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, None))
            assert (chosen.replica, chosen.reason) == (None, RouteReason.REPLICAS_BUSY)
            await executor.close()
            await replicas.probe_all()
            assert replica.state is ReplicaState.UP, "the probe has a connection of its own"
        executor = RequestExecutor(primary, tenant_id=CONTOSO_ID)
        chosen = await executor.read_from(replicas.route(primary, executor.tenant_setting, None))
        assert chosen.replica is replica
        row = await executor.fetchrow(STANDBY_AND_TENANT)
        assert row is not None
        assert (row["tenant"], row["standby"]) == (CONTOSO, True)
        await executor.close()


# -- A standby held back ---------------------------------------------------------------------------


async def test_a_held_back_replica_serves_until_the_lag_bound_and_a_read_after_goes_to_the_primary(
    client: httpx.AsyncClient, hot_standby: Standby
) -> None:
    # A fresh transaction replayed just before the pause: the lag is counted from it.
    position = (await buy(client)).headers["X-Read-After"]
    await hot_standby.wait_until_replayed(position)
    await hot_standby.pause_replay()
    try:
        bought = await buy(client)
        subscription = bought.json()["data"]["purchaseSubscription"]["subscription"]["id"]
        before = routed("replica", "rotation")
        stale = await read(client, SUBSCRIPTION, {"id": subscription})
        assert stale["data"]["node"] is None, "the held-back replica answered, without the purchase"
        assert routed("replica", "rotation") == before + 1
        waited = routed("primary", "read_after_wait")
        started = time.perf_counter()
        fresh = await read(
            client, SUBSCRIPTION, {"id": subscription}, **{"X-Read-After": bought.headers["X-Read-After"]}
        )
        assert fresh["data"]["node"]["id"] == subscription
        assert time.perf_counter() - started >= 0.2, "it waited READ_AFTER_WAIT for the replica first"
        assert routed("primary", "read_after_wait") == waited + 1
        await until_replica_is(client, "lagging", within=MAX_LAG + 5)
        lagging = (await readiness(client))["replicas"][0]
        assert lagging["lagSeconds"] > MAX_LAG
        before = routed("primary", "none_in_rotation")
        assert (await read(client, SUBSCRIPTION, {"id": subscription}))["data"]["node"]["id"] == subscription
        assert routed("primary", "none_in_rotation") == before + 1
        metrics = (await client.get("/metrics")).text
        assert 'purchasegraph_replica_up{replica="replica-0"} 0.0' in metrics
    finally:
        await hot_standby.resume_replay()
    await until_replica_is(client, "up")


# -- A standby killed -------------------------------------------------------------------------------


async def test_killing_the_replica_under_load_fails_no_read_and_it_returns_when_started(
    client: httpx.AsyncClient, hot_standby: Standby
) -> None:
    answers: list[int] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            response = await client.post("/graphql", json={"query": READ}, headers=bearer(PAULA))
            answers.append(response.status_code)
            if response.status_code != 200 or "errors" in response.json():
                failures.append(response.text)

    on_primary = routed("primary", "replica_failed") + routed("primary", "none_in_rotation")
    readers = [asyncio.create_task(reader()) for _ in range(6)]
    await asyncio.sleep(0.5)
    before_kill = len(answers)
    await asyncio.to_thread(hot_standby.kill)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*readers)
    failed_over = routed("primary", "replica_failed") + routed("primary", "none_in_rotation") - on_primary
    print(f"{len(answers)} reads, {before_kill} before the kill, {failed_over:.0f} then on the primary")
    assert before_kill > 0
    assert failed_over > 0, "reads went on, on the primary, while the replica was down"
    assert failures == []
    assert (await readiness(client)) == {
        "ready": True,
        "replicas": [{"replica": "replica-0", "state": "down", "lagSeconds": None}],
    }
    await asyncio.to_thread(hot_standby.start)
    await until_replica_is(client, "up")
    before = routed("replica", "rotation")
    await read(client, READ)
    assert routed("replica", "rotation") == before + 1


# -- What /readyz and /metrics say ------------------------------------------------------------------


async def test_readiness_and_metrics_name_each_replica_by_its_place_never_its_url(
    client: httpx.AsyncClient, hot_standby: Standby
) -> None:
    await read(client, READ)
    ready = await readiness(client)
    assert ready["ready"] is True
    [replica] = ready["replicas"]
    assert replica["replica"] == "replica-0"
    assert replica["state"] == "up"
    assert 0 <= replica["lagSeconds"] <= MAX_LAG
    metrics = (await client.get("/metrics")).text
    assert 'purchasegraph_replica_up{replica="replica-0"} 1.0' in metrics
    assert 'purchasegraph_replica_lag_seconds{replica="replica-0"}' in metrics
    assert 'purchasegraph_read_routes_total{reason="rotation",target="replica"}' in metrics
    socket_dir = hot_standby.database_url.partition("host=")[2]
    assert socket_dir
    assert socket_dir not in metrics
    assert socket_dir not in str(ready)


# -- No replicas configured -------------------------------------------------------------------------


async def test_without_replicas_nothing_changes(own_database: str, hot_standby: Standby) -> None:
    async with serving(gateway_settings(own_database)) as http:
        bought = await buy(http)
        assert "X-Read-After" not in bought.headers
        assert "readAfter" not in bought.json()["extensions"]
        # Ignored, as before replicas existed: nothing reads it.
        answer = await read(http, READ, **{"X-Read-After": "yesterday"})
        assert answer["data"]["viewer"]["homeTenant"]["subscriptions"]["totalCount"] > 0
        assert (await readiness(http)) == {"ready": True}


# -- The settings and the position -----------------------------------------------------------------


def test_the_settings_say_which_replicas_and_how_far_behind() -> None:
    defaults = settings_from_env({})
    assert (defaults.replica_urls, defaults.replica_max_lag, defaults.read_after_wait) == ((), 5.0, 0.2)
    configured = settings_from_env(
        {
            "PURCHASEGRAPH_REPLICA_URLS": "postgresql://a/db, postgresql://b/db",
            "PURCHASEGRAPH_REPLICA_MAX_LAG": "2.5",
            "PURCHASEGRAPH_READ_AFTER_WAIT": "50",
        }
    )
    assert configured.replica_urls == ("postgresql://a/db", "postgresql://b/db")
    assert configured.replica_max_lag == 2.5
    assert configured.read_after_wait == 0.05


@pytest.mark.parametrize("text", ["0/0", "0/3000148", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_a_position_reads_back_as_postgresql_prints_it(text: str) -> None:
    position = parse_lsn(text)
    assert position is not None
    high, low = text.split("/")
    assert position == int(high, 16) * 2**32 + int(low, 16)


@pytest.mark.parametrize("text", ["", "0", "0/", "/0", "0/0/0", "x/0", "100000000/0", "0/ 1", "-1/0"])
def test_anything_else_is_no_position(text: str) -> None:
    assert parse_lsn(text) is None
