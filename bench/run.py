"""The benchmark: purchasegraph beside the SQL floor, itself without DataLoaders, and PostGraphile.

    python bench/run.py [--duration 10] [--warmup 2] [--concurrency 1 8 32] [--only purchasegraph floor]
                        [--workloads relay_page2 admin_list read_mix]

Builds (once, then reuses) a large tenant in an embedded PostgreSQL under bench/.data, starts
each contender as its own server process on loopback, drives every workload with wrk (closed
loop: each connection sends its next request when the last one is answered) after a warm-up,
and prints one table with the ratio of each contender to purchasegraph; bench/results/latest.json
holds every figure. A run in which any response is non-2xx or carries GraphQL errors reports
them in the table instead of hiding them.

Workloads that read a page beyond the first (5 and 6) are set up against the live server: the
runner asks for the pages before through the API, as a client would, and measures the page the
last cursor opens (bench/paging.py). A workload the build's schema cannot express is skipped,
with the reason in the table and in latest.json, rather than measured as a stream of errors.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import BenchWorld, bench_id, build_bench_world  # noqa: E402
from bench.paging import Body, Post, cursor_before_page, http_post  # noqa: E402
from purchasegraph.db.embedded import start_embedded_server  # noqa: E402
from purchasegraph.identity import mint_token  # noqa: E402
from purchasegraph.schema.ids import encode_id  # noqa: E402
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER  # noqa: E402

BENCH = ROOT / "bench"
SECRET = "purchasegraph-benchmark-secret-0123456789abcdef"  # noqa: S105 - a benchmark's own throwaway secret
# Contenders: purchasegraph as shipped; "resolvers" without the compiled read path (what
# compiling buys); "naive" without DataLoaders either (what batching buys); the SQL floor; and
# PostGraphile 5 where Node.js is installed.
WORKLOADS = {
    "viewer": "1 viewer + eligibility (admin)",
    "admin_graph": "2 purchase graph (admin)",
    "purchaser_graph": "3 purchase graph (purchaser)",
    "write_mix": "4 assign/unassign (purchaser)",
    "relay_page2": "5 Relay purchase graph, page 2 (admin)",
    "admin_list": "6 filtered, sorted list, page 3 (admin)",
    "read_mix": "7 README read mix (admin)",
}
# Workload 6's filter: a product Northwind has over 150 ACTIVE subscriptions of (Power BI Pro),
# so that page 3 of 50 is a full page.
LIST_PRODUCT = "CFQ7TTC0H9MP"
FLOOR_SAME_SHAPE = ("admin_graph", "purchaser_graph")
# Workload 6's document: the admin's filtered list, newest first.
ADMIN_LIST = BENCH / "workloads" / "admin_list.graphql"
PAGE_SIZE = 50
# Workload 7: the README's example queries (examples/, each run against the demo world by a test)
# and its refetch by global ID, one after the other, each request the next of the set.
README_EXAMPLES = ("viewer", "purchase_graph", "tenant_activity", "catalogue")


class Skipped(Exception):
    """A workload this build cannot run as described; the message says why."""


# Builds a workload's request bodies once its server is up, through ``Post`` (cursors come from
# the server that will be measured).
Setup = Callable[[Post], Awaitable[list[Body]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers, node), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


@dataclass
class Contender:
    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    path: str
    workloads: dict[str, list[dict[str, Any]]]  # workload → request bodies
    authorization: dict[str, str] = field(default_factory=dict)  # workload → header value
    setups: dict[str, Setup] = field(default_factory=dict)  # workload → its bodies, built live
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


@contextmanager
def running(contender: Contender) -> Iterator[Contender]:
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{contender.name}-", suffix=".log", delete=False)  # noqa: SIM115
    contender.process = subprocess.Popen(  # noqa: S603
        contender.command,
        env={**os.environ, **contender.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if contender.process.poll() is not None:
                raise RuntimeError(f"{contender.name} exited: see {log.name}")
            try:
                with socket.create_connection(("127.0.0.1", contender.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{contender.name} did not start: see {log.name}") from None
                time.sleep(0.1)
        yield contender
    finally:
        os.killpg(contender.process.pid, signal.SIGTERM)
        try:
            contender.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(contender.process.pid, signal.SIGKILL)
        log.close()


def wrk(url: str, bodies: list[dict[str, Any]], authorization: str, connections: int, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(json.dumps(b, separators=(",", ":")) for b in bodies) + "\n")
    threads = min(2, connections)
    out = subprocess.run(  # noqa: S603
        [
            shutil.which("wrk") or "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(BENCH / "load.lua"),
            url,
            "--",
            f.name,
            authorization,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    Path(f.name).unlink()
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    result: dict[str, Any] = json.loads(line)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def schema_accepts(type_name: str, field_name: str, argument: str) -> bool:
    """Whether this build's schema has ``type_name.field_name(argument:)``: asked of the schema
    in-process, since a production gateway answers no introspection."""
    from graphql import GraphQLObjectType, build_schema

    from purchasegraph.schema import schema

    found = build_schema(schema.as_str()).get_type(type_name)
    return (
        isinstance(found, GraphQLObjectType)
        and field_name in found.fields
        and argument in found.fields[field_name].args
    )


def paged(body: Body, connection: tuple[str, ...], page: int) -> Setup:
    """``body`` on page ``page`` of ``connection``, through the cursor the server gives page - 1."""

    async def setup(post: Post) -> list[Body]:
        after = await cursor_before_page(post, body, connection, page)
        return [{**body, "variables": {**body.get("variables", {}), "after": after}}]

    return setup


def skipped(reason: str) -> Setup:
    async def setup(post: Post) -> list[Body]:
        raise Skipped(reason)

    return setup


def floor_page(database_url: str, tenant_id: uuid.UUID, page: int) -> Setup:
    """The floor's body for page ``page``: it has no GraphQL cursors, so the set-up reads the
    sort key of the row before the page (created_at, id) from the database, a keyset page."""

    async def setup(post: Post) -> list[Body]:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            key = await conn.fetchrow(FLOOR_PAGE_KEY, tenant_id, (page - 1) * PAGE_SIZE - 1)
        finally:
            await conn.close()
        after = {"afterCreatedAt": key["created_at"].isoformat(), "afterId": str(key["id"])}
        return [{"tenantId": str(tenant_id), "purchaserId": None, **after}]

    return setup


# The admin's order (created_at, id); $2 rows skipped.
FLOOR_PAGE_KEY = """
SELECT created_at, id FROM subscriptions WHERE tenant_id = $1 ORDER BY created_at, id OFFSET $2 LIMIT 1
"""


def gateway_contender(
    name: str,
    database_url: str,
    env: dict[str, str],
    workloads: dict[str, list[Body]],
    authorization: dict[str, str],
    setups: dict[str, Setup],
) -> Contender:
    """purchasegraph itself, as `purchasegraph serve` runs it in production, with ``env`` switching
    some paths off."""
    port = free_port()
    command = [sys.executable, "-m", "purchasegraph.cli", "serve", "--port", str(port), "--log-level", "warning"]
    gateway_env = {
        "DATABASE_URL": database_url,
        "PURCHASEGRAPH_JWT_SECRET": SECRET,
        "PURCHASEGRAPH_SWEEP_SECONDS": "0",
        "PURCHASEGRAPH_ENV": "production",
        # One principal at 32 connections would be throttled, as designed; the bucket is made
        # big enough never to refuse, so its statement still runs on every request.
        "PURCHASEGRAPH_THROTTLE_MAXIMUM": "1000000000",
        "PURCHASEGRAPH_THROTTLE_RESTORE_RATE": "1000000000",
    }
    return Contender(name, command, {**gateway_env, **env}, port, "/graphql", workloads, authorization, setups)


def bearer(user_id: uuid.UUID, tenant_id: uuid.UUID) -> str:
    """An Authorization header for a day, signed with the bench's secret."""
    return "Bearer " + mint_token(
        secret=SECRET,
        user_id=user_id,
        tenant_id=tenant_id,
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
        ttl_seconds=24 * 3600,
    )


def contenders(world: BenchWorld, selected: set[str]) -> list[Contender]:
    admin = bearer(world.admin_user_id, world.tenant_id)
    purchaser = bearer(world.purchaser_user_id, world.tenant_id)
    graph = (BENCH / "workloads" / "purchase_graph.graphql").read_text()
    tenant = {"tenantId": str(world.tenant_id)}
    subscription = encode_id("Subscription", world.write_subscription_id, world.tenant_id)
    write_bodies: list[dict[str, Any]] = []
    for user_id in world.write_user_ids:
        variables = {"subscriptionId": subscription, "userId": encode_id("User", user_id, world.tenant_id)}
        for name in ("assign", "unassign"):
            write_bodies.append(
                {"query": (BENCH / "workloads" / f"{name}.graphql").read_text(), "variables": variables}
            )
    read_mix: list[dict[str, Any]] = [
        {"query": (ROOT / "examples" / f"{name}.graphql").read_text()} for name in README_EXAMPLES
    ]
    read_mix[README_EXAMPLES.index("tenant_activity")]["variables"] = {"tenant": str(world.tenant_id)}
    refetched = encode_id("Subscription", bench_id("subscription:1"), world.tenant_id)
    read_mix.append({"query": (BENCH / "workloads" / "refetch.graphql").read_text(), "variables": {"id": refetched}})
    gateway_workloads: dict[str, list[dict[str, Any]]] = {
        "viewer": [{"query": (BENCH / "workloads" / "viewer.graphql").read_text()}],
        "admin_graph": [{"query": graph, "variables": tenant}],
        "purchaser_graph": [{"query": graph, "variables": tenant}],
        "write_mix": write_bodies,
        "read_mix": read_mix,
    }
    relay = {
        "query": (BENCH / "workloads" / "purchase_graph_relay.graphql").read_text(),
        "variables": {**tenant, "first": PAGE_SIZE},
    }
    listing = {
        "query": ADMIN_LIST.read_text(),
        "variables": {**tenant, "productId": LIST_PRODUCT, "first": PAGE_SIZE},
    }
    gateway_setups: dict[str, Setup] = {
        "relay_page2": paged(relay, ("tenant", "subscriptions"), 2),
        "admin_list": paged(listing, ("tenant", "subscriptions"), 3)
        if schema_accepts("Tenant", "subscriptions", "orderBy")
        else skipped("Tenant.subscriptions takes no orderBy in this build"),
    }
    gateway_auth = {
        "viewer": admin,
        "admin_graph": admin,
        "purchaser_graph": purchaser,
        "write_mix": purchaser,
        "relay_page2": admin,
        "admin_list": admin,
        "read_mix": admin,
    }

    def gateway(name: str, **env: str) -> Contender:
        return gateway_contender(name, world.database_url, env, gateway_workloads, gateway_auth, gateway_setups)

    all_contenders = [
        gateway("purchasegraph"),
        gateway("resolvers", PURCHASEGRAPH_COMPILED_READS="off"),
        gateway("naive", PURCHASEGRAPH_DATALOADERS="off", PURCHASEGRAPH_COMPILED_READS="off"),
    ]
    port = free_port()
    all_contenders.append(
        Contender(
            "floor",
            [sys.executable, str(BENCH / "floor.py"), "--database-url", world.database_url, "--port", str(port)],
            {},
            port,
            "/graph",
            {
                "admin_graph": [{"tenantId": str(world.tenant_id), "purchaserId": None}],
                "purchaser_graph": [{"tenantId": str(world.tenant_id), "purchaserId": str(world.purchaser_user_id)}],
            },
            # Workload 2's statement on page 2 (a keyset page: the floor is the limit).
            setups={"relay_page2": floor_page(world.database_url, world.tenant_id, 2)},
        )
    )
    postgraphile = BENCH / "postgraphile"
    if shutil.which("node") and (postgraphile / "server.mjs").exists():
        port = free_port()
        variables = {"tenantId": str(world.tenant_id), "purchaserId": str(world.purchaser_user_id)}
        pg_relay = {
            "query": (postgraphile / "admin_graph_relay.graphql").read_text(),
            "variables": {"tenantId": str(world.tenant_id), "first": PAGE_SIZE},
        }
        pg_listing = {
            "query": (postgraphile / "admin_list.graphql").read_text(),
            "variables": {"tenantId": str(world.tenant_id), "productId": LIST_PRODUCT, "first": PAGE_SIZE},
        }
        pg_connection = ("tenantByRowId", "subscriptionsByTenantId")
        all_contenders.append(
            Contender(
                "postgraphile",
                ["node", "-r", str(postgraphile / "polyfill.cjs"), str(postgraphile / "server.mjs")],
                {"DATABASE_URL": world.database_url, "PORT": str(port), "NODE_ENV": "production"},
                port,
                "/graphql",
                {
                    "admin_graph": [
                        {"query": (postgraphile / "admin_graph.graphql").read_text(), "variables": variables}
                    ],
                    "purchaser_graph": [
                        {"query": (postgraphile / "purchaser_graph.graphql").read_text(), "variables": variables}
                    ],
                },
                setups={
                    "relay_page2": paged(pg_relay, pg_connection, 2),
                    "admin_list": paged(pg_listing, pg_connection, 3),
                },
            )
        )
    return [c for c in all_contenders if not selected or c.name in selected]


def ensure_postgraphile_installed() -> bool:
    folder = BENCH / "postgraphile"
    if not shutil.which("npm") or not (folder / "package-lock.json").exists():
        return False
    if not (folder / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, check=True)  # noqa: S607
    return True


async def statements_per_request(world: BenchWorld, contender: Contender) -> dict[str, int]:
    """Statements each workload runs, read from the gateway's own per-request log line."""
    from asgi_lifespan import LifespanManager

    from purchasegraph.app import create_app
    from purchasegraph.settings import settings_from_env

    counts: dict[str, int] = {}
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("purchasegraph.request")
    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    settings = settings_from_env({**os.environ, **contender.env})
    try:
        async with LifespanManager(create_app(settings)) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                for workload in {**contender.workloads, **contender.setups}:
                    headers = {"Authorization": contender.authorization.get(workload, "")}
                    try:
                        bodies = await workload_bodies(contender, workload, http_post(http, "/graphql", headers))
                    except Skipped:
                        continue
                    # A set of reads (workload 7) reports its costliest request.
                    each = []
                    for body in bodies if workload != "write_mix" else bodies[:1]:
                        records.clear()
                        await http.post("/graphql", json=body, headers=headers)
                        each.append(records[-1].__dict__["statements"])
                    counts[workload] = max(each)
                    if workload == "write_mix":  # put the license back
                        await http.post("/graphql", json=bodies[1], headers=headers)
    finally:
        logger.removeHandler(handler)
    return counts


async def workload_bodies(contender: Contender, workload: str, post: Post) -> list[Body]:
    """The request bodies of ``workload``: fixed, or built by its set-up against ``post``'s server."""
    setup = contender.setups.get(workload)
    return await setup(post) if setup else contender.workloads.get(workload, [])


async def live_bodies(contender: Contender, workload: str, headers: dict[str, str]) -> list[Body]:
    async with httpx.AsyncClient() as client:
        return await workload_bodies(contender, workload, http_post(client, contender.url, headers))


def answer_when_idle(url: str, body: Body, headers: dict[str, str]) -> httpx.Response:
    """One sample answer. A slow contender is still working off the requests of the last run at
    32 connections (wrk stops waiting, the server does not) and refuses with 503 until its pool
    has a connection again: the sample waits for that rather than compare a refusal."""
    deadline = time.monotonic() + 120
    while True:
        response = httpx.post(url, json=body, headers=headers, timeout=60)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(2)


def sample_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mib(pid))
        stop.wait(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description="purchasegraph benchmark")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds measured per run (default 10).")
    parser.add_argument("--warmup", type=float, default=2.0, help="Seconds of warm-up per run (default 2).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--only", nargs="*", default=[], help="Contenders to run (default: all).")
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--data-dir", default=str(BENCH / ".data"))
    parser.add_argument(
        "--results",
        type=Path,
        default=BENCH / "results" / "latest.json",
        help="Where the figures go (default bench/results/latest.json, the committed run).",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2

    server = start_embedded_server(Path(args.data_dir))
    try:
        started = time.perf_counter()
        world = asyncio.run(build_bench_world(server.database_url))
        print(f"bench world ready in {time.perf_counter() - started:.1f}s: {world.counts}", file=sys.stderr)
        selected = set(args.only)
        if (not selected or "postgraphile" in selected) and not ensure_postgraphile_installed():
            print("PostGraphile skipped: no npm or no bench/postgraphile/package-lock.json", file=sys.stderr)
        results: dict[str, Any] = {"contenders": {}}
        samples: dict[str, dict[str, Any]] = {}
        for contender in contenders(world, selected):
            entry: dict[str, Any] = {"workloads": {}}
            results["contenders"][contender.name] = entry
            if contender.name in ("purchasegraph", "resolvers", "naive"):
                entry["statements"] = asyncio.run(statements_per_request(world, contender))
            elif contender.name == "floor":
                entry["statements"] = {"admin_graph": 1, "purchaser_graph": 1, "relay_page2": 1}
            with running(contender) as live:
                assert live.process is not None
                time.sleep(1.0)
                entry["rss_idle_mib"] = round(rss_mib(live.process.pid), 1)
                peak = [0.0]
                stop = threading.Event()
                sampler = threading.Thread(target=sample_rss, args=(live.process.pid, stop, peak), daemon=True)
                sampler.start()
                for workload in args.workloads:
                    auth = contender.authorization.get(workload, "")
                    headers = {"Content-Type": "application/json", "Authorization": auth} if auth else {}
                    try:
                        bodies = asyncio.run(live_bodies(live, workload, headers))
                    except Skipped as why:
                        entry.setdefault("skipped", {})[workload] = str(why)
                        print(f"{contender.name:<13} {workload:<16} skipped: {why}", file=sys.stderr)
                        continue
                    if not bodies:
                        continue
                    # Every read of the set is compared across contenders; a write only once.
                    answers = [
                        answer_when_idle(contender.url, body, headers)
                        for body in (bodies if workload != "write_mix" else bodies[:2])
                    ]
                    runs: dict[str, Any] = {"response_bytes": len(answers[0].content)}
                    samples.setdefault(workload, {})[contender.name] = [a.json().get("data") for a in answers[:1]] + [
                        a.json().get("data") for a in answers[1:] if workload != "write_mix"
                    ]
                    for c in args.concurrency:
                        wrk(live.url, bodies, auth, c, args.warmup)
                        runs[f"c{c}"] = wrk(live.url, bodies, auth, c, args.duration)
                        r = runs[f"c{c}"]
                        print(
                            f"{contender.name:<13} {workload:<16} c={c:<3} {r['rps']:8.1f} req/s  "
                            f"p50 {r['p50_us'] / 1000:7.1f} ms  p99 {r['p99_us'] / 1000:7.1f} ms  "
                            f"errors {r['non_2xx'] + r['graphql_errors'] + r['socket_errors']}",
                            file=sys.stderr,
                        )
                    entry["workloads"][workload] = runs
                stop.set()
                sampler.join()
                entry["rss_load_mib"] = round(peak[0], 1)
    finally:
        server.stop()
    # Everyone must answer the same question: the floor and the resolvers return the very data
    # purchasegraph returns (PostGraphile's schema names things its own way: sizes only).
    # The floor answers workload 2's shape, which is workload 5's less its Relay fields.
    results["same_data_as_purchasegraph"] = {
        workload: {
            n: d == by_name["purchasegraph"]
            for n, d in by_name.items()
            if n != "postgraphile" and (n != "floor" or workload in FLOOR_SAME_SHAPE)
        }
        for workload, by_name in samples.items()
        if "purchasegraph" in by_name
    }
    results["machine"] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        # Other work on the same cores moves every figure: the 1, 5 and 15 minute load at the end.
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_generator": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0],  # noqa: S607
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    }
    results["world"] = world.counts
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(render_table(results, args.concurrency))
    print(f"same data as purchasegraph: {results['same_data_as_purchasegraph']}")
    return 0


def render_table(results: dict[str, Any], concurrency: list[int]) -> str:
    """One markdown table: each contender's figures and its ratio to purchasegraph."""
    base = results["contenders"].get("purchasegraph", {}).get("workloads", {})
    lines = [
        "| workload | contender | "
        + " | ".join(f"c={c} req/s (x pg)" for c in concurrency)
        + " | p50 / p99 ms at c="
        + str(concurrency[-1])
        + " | errors | statements | bytes |",
        "|---" * (6 + len(concurrency)) + "|",
    ]
    for workload in WORKLOADS:
        for name, entry in results["contenders"].items():
            runs = entry["workloads"].get(workload)
            if not runs:
                continue
            cells = []
            for c in concurrency:
                r = runs[f"c{c}"]
                ours = base.get(workload, {}).get(f"c{c}")
                ratio = f" ({r['rps'] / ours['rps']:.2f}x)" if ours and name != "purchasegraph" else ""
                cells.append(f"{r['rps']:.1f}{ratio}")
            last = runs[f"c{concurrency[-1]}"]
            errors = sum(runs[f"c{c}"][k] for c in concurrency for k in ("non_2xx", "graphql_errors", "socket_errors"))
            statements = entry.get("statements", {}).get(workload, "-")
            lines.append(
                f"| {WORKLOADS[workload]} | {name} | "
                + " | ".join(cells)
                + f" | {last['p50_us'] / 1000:.1f} / {last['p99_us'] / 1000:.1f} | {errors} | {statements}"
                + f" | {runs['response_bytes']} |"
            )
    lines += [
        f"skipped: {name} {WORKLOADS[workload]}: {why}"
        for name, entry in results["contenders"].items()
        for workload, why in entry.get("skipped", {}).items()
    ]
    lines.append("")
    lines += render_ratios(results, concurrency)
    lines.append("")
    lines.append(
        "RSS (MiB) idle / under load: "
        + ", ".join(f"{n} {e['rss_idle_mib']} / {e['rss_load_mib']}" for n, e in results["contenders"].items())
    )
    return "\n".join(lines)


def render_ratios(results: dict[str, Any], concurrency: list[int]) -> list[str]:
    """purchasegraph's req/s over the floor's and PostGraphile's, workload by workload (the
    issue's targets are stated so); "-" where that contender does not run the workload."""
    by_name = results["contenders"]
    ours = by_name.get("purchasegraph", {}).get("workloads", {})
    lines = [
        "| workload | " + " | ".join(f"c={c} x floor / x postgraphile" for c in concurrency) + " |",
        "|---" * (1 + len(concurrency)) + "|",
    ]
    for workload, runs in ours.items():
        cells = []
        for c in concurrency:
            ratios = []
            for other in ("floor", "postgraphile"):
                theirs = by_name.get(other, {}).get("workloads", {}).get(workload, {}).get(f"c{c}")
                ratios.append(f"{runs[f'c{c}']['rps'] / theirs['rps']:.2f}" if theirs else "-")
            cells.append(" / ".join(ratios))
        lines.append(f"| {WORKLOADS[workload]} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
