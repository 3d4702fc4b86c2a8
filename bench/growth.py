"""The growth table: what page 1 and page 100 of Tenant.subscriptions cost as a tenant grows.

    python bench/growth.py [--sizes 2000 20000 200000] [--requests 100] [--page-size 20]

A page should cost the same at any depth and grow no more than logarithmically with
the tenant. This builds (once, in its own embedded PostgreSQL under bench/.data/growth, apart from
the bench world) one tenant per size, generated in SQL with generate_series, and prints how long
that took. Only the first PAGES x page-size subscriptions of each tenant (the pages measured) get
orders and licenses, so the list grows and the graph around the measured pages does not.

It then starts the gateway twice, as shipped and with the resolvers only
(PURCHASEGRAPH_COMPILED_READS=off), and for each tenant, as its global admin over HTTP with one
connection: times page 1 ``--requests`` times, walks to page 100 through the cursors the API
issues (whatever their format), and times page 100 as often. The table gives p50 and p99 per
size, page and path, and which path answered (from /metrics); bench/results/growth.json keeps it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import platform
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import bench_id  # noqa: E402
from bench.paging import Body, cursor_before_page, http_post  # noqa: E402
from bench.run import Contender, bearer, gateway_contender, running  # noqa: E402
from purchasegraph.db.embedded import start_embedded_server  # noqa: E402
from purchasegraph.db.migrate import migrate  # noqa: E402
from purchasegraph.demo.world import seed_demo_world  # noqa: E402

BENCH = ROOT / "bench"
PAGES = 100  # the deep page measured
PURCHASERS = 20
MEMBERS = 500  # users who hold the licenses
ORDERS_EACH = 5
LICENSES_EACH = 5
CONNECTION = ("tenant", "subscriptions")
PATHS = {"compiled": {}, "resolvers": {"PURCHASEGRAPH_COMPILED_READS": "off"}}

# ---------------------------------------------------------------------------------------------
# The tenants, in SQL. Ids are md5 of (tenant, kind, number): the same on every build. $1 is
# always the tenant's id; rows are numbered from 1.

INSERT_TENANT = """
INSERT INTO tenants (id, name, primary_domain, managed, organization_type, country, currency, created_at)
VALUES ($1, $2, $3, true, 'commercial', 'US', 'USD', now() - interval '4 years')
"""
# User 0 is the global admin ($4 is its id, so a token can name it); 1..PURCHASERS buy; the rest
# hold licenses.
INSERT_USERS = """
INSERT INTO users (tenant_id, id, display_name, user_principal_name, created_at)
SELECT $1,
       CASE WHEN i = 0 THEN $4 ELSE md5($1::uuid::text || ':user:' || i)::uuid END,
       CASE WHEN i = 0 THEN 'Growth Admin' ELSE 'User ' || i END,
       'user' || i || '@' || $3,
       now() - interval '4 years'
  FROM generate_series(0, $2::int) AS i
"""
INSERT_ADMIN_ROLE = "INSERT INTO directory_roles (tenant_id, user_id, role) VALUES ($1, $2, 'global_admin')"
# $2 subscriptions, round-robin over the self-service prices of the US, all active (so that the
# admin's list has every one of them, and page 100 exists in the smallest tenant), created 7
# minutes apart over the last years: created_at orders them, ids never need to break a tie.
INSERT_SUBSCRIPTIONS = """
WITH prices AS (
    SELECT row_number() OVER (ORDER BY product_id) - 1 AS k, product_id, unit_price, currency
      FROM product_prices WHERE market = 'US' AND channel = 'self_service'
), anchor AS (SELECT date_trunc('day', now()) AS day)
INSERT INTO subscriptions (tenant_id, id, product_id, channel, purchaser_user_id, controlled_by, quantity, status,
                           term_start, expires_at, auto_renew, billing_frequency, unit_price, currency, created_at)
SELECT $1, md5($1::uuid::text || ':subscription:' || i)::uuid, p.product_id, 'self_service',
       md5($1::uuid::text || ':user:' || (1 + i % $3::int))::uuid, 'purchaser', 10 + i % 40, 'active',
       a.day - interval '10 days', a.day + interval '20 days' + (i % 300) * interval '1 day', true, 'monthly',
       p.unit_price, p.currency,
       a.day - interval '1000 days' + i * interval '7 minutes'
  FROM generate_series(1, $2::int) AS i
  CROSS JOIN anchor a
  JOIN prices p ON p.k = i % (SELECT count(*) FROM prices)
"""
# The first $2 subscriptions (the pages measured) get $3 orders each: a purchase, then one
# license more each time, an hour apart.
INSERT_ORDERS = """
INSERT INTO orders (tenant_id, id, subscription_id, kind, actor_user_id, actor_tenant_id, quantity_delta,
                    quantity_after, unit_price, total, currency, created_at)
SELECT s.tenant_id, md5(s.id::text || ':order:' || k)::uuid, s.id,
       CASE WHEN k = 0 THEN 'purchase' ELSE 'add_licenses' END, s.purchaser_user_id, s.tenant_id,
       CASE WHEN k = 0 THEN s.quantity - ($3::int - 1) ELSE 1 END,
       s.quantity - ($3::int - 1) + k, s.unit_price,
       s.unit_price * CASE WHEN k = 0 THEN s.quantity - ($3::int - 1) ELSE 1 END, s.currency,
       s.created_at + k * interval '1 hour'
  FROM subscriptions s CROSS JOIN generate_series(0, $3::int - 1) AS k
 WHERE s.tenant_id = $1 AND s.id IN (SELECT md5($1::uuid::text || ':subscription:' || i)::uuid
                                       FROM generate_series(1, $2::int) AS i)
"""
# And $3 live licenses each, to distinct members (the users after the purchasers).
INSERT_ASSIGNMENTS = """
INSERT INTO license_assignments (tenant_id, id, subscription_id, user_id, assigned_by, assigned_at)
SELECT $1, md5($1::uuid::text || ':assignment:' || i || ':' || k)::uuid,
       md5($1::uuid::text || ':subscription:' || i)::uuid,
       md5($1::uuid::text || ':user:' || ($4::int + 1 + (i * $3::int + k) % $5::int))::uuid,
       md5($1::uuid::text || ':user:' || (1 + i % $4::int))::uuid,
       date_trunc('day', now()) - interval '1000 days' + i * interval '7 minutes'
           + interval '2 hours' + k * interval '1 minute'
  FROM generate_series(1, $2::int) AS i CROSS JOIN generate_series(0, $3::int - 1) AS k
"""
SELECT_TENANT_EXISTS = "SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)"
ANALYZE = "ANALYZE tenants, users, directory_roles, subscriptions, orders, license_assignments"


@dataclass(frozen=True)
class GrowthTenant:
    size: int
    tenant_id: uuid.UUID
    admin_id: uuid.UUID

    @property
    def domain(self) -> str:
        return f"growth-{self.size}.example"


def growth_tenant(size: int) -> GrowthTenant:
    return GrowthTenant(size, bench_id(f"growth:{size}:tenant"), bench_id(f"growth:{size}:admin"))


async def build(database_url: str, tenants: list[GrowthTenant], page_size: int) -> dict[int, float | None]:
    """Migrate, seed, and add each tenant not there yet; seconds each took (None: it was there)."""
    conn = await asyncpg.connect(database_url)
    took: dict[int, float | None] = {}
    try:
        await migrate(conn)
        await seed_demo_world(conn)
        for tenant in tenants:
            if await conn.fetchval(SELECT_TENANT_EXISTS, tenant.tenant_id):
                took[tenant.size] = None
                continue
            started = time.perf_counter()
            graphed = min(tenant.size, PAGES * page_size)
            async with conn.transaction():
                t = tenant.tenant_id
                await conn.execute(INSERT_TENANT, t, f"Growth {tenant.size:,}", tenant.domain)
                await conn.execute(INSERT_USERS, t, PURCHASERS + MEMBERS, tenant.domain, tenant.admin_id)
                await conn.execute(INSERT_ADMIN_ROLE, t, tenant.admin_id)
                await conn.execute(INSERT_SUBSCRIPTIONS, t, tenant.size, PURCHASERS)
                await conn.execute(INSERT_ORDERS, t, graphed, ORDERS_EACH)
                await conn.execute(INSERT_ASSIGNMENTS, t, graphed, LICENSES_EACH, PURCHASERS, MEMBERS)
            await conn.execute(ANALYZE)
            took[tenant.size] = time.perf_counter() - started
    finally:
        await conn.close()
    return took


# ---------------------------------------------------------------------------------------------
# Measuring


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank: the smallest sample at or above a fraction ``q`` of them."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


READS_LINE = re.compile(r'^purchasegraph_reads_total\{path="(\w+)",reason="([\w-]+)"\} ([0-9.e+]+)$')


async def reads_by_path(client: httpx.AsyncClient, base: str) -> dict[str, float]:
    """The gateway's read counter, path/reason → count (an empty dict if /metrics says nothing)."""
    text = (await client.get(f"{base}/metrics")).text
    found = {}
    for line in text.splitlines():
        if match := READS_LINE.match(line):
            found[f"{match[1]}/{match[2]}"] = float(match[3])
    return found


async def time_page(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: Body, n: int) -> list[float]:
    """Milliseconds of ``n`` requests one after the other, after a few unmeasured ones."""
    post = http_post(client, url, headers)
    for _ in range(min(5, n)):
        await post(body)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await post(body)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def measure(live: Contender, tenants: list[GrowthTenant], args: argparse.Namespace) -> list[dict[str, Any]]:
    query = (BENCH / "workloads" / "growth_page.graphql").read_text()
    rows = []
    base = live.url.removesuffix(live.path)
    async with httpx.AsyncClient() as client:
        for tenant in tenants:
            headers = {"Authorization": bearer(tenant.admin_id, tenant.tenant_id)}
            body: Body = {"query": query, "variables": {"tenantId": str(tenant.tenant_id), "first": args.page_size}}
            walked = time.perf_counter()
            after = await cursor_before_page(http_post(client, live.url, headers), body, CONNECTION, PAGES)
            walked = time.perf_counter() - walked
            for page, cursor in ((1, None), (PAGES, after)):
                paged = {**body, "variables": {**body["variables"], "after": cursor}}
                before = await reads_by_path(client, base)
                samples = await time_page(client, live.url, headers, paged, args.requests)
                after_reads = await reads_by_path(client, base)
                paths = {k: int(v - before.get(k, 0)) for k, v in after_reads.items() if v - before.get(k, 0) > 0}
                row = {
                    "path": live.name,
                    "size": tenant.size,
                    "page": page,
                    "requests": len(samples),
                    "p50_ms": round(percentile(samples, 0.5), 2),
                    "p99_ms": round(percentile(samples, 0.99), 2),
                    "answered_by": paths,
                }
                if page == PAGES:
                    row["walk_s"] = round(walked, 2)
                rows.append(row)
                print(
                    f"{live.name:<10} {tenant.size:>7,} page {page:<3} p50 {row['p50_ms']:7.1f} ms  "
                    f"p99 {row['p99_ms']:7.1f} ms  {paths}",
                    file=sys.stderr,
                )
    return rows


def render(rows: list[dict[str, Any]], sizes: list[int]) -> str:
    """One line per tenant size: p50 / p99 of page 1 and page 100 on each path, and their ratio."""
    cell = {(r["path"], r["size"], r["page"]): r for r in rows}
    header = "| subscriptions |"
    rule = "|---|"
    for path in PATHS:
        header += f" {path} page 1 p50 / p99 ms | {path} page {PAGES} p50 / p99 ms | {path} p{PAGES} / p1 |"
        rule += "---|---|---|"
    lines = [header, rule]
    for size in sizes:
        line = f"| {size:,} |"
        for path in PATHS:
            first, deep = cell.get((path, size, 1)), cell.get((path, size, PAGES))
            if first is None or deep is None:
                line += " - | - | - |"
                continue
            line += f" {first['p50_ms']:.1f} / {first['p99_ms']:.1f} | {deep['p50_ms']:.1f} / {deep['p99_ms']:.1f} |"
            line += f" {deep['p50_ms'] / first['p50_ms']:.2f}x |"
        lines.append(line)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000, 200_000])
    parser.add_argument("--requests", type=int, default=100, help="Timed requests per page (default 100).")
    parser.add_argument("--page-size", type=int, default=20, help="first: N (default 20: page 100 is row 1,981).")
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data" / "growth")
    parser.add_argument("--results", type=Path, default=BENCH / "results" / "growth.json")
    args = parser.parse_args()
    too_small = [size for size in args.sizes if size < PAGES * args.page_size]
    if too_small:
        parser.error(f"sizes {too_small} have no page {PAGES} of {args.page_size}")

    tenants = [growth_tenant(size) for size in args.sizes]
    server = start_embedded_server(args.data_dir)
    try:
        started = time.perf_counter()
        took = asyncio.run(build(server.database_url, tenants, args.page_size))
        generated = time.perf_counter() - started
        for size, seconds in took.items():
            state = "already there" if seconds is None else f"generated in {seconds:.1f} s"
            print(f"tenant of {size:,} subscriptions {state}", file=sys.stderr)
        print(f"set-up (migrate, seed, generate, analyze) {generated:.1f} s", file=sys.stderr)
        rows: list[dict[str, Any]] = []
        for path in args.paths:
            contender = gateway_contender(path, server.database_url, PATHS[path], {}, {}, {})
            with running(contender) as live:
                rows += asyncio.run(measure(live, tenants, args))
    finally:
        server.stop()
    results = {
        "rows": rows,
        "generation_s": {str(size): None if s is None else round(s, 1) for size, s in took.items()},
        "setup_s": round(generated, 1),
        "page_size": args.page_size,
        "deep_page": PAGES,
        "machine": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            # Other work on the same cores moves every figure: the 1, 5 and 15 minute load at the end.
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(render(rows, args.sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
