"""One gateway process against two on one PostgreSQL: throughput, the shared throttle, and events.

    python bench/many_gateways.py [--seconds 5] [--clients 8] [--events 100]

Starts an embedded PostgreSQL of its own (a temporary folder, seeded with the demo world) and
`purchasegraph serve` processes on it, as production runs them. Three measurements:

- throughput: ``--clients`` concurrent loops of one user, each request a small read, against 1
  gateway and then 2 behind a client-side round robin, the bucket too large to matter (the
  default): requests/s. On 2 shared cores the second process competes with the first, the
  database and this client: the figure is the cost of a request, not a speed-up;
- the shared throttle: the same loops against a small bucket (``BUCKET``): accepted requests/s,
  the THROTTLED share, and the points granted beside what one bucket allows in the time
  (its maximum plus its refill): over 2 gateways it must be what it is over 1;
- events: a purchase through gateway A, its event at a subscriber of gateway B (``event_latency``'s
  measurement): p50/p99 from the commit heard on a bare LISTEN connection to the subscriber.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.event_latency import ADMIN, SECRET, measure, percentile, token  # noqa: E402
from purchasegraph.db.embedded import start_embedded_server  # noqa: E402
from purchasegraph.settings import ThrottleSettings  # noqa: E402

# A bucket the loops drain at once, and then live on its refill: 100 points a second.
BUCKET = ThrottleSettings(maximum_available=500, restore_rate=100)
# A small read of the signed-in user (requested cost 3).
READ = "{ viewer { user { displayName } homeTenant { name } } }"
# Distinct users of Contoso, so each measurement starts from a bucket of its own.
READERS = ("mia.martin@contoso.example", "noah.novak@contoso.example", "olivia.ortiz@contoso.example")


@contextmanager
def serve_process(database_url: str, env: Mapping[str, str], log: Path | None = None) -> Iterator[str]:
    """`purchasegraph serve` in a process of its own on ``database_url``, ``env`` on top of this
    process's environment, until the block ends: its base URL once /readyz answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = os.environ | {"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)} | dict(env)
    command = [sys.executable, "-m", "purchasegraph.cli", "serve", "--port", str(port), "--log-level", "warning"]
    with open(log or os.devnull, "ab") as out:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            command, env=environ, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start (see {log or 'its output'})")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def gateway_env(throttle: ThrottleSettings, *, seed: bool, secret: str = SECRET) -> dict[str, str]:
    """A gateway's settings: its token secret, whether it seeds, its bucket, no lifecycle sweep."""
    return {
        "PURCHASEGRAPH_JWT_SECRET": secret,
        "PURCHASEGRAPH_SEED_DEMO": "1" if seed else "0",
        "PURCHASEGRAPH_SWEEP_SECONDS": "0",
        "PURCHASEGRAPH_THROTTLE_MAXIMUM": str(throttle.maximum_available),
        "PURCHASEGRAPH_THROTTLE_RESTORE_RATE": str(throttle.restore_rate),
    }


@contextmanager
def two_gateways(database_url: str, throttle: ThrottleSettings) -> Iterator[list[str]]:
    """Two gateways on one database; the first seeds (a no-op once seeded), the second follows."""
    with ExitStack() as stack:
        first = stack.enter_context(serve_process(database_url, gateway_env(throttle, seed=True)))
        second = stack.enter_context(serve_process(database_url, gateway_env(throttle, seed=False)))
        yield [first, second]


@dataclass
class Load:
    """What ``clients`` loops got from the gateways in ``seconds``."""

    seconds: float
    granted: int
    throttled: int
    points: int

    @property
    def per_second(self) -> float:
        return (self.granted + self.throttled) / self.seconds

    @property
    def granted_per_second(self) -> float:
        return self.granted / self.seconds

    @property
    def throttled_share(self) -> float:
        return self.throttled / max(self.granted + self.throttled, 1)


async def load(urls: list[str], upn: str, clients: int, seconds: float) -> Load:
    """``clients`` loops of one user sending READ, each request to the next gateway in turn."""
    turn = itertools.cycle(range(len(urls)))
    headers = {"Authorization": f"Bearer {token(upn)}"}
    tally = Load(seconds, 0, 0, 0)
    https = [httpx.AsyncClient(base_url=url, timeout=30, headers=headers) for url in urls]

    async def loop(until: float) -> None:
        while time.monotonic() < until:
            response = await https[next(turn)].post("/graphql", json={"query": READ})
            if response.status_code == 429:
                tally.throttled += 1
            elif response.status_code == 200:
                tally.granted += 1
                tally.points += response.json()["extensions"]["cost"]["requestedQueryCost"]
            else:
                raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")

    started = time.monotonic()
    try:
        await asyncio.gather(*(loop(started + seconds) for _ in range(clients)))
    finally:
        for http in https:
            await http.aclose()
    tally.seconds = time.monotonic() - started
    return tally


def show(label: str, result: Load, budget: ThrottleSettings | None = None) -> None:
    line = f"  {label:<22} {result.per_second:8.0f} req/s   granted {result.granted_per_second:7.1f}/s"
    if budget is not None:
        allowed = budget.maximum_available + budget.restore_rate * result.seconds
        line += (
            f"   THROTTLED {result.throttled_share:6.1%}   points granted {result.points}"
            f" of {allowed:.0f} one bucket allows ({result.points / allowed:.1%})"
        )
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8, help="concurrent request loops of one user")
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="purchasegraph-gateways-") as folder:
        server = start_embedded_server(Path(folder))
        try:
            url = server.database_url
            print(f"{args.clients} client loops, {args.seconds:.0f} s each, one user, reads of cost 3")
            with two_gateways(url, ThrottleSettings()) as (a, b):
                show("1 gateway", asyncio.run(load([a], READERS[0], args.clients, args.seconds)))
                show("2 gateways", asyncio.run(load([a, b], READERS[0], args.clients, args.seconds)))
                hosts = [b.removeprefix("http://")]
                figures = asyncio.run(measure(url, hosts, args.events, 1, buy_through=a.removeprefix("http://")))
            print(f"with a bucket of {BUCKET.maximum_available} points restoring {BUCKET.restore_rate}/s:")
            with two_gateways(url, BUCKET) as (a, b):
                show("1 gateway", asyncio.run(load([a], READERS[1], args.clients, args.seconds)), BUCKET)
                show("2 gateways", asyncio.run(load([a, b], READERS[2], args.clients, args.seconds)), BUCKET)
        finally:
            server.stop()
    commit = figures["commit"]
    print(f"events, bought through gateway A, at a subscriber ({ADMIN}) of gateway B, {len(commit)} purchases:")
    print(f"  commit → event          p50 {percentile(commit, 50):7.2f} ms   p99 {percentile(commit, 99):7.2f} ms")


if __name__ == "__main__":
    main()
