"""Live purchase events: how long from a committed purchase to the event at a subscriber.

    python bench/event_latency.py [--events 100] [--apps 2] [--subscribers 1] [--in-process]

Starts an embedded PostgreSQL of its own (a temporary folder, seeded with the demo world),
``--apps`` gateway processes on it (uvicorn, each with its own LISTEN connection; with
``--in-process``, threads of this process instead), and ``--subscribers`` admins per app
subscribed to Contoso's ``purchaseEvents`` over graphql-transport-ws, each selecting what a
dashboard would show (the subscription, its purchaser, the product, the actor: reads under the
admin's scope, for every event). A purchaser then buys ``--events`` times over HTTP, one
purchase at a time, and every subscriber records when each event reached it.

Three figures per event and subscriber, all read on this process's clock:

- commit → event: from the moment a bare LISTEN connection of this process hears the
  notification (the commit, plus one hop) to the event at the subscriber: what the gateway adds
  (its listener, the per-event token check and viewer read, the selection's reads, the socket);
- HTTP response → event: from the purchase's response; negative when the event arrives first
  (the purchase commits, then its response is still being built);
- request sent → event: everything, the purchase itself included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from purchasegraph.app import create_app  # noqa: E402
from purchasegraph.db.embedded import start_embedded_server  # noqa: E402
from purchasegraph.demo.actors import demo_tenant_id, demo_user_id  # noqa: E402
from purchasegraph.events.hub import CHANNEL  # noqa: E402
from purchasegraph.identity import mint_token  # noqa: E402
from purchasegraph.schema.ids import decode_uuid  # noqa: E402
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings  # noqa: E402

SECRET = "purchasegraph-event-latency-secret-0123456789"  # noqa: S105 - the benchmark's own throwaway secret
CONTOSO = "contoso.example"
ADMIN = "alex.admin@contoso.example"
PURCHASER = "paula.purchaser@contoso.example"
POWER_BI_PRO = "CFQ7TTC0H9MP"
CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"}
WARM_UP = 5

PURCHASE = """
mutation ($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code message } }
}
"""
# What a dashboard would show of each event: a few reads per event, under the admin's scope.
EVENTS = """
subscription ($tenant: ID!) {
  purchaseEvents(tenantId: $tenant) {
    eventId action occurredAt
    subscription { id quantity status purchaser { displayName } }
    product { name }
    actor { displayName }
  }
}
"""


def token(upn: str) -> str:
    return mint_token(
        secret=SECRET,
        user_id=demo_user_id(upn),
        tenant_id=demo_tenant_id(CONTOSO),
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
    )


def settings_for(database_url: str) -> Settings:
    return Settings(database_url=database_url, jwt_secret=SECRET, seed_demo=True, sweep_seconds=0)


@contextmanager
def serving_in_thread(database_url: str) -> Iterator[str]:
    """One app on a free loopback port, served by uvicorn in a thread, until the block ends."""
    config = uvicorn.Config(
        create_app(settings_for(database_url)), host="127.0.0.1", port=0, lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serving_in_process(database_url: str) -> Iterator[str]:
    """One app in a process of its own (this script with --serve), until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, __file__, "--serve", database_url, str(port)]
    process = subprocess.Popen(command, env=os.environ.copy())  # noqa: S603 - this script, these arguments
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://{host}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app process did not start")
            time.sleep(0.05)
        yield host
    finally:
        process.terminate()
        process.wait(timeout=30)


def serve(database_url: str, port: int) -> None:
    uvicorn.run(create_app(settings_for(database_url)), host="127.0.0.1", port=port, log_level="warning")


class Subscriber:
    """One admin's graphql-transport-ws connection; records each event's arrival by subscription id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.arrivals: dict[str, float] = {}

    async def listen(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message["type"] != "next":
                raise RuntimeError(f"unexpected message: {message}")
            event = message["payload"]["data"]["purchaseEvents"]
            self.arrivals[event["subscription"]["id"]] = time.perf_counter()


@asynccontextmanager
async def subscribed(host: str) -> AsyncIterator[Subscriber]:
    async with connect(f"ws://{host}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token(ADMIN)}"}}))
        if json.loads(await ws.recv())["type"] != "connection_ack":
            raise RuntimeError("the connection was not acknowledged")
        payload = {"query": EVENTS, "variables": {"tenant": str(demo_tenant_id(CONTOSO))}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        subscriber = Subscriber(ws)
        listener = asyncio.create_task(subscriber.listen())
        try:
            yield subscriber
        finally:
            listener.cancel()


async def buy(http: httpx.AsyncClient) -> tuple[str, float, float]:
    """A purchase: the new subscription's id, when it was sent and when its response came."""
    variables = {
        "input": {
            "tenantId": str(demo_tenant_id(CONTOSO)),
            "productId": POWER_BI_PRO,
            "quantity": 1,
            "card": CARD,
            "idempotencyKey": uuid.uuid4().hex,
        }
    }
    sent = time.perf_counter()
    response = await http.post(
        "/graphql",
        json={"query": PURCHASE, "variables": variables},
        headers={"Authorization": f"Bearer {token(PURCHASER)}"},
    )
    answered = time.perf_counter()
    payload: dict[str, Any] = response.json()["data"]["purchaseSubscription"]
    if payload["userErrors"]:
        raise RuntimeError(f"the purchase was refused: {payload['userErrors']}")
    return str(payload["subscription"]["id"]), sent, answered


async def wait_for(subscribers: list[Subscriber], subscription_id: str) -> None:
    deadline = time.perf_counter() + 10.0
    while not all(subscription_id in s.arrivals for s in subscribers):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the event of {subscription_id} did not reach every subscriber")
        await asyncio.sleep(0.0005)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def measure(
    database_url: str, hosts: list[str], events: int, per_app: int, *, buy_through: str | None = None
) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"commit": [], "response": [], "request": []}
    heard: dict[uuid.UUID, float] = {}

    def on_notification(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        notice = json.loads(payload)
        if notice["action"] == "subscription.purchase":
            heard[uuid.UUID(notice["target_id"])] = time.perf_counter()

    listener = await asyncpg.connect(database_url)
    await listener.add_listener(CHANNEL, on_notification)
    try:
        async with httpx.AsyncClient(base_url=f"http://{buy_through or hosts[0]}", timeout=30) as http:
            contexts = [subscribed(host) for host in hosts for _ in range(per_app)]
            subscribers = [await c.__aenter__() for c in contexts]
            try:
                await asyncio.sleep(0.5)  # graphql-transport-ws acknowledges no subscribe: let them start
                for n in range(WARM_UP + events):
                    subscription_id, sent, answered = await buy(http)
                    await wait_for(subscribers, subscription_id)
                    committed = heard[decode_uuid(subscription_id, "Subscription") or uuid.UUID(int=0)]
                    if n < WARM_UP:
                        continue
                    for s in subscribers:
                        arrived = s.arrivals[subscription_id]
                        figures["commit"].append((arrived - committed) * 1000)
                        figures["response"].append((arrived - answered) * 1000)
                        figures["request"].append((arrived - sent) * 1000)
            finally:
                for c in reversed(contexts):
                    await c.__aexit__(None, None, None)
    finally:
        await listener.close()
    return figures


@contextmanager
def more_apps(database_url: str, count: int, *, in_process: bool) -> Iterator[list[str]]:
    """``count`` apps on the same database, started one after another (the first one seeds)."""
    if count <= 0:
        yield []
        return
    serving = serving_in_thread if in_process else serving_in_process
    with serving(database_url) as host, more_apps(database_url, count - 1, in_process=in_process) as rest:
        yield [host, *rest]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--apps", type=int, default=2, help="gateway apps (each its own LISTEN connection)")
    parser.add_argument("--subscribers", type=int, default=1, help="subscribers per app")
    parser.add_argument("--in-process", action="store_true", help="apps as threads of this process")
    parser.add_argument("--serve", nargs=2, metavar=("DATABASE_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    with tempfile.TemporaryDirectory(prefix="purchasegraph-events-") as folder:
        server = start_embedded_server(Path(folder))
        try:
            with more_apps(server.database_url, args.apps, in_process=args.in_process) as hosts:
                figures = asyncio.run(measure(server.database_url, hosts, args.events, args.subscribers))
        finally:
            server.stop()
    where = "threads of one process" if args.in_process else "processes"
    print(
        f"{args.events} purchases; {args.apps} app {where} on one PostgreSQL; {args.subscribers} subscriber(s) "
        f"per app ({len(figures['commit'])} deliveries)"
    )
    labels = {"commit": "commit → event", "response": "HTTP response → event", "request": "request sent → event"}
    for name, label in labels.items():
        values = figures[name]
        print(f"  {label:<24} p50 {percentile(values, 50):7.2f} ms   p95 {percentile(values, 95):7.2f} ms")


if __name__ == "__main__":
    main()
