"""The public GraphQL-over-HTTP yardstick: graphql-http's server audits against the app served for real.

The audits are the npm package `graphql-http` (pinned in graphql_http_audit/package-lock.json), run by
graphql_http_audit/audit.mjs with Node against uvicorn on a free local port. node_modules is installed
with `npm ci` on first use (under a file lock), so a clean clone needs only `node` and `npm` on PATH.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from purchasegraph.app import create_app
from tests.live_server import live_server
from tests.npm import node_for
from tests.settings import gateway_settings

pytestmark = [pytest.mark.node, pytest.mark.live_server]

AUDIT_DIR = Path(__file__).parent / "graphql_http_audit"
SECRET = "test-secret-for-graphql-http-audit-0123456789"
AUDIT_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def node() -> str:
    """Node, with the audit's node_modules installed from the lockfile (`npm ci`) when missing or stale."""
    return node_for(AUDIT_DIR, "the graphql-http audit")


@pytest.fixture(scope="module")
def graphql_url(database_url: str, pool: object) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 and a free port; its /graphql URL."""
    # `pool` makes sure the session's database is migrated and seeded first.
    settings = gateway_settings(database_url, jwt_secret=SECRET)
    with live_server(create_app(settings)) as live:
        yield f"{live.url}/graphql"


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
