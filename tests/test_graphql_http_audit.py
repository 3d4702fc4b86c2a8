"""The public GraphQL-over-HTTP yardstick: graphql-http's server audits against the app served for real.

The audits are the npm package `graphql-http` (pinned in graphql_http_audit/package-lock.json), run by
graphql_http_audit/audit.mjs with Node against uvicorn on a free local port. node_modules is installed
with `npm ci` on first use (under a file lock), so a clean clone needs only `node` and `npm` on PATH.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from purchasegraph.app import create_app
from purchasegraph.settings import Settings

AUDIT_DIR = Path(__file__).parent / "graphql_http_audit"
SECRET = "test-secret-for-graphql-http-audit-0123456789"
NPM_CI_TIMEOUT = 300.0
AUDIT_TIMEOUT = 120.0
STARTUP_TIMEOUT = 30.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"the graphql-http audit needs `{name}` (Node.js) on PATH; it is not there")
    return path


def _installed_as_locked() -> bool:
    """Every package in package-lock.json is in node_modules at the locked version."""
    lock = json.loads((AUDIT_DIR / "package-lock.json").read_text(encoding="utf-8"))
    for where, entry in lock["packages"].items():
        if not where:
            continue  # "" is the project itself
        installed = AUDIT_DIR / where / "package.json"
        if not installed.is_file():
            return False
        if json.loads(installed.read_text(encoding="utf-8")).get("version") != entry.get("version"):
            return False
    return True


@pytest.fixture(scope="session")
def node() -> str:
    """Node, with the audit's node_modules installed from the lockfile (`npm ci`) when missing or stale."""
    node = _tool("node")
    npm = _tool("npm")
    key = hashlib.sha256(str(AUDIT_DIR.resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"purchasegraph-graphql-http-audit-{key}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel sessions (xdist, two checkouts of CI) install once
        try:
            if not _installed_as_locked():
                completed = subprocess.run(  # noqa: S603 - fixed arguments, npm found on PATH
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=AUDIT_DIR,
                    capture_output=True,
                    text=True,
                    timeout=NPM_CI_TIMEOUT,
                    check=False,
                    env={**os.environ, "NO_UPDATE_NOTIFIER": "1"},
                )
                assert completed.returncode == 0, (
                    f"`npm ci` in {AUDIT_DIR} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return node


@pytest.fixture(scope="module")
def graphql_url(database_url: str, pool: object) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 and a free port, in a background thread; its /graphql URL."""
    # `pool` makes sure the session's database is migrated and seeded first.
    settings = Settings(database_url=database_url, jwt_secret=SECRET, seed_demo=False, pool_min_size=1, sweep_seconds=0)
    config = uvicorn.Config(create_app(settings), lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the socket is handed to uvicorn, so no other process can take the port
    port: int = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-audit", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started (see the log above)"
            assert time.monotonic() < deadline, f"uvicorn did not start within {STARTUP_TIMEOUT:.0f}s"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


def test_the_graphql_http_server_audits_all_pass(node: str, graphql_url: str, tmp_path: Path) -> None:
    version = json.loads((AUDIT_DIR / "node_modules" / "graphql-http" / "package.json").read_text(encoding="utf-8"))[
        "version"
    ]
    completed = subprocess.run(  # noqa: S603 - fixed arguments, node found on PATH
        [node, str(AUDIT_DIR / "audit.mjs"), graphql_url],
        cwd=AUDIT_DIR,
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, f"audit.mjs failed ({completed.returncode}):\n{completed.stderr}"
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    report = tmp_path / "graphql-http-audit.json"
    report.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    assert results, f"graphql-http {version} ran no audits (full output: {report})"
    failing = [r for r in results if r["status"] in {"error", "warn"}]
    lines = [
        f"graphql-http {version}: {len(failing)} of {len(results)} audits failed against {graphql_url} "
        f"(full results: {report})"
    ]
    lines += [f"{r['status'].upper():5} {r['id']} {r['name']}: {' '.join(str(r['reason']).split())}" for r in failing]
    failed = len(failing)
    assert failed == 0, "\n".join(lines)
