"""The benchmark: purchasegraph beside the SQL floor, itself without DataLoaders, and PostGraphile.

    python bench/run.py [--duration 10] [--warmup 2] [--concurrency 1 8 32] [--only purchasegraph floor]

Builds (once, then reuses) a large tenant in an embedded PostgreSQL under bench/.data, starts
each contender as its own server process on loopback, drives every workload with wrk (closed
loop: each connection sends its next request when the last one is answered) after a warm-up,
and prints one table with the ratio of each contender to purchasegraph; bench/results/latest.json
holds every figure. A run in which any response is non-2xx or carries GraphQL errors reports
them in the table instead of hiding them.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import BenchWorld, build_bench_world  # noqa: E402
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
}


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


def contenders(world: BenchWorld, selected: set[str]) -> list[Contender]:
    admin = "Bearer " + mint_token(
        secret=SECRET,
        user_id=world.admin_user_id,
        tenant_id=world.tenant_id,
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
        ttl_seconds=24 * 3600,
    )
    purchaser = "Bearer " + mint_token(
        secret=SECRET,
        user_id=world.purchaser_user_id,
        tenant_id=world.tenant_id,
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
        ttl_seconds=24 * 3600,
    )
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
    gateway_workloads: dict[str, list[dict[str, Any]]] = {
        "viewer": [{"query": (BENCH / "workloads" / "viewer.graphql").read_text()}],
        "admin_graph": [{"query": graph, "variables": tenant}],
        "purchaser_graph": [{"query": graph, "variables": tenant}],
        "write_mix": write_bodies,
    }
    gateway_auth = {"viewer": admin, "admin_graph": admin, "purchaser_graph": purchaser, "write_mix": purchaser}
    gateway_env = {
        "DATABASE_URL": world.database_url,
        "PURCHASEGRAPH_JWT_SECRET": SECRET,
        "PURCHASEGRAPH_SWEEP_SECONDS": "0",
        "PURCHASEGRAPH_ENV": "production",
        # One principal at 32 connections would be throttled, as designed; the bucket is made
        # big enough never to refuse, so its statement still runs on every request.
        "PURCHASEGRAPH_THROTTLE_MAXIMUM": "1000000000",
        "PURCHASEGRAPH_THROTTLE_RESTORE_RATE": "1000000000",
    }

    def gateway(name: str, **env: str) -> Contender:
        """purchasegraph itself, as `purchasegraph serve` runs it, with some paths switched off."""
        port = free_port()
        command = [sys.executable, "-m", "purchasegraph.cli", "serve", "--port", str(port), "--log-level", "warning"]
        return Contender(name, command, {**gateway_env, **env}, port, "/graphql", gateway_workloads, gateway_auth)

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
        )
    )
    postgraphile = BENCH / "postgraphile"
    if shutil.which("node") and (postgraphile / "server.mjs").exists():
        port = free_port()
        variables = {"tenantId": str(world.tenant_id), "purchaserId": str(world.purchaser_user_id)}
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
                for workload, bodies in contender.workloads.items():
                    records.clear()
                    headers = {"Authorization": contender.authorization.get(workload, "")}
                    await http.post("/graphql", json=bodies[0], headers=headers)
                    counts[workload] = records[-1].__dict__["statements"]
                    if workload == "write_mix":  # put the license back
                        await http.post("/graphql", json=bodies[1], headers=headers)
    finally:
        logger.removeHandler(handler)
    return counts


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
                entry["statements"] = {"admin_graph": 1, "purchaser_graph": 1}
            with running(contender) as live:
                assert live.process is not None
                time.sleep(1.0)
                entry["rss_idle_mib"] = round(rss_mib(live.process.pid), 1)
                peak = [0.0]
                stop = threading.Event()
                sampler = threading.Thread(target=sample_rss, args=(live.process.pid, stop, peak), daemon=True)
                sampler.start()
                for workload in args.workloads:
                    bodies = contender.workloads.get(workload)
                    if not bodies:
                        continue
                    auth = contender.authorization.get(workload, "")
                    headers = {"Content-Type": "application/json", "Authorization": auth} if auth else {}
                    sample = httpx.post(contender.url, json=bodies[0], headers=headers, timeout=60)
                    if workload == "write_mix":
                        httpx.post(contender.url, json=bodies[1], headers=headers, timeout=60)
                    runs: dict[str, Any] = {"response_bytes": len(sample.content)}
                    samples.setdefault(workload, {})[contender.name] = sample.json().get("data")
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
    results["same_data_as_purchasegraph"] = {
        workload: {n: d == by_name["purchasegraph"] for n, d in by_name.items() if n != "postgraphile"}
        for workload, by_name in samples.items()
        if "purchasegraph" in by_name
    }
    results["machine"] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_generator": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0],  # noqa: S607
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    }
    results["world"] = world.counts
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
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
    lines.append("")
    lines.append(
        "RSS (MiB) idle / under load: "
        + ", ".join(f"{n} {e['rss_idle_mib']} / {e['rss_load_mib']}" for n, e in results["contenders"].items())
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
