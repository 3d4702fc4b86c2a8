"""What a read request pays PostgreSQL before and after its read: sign-in, throttle, release.

    python bench/request_cost.py [-n 500] [--warmup 100]

Starts a fresh embedded PostgreSQL in a temporary folder, migrates and seeds it, then times, as
the gateway role, interleaved so drift in the machine hits every option alike:

- the throttle's options alone: the logged upsert with a synchronous commit every read made
  before migration 0014; the same upsert on the UNLOGGED table with ``synchronous_commit = off``
  (``throttle_take``); an in-process bucket (a dict and some arithmetic, the price of a design
  that reconciles with PostgreSQL in the background); and what the take adds to the sign-in
  statement it now rides in (``sign_in_user`` taking, against the same statement taking nothing);
- a request's whole overhead around its read, acquire to release: before (tenant set-up, viewer,
  logged take, RESET on release: four round trips) and after (``sign_in_user``, RESET: two);
- the same two with 8 clients of one principal at once (their takes queue on one bucket row).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.migrate import migrate
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.demo.actors import demo_tenant_id, demo_user_id
from purchasegraph.demo.world import seed_demo_world
from purchasegraph.gateway.authentication import SIGN_IN_USER
from purchasegraph.gateway.throttle import TAKE, user_principal
from purchasegraph.identity import Claims
from purchasegraph.principals import load_signed_in_user

ADMIN = Claims(user_id=demo_user_id("alex.admin@contoso.example"), tenant_id=demo_tenant_id("contoso.example"))
PRINCIPAL = user_principal(ADMIN.tenant_id, ADMIN.user_id)
# A bucket no bench run empties: (maximum, cost, restore rate).
TERMS = (1e12, 51.0, 1e9)

# The table and statement every read wrote before migration 0014 (logged, committed synchronously).
LOGGED_TABLE = """
CREATE TABLE IF NOT EXISTS bench_logged_buckets (
    principal text PRIMARY KEY, available double precision NOT NULL, granted boolean NOT NULL,
    updated_at timestamptz NOT NULL);
GRANT SELECT, INSERT, UPDATE ON bench_logged_buckets TO purchasegraph_gateway;
"""
LOGGED_TAKE = """
INSERT INTO bench_logged_buckets AS b (principal, available, granted, updated_at)
VALUES ($1, CASE WHEN $3::float8 <= $2::float8 THEN $2::float8 - $3::float8 ELSE $2::float8 END,
        $3::float8 <= $2::float8, clock_timestamp())
ON CONFLICT (principal) DO UPDATE SET
    available = CASE
        WHEN LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
             >= $3::float8
        THEN LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
             - $3::float8
        ELSE LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
    END,
    granted = LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
              >= $3::float8,
    updated_at = clock_timestamp()
RETURNING available, granted
"""


class LocalBucket:
    """The in-process option's hot path: refill by elapsed time, take if it fits."""

    def __init__(self, maximum: float, rate: float) -> None:
        self.maximum, self.rate = maximum, rate
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, principal: str, cost: float) -> bool:
        now = time.monotonic()
        available, at = self.buckets.get(principal, (self.maximum, now))
        available = min(self.maximum, available + self.rate * (now - at))
        granted = available >= cost
        self.buckets[principal] = (available - cost if granted else available, now)
        return granted


Step = Callable[[], Awaitable[object]]


async def timed(step: Step) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


async def interleaved(steps: dict[str, Step], runs: int, warmup: int) -> dict[str, list[float]]:
    for _ in range(warmup):
        for step in steps.values():
            await step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    order = list(steps)
    for i in range(runs):
        for name in order if i % 2 == 0 else reversed(order):
            times[name].append(await timed(steps[name]))
    return times


async def concurrent(step: Step, clients: int, seconds: float) -> tuple[float, float]:
    """(requests per second, p50 ms) of ``clients`` running ``step`` back to back."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            latencies.append(await timed(step))

    await asyncio.gather(*(client() for _ in range(clients)))
    return len(latencies) / seconds, statistics.median(latencies) * 1000


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[math.ceil(len(ms) * 0.95) - 1]
    return f"  {name:<44} mean {statistics.fmean(ms):7.3f} ms  p50 {statistics.median(ms):7.3f} ms  p95 {p95:7.3f} ms"


async def bench(database_url: str, runs: int, warmup: int, seconds: float) -> None:
    owner = await create_pool(database_url, min_size=1, max_size=2)
    try:
        async with owner.acquire() as conn:
            await migrate(conn)
            await seed_demo_world(conn)
            await conn.execute(LOGGED_TABLE)
            settings = await conn.fetchrow(
                "SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,"
                " current_setting('synchronous_commit') AS sync"
            )
        gateway = await create_pool(database_url, min_size=8, max_size=8, role=GATEWAY_ROLE)
        try:
            await report(gateway, runs, warmup, seconds, settings)
        finally:
            await gateway.close()
    finally:
        await owner.close()


async def report(
    gateway: asyncpg.Pool, runs: int, warmup: int, seconds: float, settings: asyncpg.Record | None
) -> None:
    local = LocalBucket(TERMS[0], TERMS[2])
    taking, not_taking = (*TERMS[:2], TERMS[2]), (*TERMS[:2], 0.0)

    async def with_connection(sql: str, *args: object) -> None:
        async with gateway.acquire() as conn:
            await conn.fetchrow(sql, *args)

    async def in_process() -> None:
        local.take(PRINCIPAL, TERMS[1])

    async def before() -> None:
        db = RequestExecutor(gateway, tenant_id=ADMIN.tenant_id)
        try:
            await load_signed_in_user(db, ADMIN)
            await db.fetchrow(LOGGED_TAKE, PRINCIPAL, *TERMS)
        finally:
            await db.close()

    async def after() -> None:
        db = RequestExecutor(gateway, tenant_id=ADMIN.tenant_id)
        try:
            await db.open(SIGN_IN_USER, ADMIN.user_id, PRINCIPAL, *TERMS)
        finally:
            await db.close()

    tenant = str(ADMIN.tenant_id)
    throttle = await interleaved(
        {
            "logged upsert, synchronous commit (before)": lambda: with_connection(LOGGED_TAKE, PRINCIPAL, *TERMS),
            "unlogged throttle_take (no WAL, no flush)": lambda: with_connection(TAKE, PRINCIPAL, *TERMS),
            "in-process bucket (no SQL)": in_process,
            "sign_in_user, taking": lambda: with_connection(SIGN_IN_USER, tenant, ADMIN.user_id, PRINCIPAL, *taking),
            "sign_in_user, taking nothing": lambda: with_connection(
                SIGN_IN_USER, tenant, ADMIN.user_id, PRINCIPAL, *not_taking
            ),
        },
        runs,
        warmup,
    )
    overhead = await interleaved({"before: 4 round trips": before, "after: 2 round trips": after}, runs, warmup)
    assert settings is not None
    print(
        f"PostgreSQL {settings['version']} (fsync {settings['fsync']}, synchronous_commit {settings['sync']}); "
        f"{runs} runs each after {warmup} warm-up, interleaved; times include acquire and release"
    )
    print("The throttle's options, one take each (the statements alone include a RESET on release):")
    for name, times in throttle.items():
        print(summary(name, times))
    added = statistics.fmean(throttle["sign_in_user, taking"]) - statistics.fmean(
        throttle["sign_in_user, taking nothing"]
    )
    print(f"  what the take adds to the sign-in statement: {added * 1000:.3f} ms (mean)")
    print("A read request's overhead around its read (acquire to release):")
    for name, times in overhead.items():
        print(summary(name, times))
    print(f"8 clients of one principal for {seconds:.0f} s each (one bucket row):")
    for name, step in (("before", before), ("after", after)):
        rate, p50 = await concurrent(step, 8, seconds)
        print(f"  {name:<44} {rate:8.0f} req/s  p50 {p50:7.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--runs", type=int, default=500, help="Runs per option (default 500).")
    parser.add_argument("--warmup", type=int, default=100, help="Warm-up runs per option (default 100).")
    parser.add_argument("--seconds", type=float, default=3.0, help="Seconds per concurrent run (default 3).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="purchasegraph-bench-") as folder:
        server = start_embedded_server(Path(folder))
        try:
            asyncio.run(bench(server.database_url, args.runs, args.warmup, args.seconds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
