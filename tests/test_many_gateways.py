"""N gateways behind a load balancer share what must be shared through PostgreSQL alone.

Two real `purchasegraph serve` processes (not two apps in one process: nothing of Python's is
shared between them) on one database of the module's own: the throttle's buckets are rows every
process takes from in the sign-in statement, and a purchase's event is announced with NOTIFY,
which every process LISTENs for. A client spreading its requests over both gets no more than over
one, an event committed through one reaches a subscriber of the other, and an anonymous client is
the same address, so the same bucket, whichever process it reaches, whatever it claims in
X-Forwarded-For unless a trusted proxy says so.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bench.many_gateways import gateway_env, serve_process
from purchasegraph.demo.actors import ALEX, CONTOSO, NOAH, OLIVIA, PAULA, RAJ, TESS, WILL, demo_tenant_id
from purchasegraph.settings import ThrottleSettings
from tests.settings import SECRET
from tests.test_purchase_events import (
    PURCHASE_EVENTS,
    WAIT,
    Served,
    bearer,
    connected,
    event_of,
    purchased,
)

pytestmark = pytest.mark.live_server

# A bucket a few requests drain: 5 of FIFTY (51 points each) fit in 300, and 1 point a second
# restores the sixth only after about 6 s, longer than a drain takes.
BUCKET = ThrottleSettings(maximum_available=300, restore_rate=1)
# 50 subscriptions asked for: requested cost 1 + 50 = 51, whatever the tenant holds.
FIFTY = "{ viewer { homeTenant { subscriptions(first: 50) { nodes { id } } } } }"
CATALOGUE = "{ products { productId } }"
WOODGROVE = str(demo_tenant_id("woodgrove.example"))


@contextmanager
def serve(database_url: str, logs: Path, *, seed: bool = False, **env: str) -> Iterator[str]:
    """`purchasegraph serve` in a process of its own on ``database_url``, as production runs it:
    the tests' token secret and a small bucket; its base URL."""
    environ = gateway_env(BUCKET, seed=seed, secret=SECRET) | {"PURCHASEGRAPH_POOL_MIN": "1"}
    with serve_process(database_url, environ | env, logs / f"serve-{uuid.uuid4().hex[:8]}.log") as served:
        yield served.url


@pytest.fixture(scope="module")
def gateways(own_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two gateways; the first migrates and seeds, the second starts on what it left."""
    logs = tmp_path_factory.mktemp("gateways")
    with serve(own_database, logs, seed=True) as one, serve(own_database, logs) as two:
        yield one, two


@pytest.fixture
async def clients(gateways: tuple[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    one, two = gateways
    async with (
        httpx.AsyncClient(base_url=one, timeout=30) as first,
        httpx.AsyncClient(base_url=two, timeout=30) as second,
    ):
        yield first, second


async def ask(client: httpx.AsyncClient, query: str, upn: str | None = None, **headers: str) -> httpx.Response:
    if upn is not None:
        headers["Authorization"] = bearer(upn)
    return await client.post("/graphql", json={"query": query}, headers=headers)


async def granted_until_throttled(
    clients: list[httpx.AsyncClient], query: str, upn: str | None = None, headers: list[dict[str, str]] | None = None
) -> tuple[int, int, float]:
    """Requests sent in turn over ``clients`` (round robin) until the first 429: how many were
    granted, the cost of each, and the seconds it took."""
    started = time.monotonic()
    for sent in range(100):
        extra = headers[sent % len(headers)] if headers else {}
        response = await ask(clients[sent % len(clients)], query, upn, **extra)
        if response.status_code == 429:
            assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
            cost = response.json()["errors"][0]["extensions"]["cost"]["requestedQueryCost"]
            return sent, cost, time.monotonic() - started
        assert response.status_code == 200, response.text
    raise AssertionError("never throttled")


def tolerance(cost: int, *seconds: float) -> int:
    """The requests the buckets' refill can grant while the drains run: the only difference
    between one gateway and two, since the bucket is one row whichever gateway takes from it."""
    return math.ceil(BUCKET.restore_rate * sum(seconds) / cost)


async def test_a_client_spreading_over_two_gateways_gets_no_more_than_over_one(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    one, two = clients
    over_one, cost, first = await granted_until_throttled([one], FIFTY, NOAH)
    over_two, _, second = await granted_until_throttled([one, two], FIFTY, OLIVIA)
    assert over_one == BUCKET.maximum_available // cost
    assert abs(over_two - over_one) <= tolerance(cost, first, second)


async def test_concurrent_requests_over_two_gateways_share_one_budget(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """Sent all at once, half to each: the row lock makes them take turns across processes."""
    one, two = clients
    started = time.monotonic()
    responses = await asyncio.gather(*(ask(one if i % 2 else two, FIFTY, RAJ) for i in range(12)))
    elapsed = time.monotonic() - started
    granted = [r for r in responses if r.status_code == 200]
    assert {r.status_code for r in responses} == {200, 429}
    assert len(granted) <= BUCKET.maximum_available // 51 + tolerance(51, elapsed)


async def test_a_bucket_drained_through_one_gateway_throttles_the_other(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    one, two = clients
    await granted_until_throttled([one], FIFTY, TESS)
    refused = await ask(two, FIFTY, TESS)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_an_anonymous_client_is_one_bucket_across_gateways_whatever_it_forwards(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """No proxy is trusted (the default): a new X-Forwarded-For per request names no new bucket,
    on either gateway; the client's address does, and it is the same on both."""
    one, two = clients
    forged = [{"X-Forwarded-For": f"203.0.113.{i}"} for i in range(100)]
    granted, cost, _ = await granted_until_throttled([one, two], CATALOGUE, headers=forged)
    assert granted == BUCKET.maximum_available // cost
    assert (await ask(one, CATALOGUE)).status_code == 429
    assert (await ask(two, CATALOGUE, **{"X-Forwarded-For": "198.51.100.7"})).status_code == 429


async def test_a_trusted_proxy_names_the_client_and_cannot_be_bypassed(
    own_database: str, gateways: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Behind a trusted proxy the forwarded address is the client's (its own bucket); a client
    that sends its own X-Forwarded-For through the proxy is named by the address the proxy
    appended, the rightmost one it does not trust, not by what it wrote."""
    logs = tmp_path_factory.mktemp("proxied")
    with serve(own_database, logs, PURCHASEGRAPH_TRUSTED_PROXIES="127.0.0.1") as proxied:
        async with httpx.AsyncClient(base_url=proxied, timeout=30) as client:
            a = [{"X-Forwarded-For": f"192.0.2.{i}, 198.51.100.1"} for i in range(100)]
            granted, cost, _ = await granted_until_throttled([client], CATALOGUE, headers=a)
            assert granted == BUCKET.maximum_available // cost
            other = await ask(client, CATALOGUE, **{"X-Forwarded-For": "198.51.100.2"})
            assert other.status_code == 200


async def active_subscriptions(gateway: str) -> float:
    """The gateway's own count of its open subscriptions, from its /metrics."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(gateway + "/metrics")).text
    samples = [line.split()[-1] for line in text.splitlines() if line.startswith("purchasegraph_subscriptions_active")]
    return float(samples[0]) if samples else 0.0


async def until_subscribed(gateway: str, count: int) -> None:
    """graphql-transport-ws acknowledges no subscribe: wait until the other process counts them."""
    deadline = time.monotonic() + WAIT
    while await active_subscriptions(gateway) < count:
        assert time.monotonic() < deadline, "the subscriptions never started"
        await asyncio.sleep(0.05)


async def test_a_purchase_through_one_gateway_reaches_a_subscriber_of_the_other_and_no_other_tenant(
    gateways: tuple[str, str], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    _, two = gateways
    through_one, _ = clients
    on_two = Served(url=two, state={})
    async with connected(on_two, ALEX) as contoso, connected(on_two, WILL) as woodgrove:
        await contoso.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await woodgrove.subscribe("1", PURCHASE_EVENTS, {"tenant": WOODGROVE})
        await until_subscribed(two, 2)
        subscription_id = await purchased(through_one, PAULA)
        event = event_of(await contoso.receive())
        await woodgrove.silent_for(1.0)
    assert (event["action"], event["subscription"]["id"]) == ("subscription.purchase", subscription_id)
