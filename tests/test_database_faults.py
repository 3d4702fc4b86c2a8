"""The database goes away under load: fast 503s, no stuck requests, recovery, nothing lost.

A PostgreSQL of its own (the session's stays up), the gateway served by uvicorn on loopback,
buyers and readers running while the server is stopped and started again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from purchasegraph.app import create_app
from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.demo.actors import ALEX, CONTOSO, PAULA
from purchasegraph.demo.global_ids import GOOD_CARD
from purchasegraph.payments import Charge, SandboxProcessor
from purchasegraph.schema.ids import decode_uuid
from purchasegraph.settings import ThrottleSettings
from tests.live_server import live_server
from tests.mutations import PURCHASE
from tests.settings import gateway_settings
from tests.test_http import token_for

pytestmark = pytest.mark.live_server

READ = "{ viewer { homeTenant { subscriptions(first: 20) { totalCount nodes { id quantity } } } } }"
ACQUIRE_TIMEOUT = 2.0
# Every request during the outage is answered within this, whatever it was doing.
ANSWER_BOUND = ACQUIRE_TIMEOUT + 2.0


def bearer(upn: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(upn, 'contoso.example')}"}


class Load:
    """Readers and buyers in a loop until stopped; every answer recorded with its time."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.answers: list[tuple[float, int, float, str]] = []  # (started, status, seconds, code)
        self.acknowledged: list[str] = []
        self.running = True

    async def _send(self, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await self.http.post("/graphql", json=body, headers=headers)
        except httpx.TransportError:
            self.answers.append((started, 0, time.monotonic() - started, "TRANSPORT"))
            return None
        errors = response.json().get("errors") or [{}]
        code = (errors[0].get("extensions") or {}).get("code", "") if "errors" in response.json() else ""
        self.answers.append((started, response.status_code, time.monotonic() - started, code))
        return response

    async def reader(self) -> None:
        while self.running:
            await self._send({"query": READ}, bearer(ALEX))
            await asyncio.sleep(0.01)

    async def buyer(self) -> None:
        while self.running:
            variables = {
                "input": {
                    "tenantId": CONTOSO,
                    "productId": POWER_BI_PRO,
                    "quantity": 1,
                    "card": GOOD_CARD,
                    "idempotencyKey": uuid.uuid4().hex,
                }
            }
            response = await self._send({"query": PURCHASE, "variables": variables}, bearer(PAULA))
            if response is not None and response.status_code == 200:
                payload = response.json()["data"]["purchaseSubscription"]
                if payload["subscription"] is not None:
                    self.acknowledged.append(payload["subscription"]["id"])
            await asyncio.sleep(0.02)


async def wait_for(http: httpx.AsyncClient, path: str, status: int, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            if (await http.get(path)).status_code == status:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not answer {status} within {within} s")


async def test_the_gateway_answers_503_while_the_database_is_down_and_recovers(tmp_path: Path) -> None:
    data_dir = tmp_path / "faulty"
    server = await asyncio.to_thread(start_embedded_server, data_dir)
    settings = gateway_settings(
        server.database_url,
        seed_demo=True,
        pool_min_size=2,
        pool_max_size=6,
        sweep_seconds=0,
        acquire_timeout=ACQUIRE_TIMEOUT,
        statement_timeout=5.0,
        throttle=ThrottleSettings(restore_rate=0),
    )
    try:
        with live_server(create_app(settings)) as live:
            async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
                load = Load(http)
                workers = [asyncio.create_task(load.reader()) for _ in range(6)]
                workers += [asyncio.create_task(load.buyer()) for _ in range(2)]
                await asyncio.sleep(1.5)
                acknowledged_before_stop = list(load.acknowledged)

                stopped_at = time.monotonic()
                await asyncio.to_thread(server.stop)
                await wait_for(http, "/readyz", 503, within=5)
                await asyncio.sleep(2.0)
                down_answers = [a for a in load.answers if a[0] > stopped_at + 0.5]

                restart_called_at = time.monotonic()
                server = await asyncio.to_thread(start_embedded_server, data_dir)
                restarted_at = time.monotonic()
                while True:
                    response = await http.post("/graphql", json={"query": READ}, headers=bearer(ALEX))
                    if response.status_code == 200:
                        break
                    assert time.monotonic() - restarted_at < 5, "no success within 5 s of the restart"
                    await asyncio.sleep(0.05)
                recovery = time.monotonic() - restarted_at
                await wait_for(http, "/readyz", 200, within=5)
                await asyncio.sleep(1.0)
                load.running = False
                await asyncio.gather(*workers)
    finally:
        await asyncio.to_thread(server.stop)
        server = await asyncio.to_thread(start_embedded_server, data_dir)

    statuses = sorted({a[1] for a in down_answers})
    print(
        f"\n{len(load.answers)} requests, {len(down_answers)} during the outage (statuses {statuses}), "
        f"slowest outage answer {max(a[2] for a in down_answers):.3f} s, server restart "
        f"{restarted_at - restart_called_at:.3f} s, then first success after {recovery:.3f} s, "
        f"{len(load.acknowledged)} purchases acknowledged"
    )
    assert down_answers, "the load kept running during the outage"
    assert statuses == [503], statuses
    assert {a[3] for a in down_answers} == {"SERVICE_UNAVAILABLE"}
    assert max(a[2] for a in down_answers) < ANSWER_BOUND
    assert all(a[1] in (200, 503) for a in load.answers), sorted({a[1] for a in load.answers})
    assert acknowledged_before_stop, "purchases were acknowledged before the stop"

    conn = await asyncpg.connect(server.database_url)
    try:
        ids = [decode_uuid(i, "Subscription") for i in load.acknowledged]
        found = await conn.fetchval("SELECT count(*) FROM subscriptions WHERE id = ANY($1::uuid[])", ids)
        half_written = await conn.fetchval(
            """
            SELECT count(*) FROM subscriptions s
             WHERE NOT EXISTS (SELECT 1 FROM orders o
                                WHERE o.tenant_id = s.tenant_id AND o.subscription_id = s.id)
            """
        )
    finally:
        await conn.close()
        server.stop()
    assert found == len(ids)  # every acknowledged purchase survived, those before the stop included
    assert half_written == 0


async def test_shutdown_lets_an_in_flight_purchase_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (uvicorn's should_exit) while a purchase is being charged: it completes, then the app stops."""
    charging = asyncio.Event()
    real_charge = SandboxProcessor.charge

    async def slow_charge(
        self: SandboxProcessor, token: str, amount: Decimal, currency: str, *, reference: str
    ) -> Charge:
        charging.set()
        await asyncio.sleep(1.0)
        return await real_charge(self, token, amount, currency, reference=reference)

    monkeypatch.setattr(SandboxProcessor, "charge", slow_charge)
    # A server of its own: the purchase commits, and the session's database must not see it.
    server = await asyncio.to_thread(start_embedded_server, tmp_path / "shutdown")
    database_url = server.database_url
    settings = gateway_settings(database_url, seed_demo=True)
    variables = {
        "input": {
            "tenantId": CONTOSO,
            "productId": POWER_BI_PRO,
            "quantity": 1,
            "card": GOOD_CARD,
            "idempotencyKey": uuid.uuid4().hex,
        }
    }
    with live_server(create_app(settings)) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            in_flight = asyncio.create_task(
                http.post("/graphql", json={"query": PURCHASE, "variables": variables}, headers=bearer(PAULA))
            )
            await asyncio.wait_for(charging.wait(), timeout=10)
            live.server.should_exit = True
            response = await in_flight
            await asyncio.to_thread(live.thread.join, 30)
            assert not live.thread.is_alive()
    assert response.status_code == 200
    subscription = response.json()["data"]["purchaseSubscription"]["subscription"]
    assert subscription is not None
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM subscriptions WHERE id = $1", decode_uuid(subscription["id"], "Subscription")
        )
    finally:
        await conn.close()
        await asyncio.to_thread(server.stop)
    assert stored == 1  # the purchase acknowledged during shutdown was committed (and is not rolled back)
