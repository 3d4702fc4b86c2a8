"""Reads through one gateway on the primary, then through two over the primary and a hot standby.

    python bench/replicas.py [--seconds 10] [--readers 8] [--writers 1]

Starts an embedded PostgreSQL of its own (a temporary folder, seeded with the demo world), a
streaming hot standby of it (``db/standby.py``), and `purchasegraph serve` processes, as
production runs them. Two set-ups, each for ``--seconds``:

- **primary**: one gateway, no replica: every statement on the primary;
- **primary + replica**: two gateways, each with ``PURCHASEGRAPH_REPLICA_URLS`` naming the standby,
  the readers' requests spread over them in turn.

In both, ``--readers`` loops read the purchase graph (``examples/purchase_graph.graphql``) as
Contoso's admin, while ``--writers`` loops write beside them as a purchaser would: each turns
auto-renew of her subscription over (``setAutoRenew``) and at once reads it back sending the
``X-Read-After`` the mutation answered, counting any read that does not see its own write.
Printed: reads/s with p50/p99, writes/s, the reads that ran on the replica and those that fell
back to the primary (the gateways' ``purchasegraph_read_routes_total``, by reason), the largest
replica lag the gateways reported (sampled from /metrics every 0.25 s), and the stale reads after
a write (must be 0). On 2 shared cores a second gateway and a second PostgreSQL compete for the
same cores as the first: the point is where the reads run and that none is stale, not a speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.event_latency import ADMIN, PURCHASER, percentile, token  # noqa: E402
from bench.many_gateways import Served, cpu_seconds, database_cpu_seconds, gateway_env, serve_process  # noqa: E402
from purchasegraph.db.embedded import start_embedded_server  # noqa: E402
from purchasegraph.db.standby import start_standby  # noqa: E402
from purchasegraph.demo.global_ids import PAULAS_POWER_BI  # noqa: E402
from purchasegraph.settings import ThrottleSettings  # noqa: E402

# Large enough that the throttle never answers: this measures where reads run.
OPEN_BUCKET = ThrottleSettings(maximum_available=10_000_000, restore_rate=10_000_000)
READ = (ROOT / "examples" / "purchase_graph.graphql").read_text()
SET_AUTO_RENEW = """
mutation ($s: ID!, $on: Boolean!) {
  setAutoRenew(subscriptionId: $s, autoRenew: $on) { subscription { autoRenew } userErrors { code } }
}"""
READ_BACK = "query ($s: ID!) { node(id: $s) { ... on Subscription { autoRenew } } }"
ROUTES = re.compile(r"^purchasegraph_read_routes_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)
LAG = re.compile(r"^purchasegraph_replica_lag_seconds\{[^}]*\} (?P<value>\S+)$", re.M)


@dataclass
class Tally:
    seconds: float = 0.0
    read_latencies: list[float] = field(default_factory=list)
    writes: int = 0
    stale_reads: int = 0
    errors: int = 0
    largest_lag: float = 0.0
    routes: dict[tuple[str, str], float] = field(default_factory=dict)
    # CPU seconds spent meanwhile by the gateways, the primary and the standby (``measured``).
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.read_latencies) + 2 * self.writes


async def readers(https: list[httpx.AsyncClient], count: int, until: float, tally: Tally) -> None:
    turn = itertools.cycle(range(len(https)))
    headers = {"Authorization": f"Bearer {token(ADMIN)}"}

    async def loop() -> None:
        while time.monotonic() < until:
            started = time.perf_counter()
            response = await https[next(turn)].post("/graphql", json={"query": READ}, headers=headers)
            if response.status_code != 200 or "errors" in response.json():
                tally.errors += 1
                continue
            tally.read_latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(loop() for _ in range(count)))


async def writers(https: list[httpx.AsyncClient], count: int, until: float, tally: Tally) -> None:
    """Each write is read back through the other gateway when there are two: the header is a WAL
    position, not a gateway's state."""
    headers = {"Authorization": f"Bearer {token(PURCHASER)}"}
    lock = asyncio.Lock()  # one subscription: its writes take turns, so each read-back knows its value
    flip = itertools.count()

    async def loop() -> None:
        while time.monotonic() < until:
            async with lock:
                on = next(flip) % 2 == 0
                variables = {"s": PAULAS_POWER_BI, "on": on}
                written = await https[0].post(
                    "/graphql", json={"query": SET_AUTO_RENEW, "variables": variables}, headers=headers
                )
                body = written.json()
                if written.status_code != 200 or body["data"]["setAutoRenew"]["userErrors"]:
                    tally.errors += 1
                    continue
                tally.writes += 1
                read_after = written.headers.get("x-read-after")
                back = await https[-1].post(
                    "/graphql",
                    json={"query": READ_BACK, "variables": {"s": PAULAS_POWER_BI}},
                    headers=headers | ({"X-Read-After": read_after} if read_after else {}),
                )
                if back.json()["data"]["node"]["autoRenew"] != on:
                    tally.stale_reads += 1

    await asyncio.gather(*(loop() for _ in range(count)))


async def watch_lag(https: list[httpx.AsyncClient], until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        for http in https:
            metrics = (await http.get("/metrics")).text
            for match in LAG.finditer(metrics):
                tally.largest_lag = max(tally.largest_lag, float(match["value"]))
        await asyncio.sleep(0.25)


async def routes(https: list[httpx.AsyncClient]) -> dict[tuple[str, str], float]:
    counted: dict[tuple[str, str], float] = {}
    for http in https:
        for match in ROUTES.finditer((await http.get("/metrics")).text):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            key = (labels.get("target", "?"), labels.get("reason", "?"))
            counted[key] = counted.get(key, 0.0) + float(match["value"])
    return counted


async def drive(urls: list[str], args: argparse.Namespace, cpu: Callable[[], dict[str, float]]) -> Tally:
    tally = Tally()
    https = [httpx.AsyncClient(base_url=url, timeout=30) for url in urls]
    try:
        # Warm up each gateway's caches (parsed documents, verified tokens, pools), then count.
        await readers(https, args.readers, time.monotonic() + 2, Tally())
        before = await routes(https)
        cpu_before = cpu()
        started = time.monotonic()
        until = started + args.seconds
        await asyncio.gather(
            readers(https, args.readers, until, tally),
            writers(https, args.writers, until, tally),
            watch_lag(https, until, tally),
        )
        tally.seconds = time.monotonic() - started
        tally.cpu = {name: spent - cpu_before[name] for name, spent in cpu().items()}
        after = await routes(https)
        tally.routes = {
            key: value - before.get(key, 0.0) for key, value in after.items() if value - before.get(key, 0.0)
        }
    finally:
        for http in https:
            await http.aclose()
    return tally


def measured(gateways: list[Served], databases: dict[str, Path], args: argparse.Namespace) -> Tally:
    """``drive`` over ``gateways``, with the CPU time they and each database server spent on it."""

    def cpu() -> dict[str, float]:
        spent = {"gateways": sum(cpu_seconds(g.pid) for g in gateways)}
        return spent | {name: database_cpu_seconds(folder) for name, folder in databases.items()}

    return asyncio.run(drive([g.url for g in gateways], args, cpu))


def show(label: str, tally: Tally) -> None:
    reads = len(tally.read_latencies)
    on_replica = sum(n for (target, _), n in tally.routes.items() if target == "replica")
    routed = sum(tally.routes.values())
    print(f"\n{label}")
    print(
        f"  reads/s {reads / tally.seconds:.1f}  p50 {percentile(tally.read_latencies, 50) * 1000:.1f} ms"
        f"  p99 {percentile(tally.read_latencies, 99) * 1000:.1f} ms"
    )
    print(f"  writes/s {tally.writes / tally.seconds:.1f}  stale reads after a write {tally.stale_reads}")
    print(f"  errors {tally.errors}  largest replica lag reported {tally.largest_lag * 1000:.0f} ms")
    per_request = ", ".join(
        f"{name} {spent / max(tally.requests, 1) * 1000:.2f} ms" for name, spent in tally.cpu.items()
    )
    print(f"  CPU per request (reads and writes, after the warm-up): {per_request}")
    if not tally.routes:
        print("  every read on the primary (no replica configured)")
        return
    print(f"  reads on a replica {on_replica:.0f} of {routed:.0f} ({on_replica / routed:.1%})")
    for (target, reason), n in sorted(tally.routes.items()):
        print(f"    {target:8} {reason:18} {n:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--writers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="purchasegraph-replicas-") as folder, ExitStack() as stack:
        primary = start_embedded_server(Path(folder) / "primary")
        stack.callback(primary.stop)
        env = gateway_env(OPEN_BUCKET, seed=True)
        databases = {"primary": Path(folder) / "primary"}
        with serve_process(primary.database_url, env) as alone:
            # The first gateway seeded the demo world: the standby is taken from that.
            show("primary: 1 gateway, no replica", measured([alone], databases, args))
        standby = start_standby(primary, Path(folder) / "standby")
        stack.callback(standby.stop)
        replicated = env | {"PURCHASEGRAPH_REPLICA_URLS": standby.database_url}
        first = stack.enter_context(serve_process(primary.database_url, replicated))
        second = stack.enter_context(serve_process(primary.database_url, replicated))
        databases["standby"] = Path(folder) / "standby"
        show("primary + replica: 2 gateways", measured([first, second], databases, args))


if __name__ == "__main__":
    main()
