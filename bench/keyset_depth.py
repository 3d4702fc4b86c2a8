"""Page 1 against page 50 of a long list, on both read paths: keyset pages cost the same at any depth.

    python bench/keyset_depth.py [--subscriptions 20000] [-n 200] [--warmup 30]

Starts a fresh embedded PostgreSQL in a temporary folder, migrates and seeds it, gives Contoso
``--subscriptions`` more (central ones, generated in SQL), then reads Contoso's subscriptions 20
at a time as its admin, as the gateway does (a RequestExecutor naming the tenant, the viewer read,
the query): page 1, and page 50 through the cursor of row 980, through the resolvers and through
the compiled path. The four are interleaved, so drift in the machine hits them alike. Times are
per whole request, acquire to release.
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
from graphql import OperationDefinitionNode, parse

from purchasegraph.compiled import run_compiled
from purchasegraph.context import build_context
from purchasegraph.db import ordering as sortables
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

PAGE = """
query Page($id: ID!, $after: String) {
  tenant(id: $id) {
    subscriptions(first: 20, after: $after) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id status quantity createdAt product { name } } }
    }
  }
}
"""
DOCUMENT = parse(PAGE)
[OPERATION] = [d for d in DOCUMENT.definitions if isinstance(d, OperationDefinitionNode)]

GENERATE = """
INSERT INTO subscriptions (tenant_id, id, product_id, channel, purchaser_user_id, controlled_by, quantity,
                           status, term_start, expires_at, unit_price, currency, created_at)
SELECT $1, gen_random_uuid(), (SELECT id FROM products ORDER BY id LIMIT 1), 'central', NULL, 'admins', 5,
       'active', app_now() - interval '30 days', app_now() + interval '335 days', 10.00, 'USD',
       app_now() - interval '400 days' + n * interval '1 second'
  FROM generate_series(1, $2) AS n
"""


async def request(pool: asyncpg.Pool, path: str, after: str | None) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    db = RequestExecutor(pool, tenant_id=ADMIN.tenant_id)
    variables = {"id": str(ADMIN.tenant_id), "after": after}
    try:
        viewer = await load_signed_in_user(db, ADMIN)
        context = build_context(viewer=viewer, db=db)
        if path == "compiled":
            compiled = await run_compiled(schema._schema, DOCUMENT, OPERATION, variables, context)
            if compiled is None:
                raise RuntimeError("the page did not compile")
            data = compiled.data
        else:
            result = await schema.execute(PAGE, variable_values=variables, context_value=context)
            if result.errors or result.data is None:
                raise RuntimeError(f"the query failed: {result.errors}")
            data = result.data
    finally:
        await db.close()
    return time.perf_counter() - started, data


async def bench(database_url: str, subscriptions: int, runs: int, warmup: int) -> None:
    owner = await create_pool(database_url, min_size=1, max_size=2)
    try:
        async with owner.acquire() as conn:
            await migrate(conn)
            await seed_demo_world(conn)
            started = time.perf_counter()
            await conn.execute(GENERATE, ADMIN.tenant_id, subscriptions)
            await conn.execute("ANALYZE")
            generated = time.perf_counter() - started
            total = await conn.fetchval("SELECT count(*) FROM subscriptions WHERE tenant_id = $1", ADMIN.tenant_id)
            ordering = sortables.SUBSCRIPTION.ordering(None)
            after = await conn.fetchval(
                f"SELECT {sortables.cursor_sql(ordering, 's')} FROM subscriptions s WHERE s.tenant_id = $1"
                f" ORDER BY {ordering.order_by('s')} OFFSET 979 LIMIT 1",
                ADMIN.tenant_id,
            )
            version = await conn.fetchval("SHOW server_version")
        gateway = await create_pool(database_url, min_size=1, max_size=2, role=GATEWAY_ROLE)
        try:
            cases = {
                f"{path:<9} page {page:>2}": (path, None if page == 1 else after)
                for path in ("resolvers", "compiled")
                for page in (1, 50)
            }
            answers = {name: (await request(gateway, *case))[1] for name, case in cases.items()}
            for page in (1, 50):
                if answers[f"resolvers page {page:>2}"] != answers[f"compiled  page {page:>2}"]:
                    raise RuntimeError(f"the paths disagree on page {page}")
            for _ in range(warmup):
                for case in cases.values():
                    await request(gateway, *case)
            times: dict[str, list[float]] = {name: [] for name in cases}
            order = list(cases)
            for i in range(runs):
                for name in order if i % 2 == 0 else reversed(order):
                    times[name].append((await request(gateway, *cases[name]))[0])
        finally:
            await gateway.close()
    finally:
        await owner.close()
    print(f"PostgreSQL {version}; Contoso with {total} subscriptions ({subscriptions} generated in {generated:.1f} s)")
    print(f"{runs} requests each after {warmup} warm-up, interleaved; 20 per page, page 50 = rows 981-1000")
    for name, seconds in times.items():
        ms = sorted(s * 1000 for s in seconds)
        p95 = ms[int(len(ms) * 0.95) - 1]
        print(f"{name}   mean {statistics.fmean(ms):7.3f} ms   p50 {statistics.median(ms):7.3f} ms   p95 {p95:7.3f} ms")
    for path in ("resolvers", "compiled"):
        deep, shallow = times[f"{path:<9} page 50"], times[f"{path:<9} page  1"]
        print(f"{path}: page 50 / page 1 p50 {statistics.median(deep) / statistics.median(shallow):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscriptions", type=int, default=20_000, help="Generated for Contoso (default 20000).")
    parser.add_argument("-n", "--runs", type=int, default=200, help="Requests per case (default 200).")
    parser.add_argument("--warmup", type=int, default=30, help="Warm-up requests per case (default 30).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="purchasegraph-bench-") as folder:
        server = start_embedded_server(Path(folder))
        try:
            asyncio.run(bench(server.database_url, args.subscriptions, args.runs, args.warmup))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
