"""What row-level security costs a request: the admin's purchase graph with RLS on and off.

    python bench/rls_overhead.py [-n 300] [--warmup 50]

Starts a fresh embedded PostgreSQL in a temporary folder, migrates and seeds it, then runs
Contoso's admin's purchase-graph query the way the gateway does (a RequestExecutor naming the
token's tenant, the viewer read, the query) through two pools of the same server: as the gateway
role, where the policies of migration 0003 apply, and as the owner, which bypasses them. The
two are interleaved, alternating which goes first, so drift in the machine hits both alike.
Times are per whole request, acquire to release. The full benchmark is bench/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from purchasegraph.context import build_context
from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.migrate import migrate
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.demo.actors import demo_tenant_id, demo_user_id
from purchasegraph.demo.world import seed_demo_world
from purchasegraph.identity import Claims
from purchasegraph.principals import load_signed_in_user
from purchasegraph.schema import schema

ADMIN = Claims(user_id=demo_user_id("alex.admin@contoso.example"), tenant_id=demo_tenant_id("contoso.example"))

# The shape tests/test_statement_count.py bounds: a page of subscriptions and, per subscription,
# its product, purchaser, latest orders and licenses with their users.
PURCHASE_GRAPH = """
query PurchaseGraph($id: ID!) {
  tenant(id: $id) {
    name
    subscriptions(first: 50) {
      totalCount
      edges { cursor node {
        id status quantity expiresAt
        product { name }
        purchaser { displayName }
        orders(first: 5) { totalCount nodes { kind quantityDelta total { amount currency } } }
        assignments(first: 25) { totalCount nodes { assignedAt user { displayName } } }
      } }
    }
  }
}
"""


async def request(pool: asyncpg.Pool) -> tuple[float, dict[str, Any], int]:
    """One request as the gateway runs it: (seconds, data, statements)."""
    started = time.perf_counter()
    db = RequestExecutor(pool, tenant_id=ADMIN.tenant_id)
    try:
        viewer = await load_signed_in_user(db, ADMIN)
        context = build_context(viewer=viewer, db=db)
        result = await schema.execute(
            PURCHASE_GRAPH, variable_values={"id": str(ADMIN.tenant_id)}, context_value=context
        )
    finally:
        await db.close()
    elapsed = time.perf_counter() - started
    if result.errors or result.data is None:
        raise RuntimeError(f"the query failed: {result.errors}")
    return elapsed, result.data, db.statements


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"{name:<22} mean {statistics.fmean(ms):7.3f} ms   p50 {statistics.median(ms):7.3f} ms   p95 {p95:7.3f} ms"


async def bench(database_url: str, runs: int, warmup: int) -> None:
    owner = await create_pool(database_url, min_size=1, max_size=2)
    try:
        async with owner.acquire() as conn:
            await migrate(conn)
            await seed_demo_world(conn)
            version = await conn.fetchval("SHOW server_version")
        gateway = await create_pool(database_url, min_size=1, max_size=2, role=GATEWAY_ROLE)
        try:
            pools = {"rls on (gateway role)": gateway, "rls off (owner)": owner}
            _, on_data, statements = await request(gateway)
            _, off_data, _ = await request(owner)
            if on_data != off_data:
                raise RuntimeError("RLS changed the admin's answer")
            edges = on_data["tenant"]["subscriptions"]["edges"]
            for _ in range(warmup):
                for pool in pools.values():
                    await request(pool)
            times: dict[str, list[float]] = {name: [] for name in pools}
            order = list(pools)
            for i in range(runs):
                for name in order if i % 2 == 0 else reversed(order):
                    elapsed, _, _ = await request(pools[name])
                    times[name].append(elapsed)
        finally:
            await gateway.close()
    finally:
        await owner.close()

    on, off = times["rls on (gateway role)"], times["rls off (owner)"]
    print(f"PostgreSQL {version}; {runs} requests each after {warmup} warm-up, interleaved")
    print(
        f"admin's purchase graph: {len(edges)} subscriptions, "
        f"{sum(len(e['node']['assignments']['nodes']) for e in edges)} assignments, "
        f"{statements} statements per request (the viewer's included) + the tenant set-up"
    )
    print(summary("rls on (gateway role)", on))
    print(summary("rls off (owner)", off))
    print(
        f"ratio on/off             mean {statistics.fmean(on) / statistics.fmean(off):.3f}"
        f"          p50 {statistics.median(on) / statistics.median(off):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--runs", type=int, default=300, help="Requests per side (default 300).")
    parser.add_argument("--warmup", type=int, default=50, help="Warm-up requests per side (default 50).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="purchasegraph-bench-") as folder:
        server = start_embedded_server(Path(folder))
        try:
            asyncio.run(bench(server.database_url, args.runs, args.warmup))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
