"""One gateway process against two on one PostgreSQL: throughput, the shared throttle, and events.

    python bench/many_gateways.py [--seconds 5] [--clients 8] [--events 100]

Starts an embedded PostgreSQL of its own (a temporary folder, seeded with the demo world) and
`purchasegraph serve` processes on it, as production runs them. Three measurements:

- throughput: ``--clients`` concurrent loops of one user, each request a small read, against 1
  gateway and then 2 behind a client-side round robin, the bucket too large to matter (the
  default): requests/s, and the CPU time the gateways and the database spent per request (from
  /proc). On 2 shared cores the second process competes with the first, the database and this
  client: the point is the cost of a request, from which more cores can be estimated;
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


@dataclass(frozen=True)
class Served:
    """A `serve` process: where it answers, and its process id (to read its CPU time)."""

    url: str
    pid: int


@contextmanager
def serve_process(database_url: str, env: Mapping[str, str], log: Path | None = None) -> Iterator[Served]:
    """`purchasegraph serve` in a process of its own on ``database_url``, ``env`` on top of this
    process's environment, until the block ends, once /readyz answers."""
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
        yield Served(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time a process has used (user and system), with its reaped children's if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(folder: Path) -> float:
    """CPU time of the embedded server: its postmaster, its live backends and the ones gone."""
    postmaster = int(next(folder.rglob("postmaster.pid")).read_text().split()[0])
    total = cpu_seconds(postmaster, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == postmaster:
                total += cpu_seconds(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


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
def two_gateways(database_url: str, throttle: ThrottleSettings) -> Iterator[list[Served]]:
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
    # CPU seconds the gateways and the database spent meanwhile (``timed``).
    gateway_cpu: float = 0.0
    database_cpu: float = 0.0

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


def timed(gateways: list[Served], database: Path, upn: str, clients: int, seconds: float) -> Load:
    """``load`` over ``gateways``, with the CPU time they and the database spent on it."""
    before = sum(cpu_seconds(g.pid) for g in gateways), database_cpu_seconds(database)
    result = asyncio.run(load([g.url for g in gateways], upn, clients, seconds))
    result.gateway_cpu = sum(cpu_seconds(g.pid) for g in gateways) - before[0]
    result.database_cpu = database_cpu_seconds(database) - before[1]
    return result


def show(label: str, result: Load, budget: ThrottleSettings | None = None) -> None:
    requests = max(result.granted + result.throttled, 1)
    gateway, database = (1000 * cpu / requests for cpu in (result.gateway_cpu, result.database_cpu))
    line = (
        f"  {label:<12} {result.per_second:6.0f} req/s   granted {result.granted_per_second:6.1f}/s"
        f"   CPU per request: gateway {gateway:.2f} ms, database {database:.2f} ms"
    )
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
            data = Path(folder)
            with two_gateways(url, ThrottleSettings()) as (a, b):
                show("1 gateway", timed([a], data, READERS[0], args.clients, args.seconds))
                show("2 gateways", timed([a, b], data, READERS[0], args.clients, args.seconds))
                hosts = [b.url.removeprefix("http://")]
                figures = asyncio.run(measure(url, hosts, args.events, 1, buy_through=a.url.removeprefix("http://")))
            print(f"with a bucket of {BUCKET.maximum_available} points restoring {BUCKET.restore_rate}/s:")
            with two_gateways(url, BUCKET) as (a, b):
                show("1 gateway", timed([a], data, READERS[1], args.clients, args.seconds), BUCKET)
                show("2 gateways", timed([a, b], data, READERS[2], args.clients, args.seconds), BUCKET)
        finally:
            server.stop()
    commit = figures["commit"]
    print(f"events, bought through gateway A, at a subscriber ({ADMIN}) of gateway B, {len(commit)} purchases:")
    print(f"  commit → event          p50 {percentile(commit, 50):7.2f} ms   p99 {percentile(commit, 99):7.2f} ms")


if __name__ == "__main__":
    main()
