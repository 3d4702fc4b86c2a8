"""The JavaScript toolchain a frontend team brings: Apollo Client 3 and GraphQL Code Generator, run for real.

Apollo Client (with graphql-ws and `ws` for GraphQLWsLink) runs in Node against the app served by
uvicorn: clients/apollo.mjs does every check in one run and prints a JSON report, which the tests
below read one rule at a time. GraphQL Code Generator (the typescript-operations plugin, through
clients/codegen.ts) turns schema.graphql and examples/ into TypeScript, and `tsc --noEmit`
type-checks that output together with clients/typed_usage.ts, which uses it as an app would.
Every package is pinned in clients/package-lock.json and installed with `npm ci` on first use.

The module has a PostgreSQL of its own: the mutations Apollo sends commit, and the session's
database, whose rows other tests count, must not see them.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.demo.actors import PAULA
from purchasegraph.demo.global_ids import PAULAS_POWER_BI
from purchasegraph.gateway.refusals import RequestCode
from tests.npm import node_for
from tests.test_http import token_for
from tests.test_purchase_events import Served, served

pytestmark = pytest.mark.node

CLIENTS_DIR = Path(__file__).parent / "clients"
REPOSITORY = Path(__file__).parent.parent
NODE_TIMEOUT = 120.0
SUBSCRIBED_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def node() -> str:
    """Node, with clients/node_modules installed from the lockfile (`npm ci`) when missing or stale."""
    return node_for(CLIENTS_DIR, "the client toolchain tests")


@pytest.fixture(scope="module")
def app(own_database: str) -> Iterator[Served]:
    with served(own_database) as one:
        yield one


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """One line of the process's stdout, or a failure after ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            process.kill()
            pytest.fail(f"apollo.mjs printed nothing in {timeout} s")
    return process.stdout.readline()


@pytest.fixture(scope="module")
def apollo(node: str, app: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of one apollo.mjs run, as Paula (the purchaser of PAULAS_POWER_BI)."""
    stderr_path = tmp_path_factory.mktemp("apollo-node") / "stderr.txt"
    environment = {**os.environ, "PURCHASEGRAPH_TOKEN": token_for(PAULA, "contoso.example")}
    with stderr_path.open("w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, node found on PATH
            [node, "apollo.mjs", f"{app.url}/graphql", PAULAS_POWER_BI],
            cwd=CLIENTS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=environment,
        )
        try:
            line = _read_line(process, SUBSCRIBED_TIMEOUT)
            assert json.loads(line or "null") == {"subscribed": True}, f"{line!r}; stderr: {stderr_path.read_text()}"
            deadline = time.monotonic() + SUBSCRIBED_TIMEOUT
            while app.hub.subscribers < 1:  # the gateway holds the feed: the event cannot be missed
                assert time.monotonic() < deadline, "the gateway never held apollo.mjs's subscription"
                time.sleep(0.01)
            stdout, _ = process.communicate("go\n", timeout=NODE_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 0, f"apollo.mjs failed ({process.returncode}):\n{stderr_path.read_text()}"
    return cast(dict[str, Any], json.loads(stdout.strip().splitlines()[-1]))


@pytest.mark.live_server
def test_apollo_client_runs_a_query_with_a_bearer_token(apollo: dict[str, Any]) -> None:
    query = apollo["query"]
    assert [r["operationName"] for r in query["requests"]] == ["MySubscriptions"]
    assert query["requests"][0]["status"] == 200
    assert query["requests"][0]["codes"] == []
    assert query["user"] == "Paula Purchaser"
    assert PAULAS_POWER_BI in query["subscriptionIds"]
    assert query["quantity"] == 10


@pytest.mark.live_server
def test_apollo_cache_answers_a_repeated_query_without_a_request(apollo: dict[str, Any]) -> None:
    assert apollo["cache"]["requests"] == []
    assert apollo["cache"]["sameData"] is True


@pytest.mark.live_server
def test_a_mutation_result_updates_the_entity_cached_under_typename_and_id(apollo: dict[str, Any]) -> None:
    mutation = apollo["mutation"]
    assert apollo["cache"]["cacheKey"] == f"Subscription:{PAULAS_POWER_BI}"
    assert [r["operationName"] for r in mutation["requests"]] == ["AddLicenses"]
    assert mutation["userErrors"] == []
    assert mutation["quantity"] == apollo["query"]["quantity"] + 1
    assert mutation["cachedEntity"] == {"quantity": mutation["quantity"]}
    # The list query read before the mutation shows the new quantity, still with no request.
    assert mutation["rereadRequests"] == []
    assert mutation["rereadQuantity"] == mutation["quantity"]


@pytest.mark.live_server
def test_apollo_reads_user_errors_of_a_refused_mutation_as_data(apollo: dict[str, Any]) -> None:
    refused = apollo["userErrors"]
    assert [(r["status"], r["codes"]) for r in refused["requests"]] == [(200, [])]
    [error] = refused["payload"]["userErrors"]
    assert error["code"] == ErrorCode.LICENSES_ASSIGNED.name
    assert error["field"] == ["quantity"]
    assert error["message"]
    assert refused["payload"]["subscription"] is None
    # Nothing changed, and the cache says so.
    assert refused["cachedEntity"]["quantity"] == apollo["mutation"]["quantity"]


@pytest.mark.live_server
def test_apollo_persisted_queries_send_the_text_once_then_the_hash_alone(apollo: dict[str, Any]) -> None:
    persisted = apollo["persisted"]
    [hash_only, with_text] = persisted["registering"]
    assert hash_only["sha256Hash"] is not None
    assert hash_only["sentQuery"] is False
    assert hash_only["codes"] == [RequestCode.PERSISTED_QUERY_NOT_FOUND.value]
    assert (with_text["sentQuery"], with_text["sha256Hash"], with_text["codes"]) == (
        True,
        hash_only["sha256Hash"],
        [],
    )
    assert persisted["products"] > 0
    # A second client (an empty cache) sends the hash alone, and the gateway knows it.
    [by_hash] = persisted["byHash"]
    assert (by_hash["sentQuery"], by_hash["sha256Hash"], by_hash["status"], by_hash["codes"]) == (
        False,
        hash_only["sha256Hash"],
        200,
        [],
    )
    assert persisted["sameData"] is True


@pytest.mark.live_server
def test_graphql_ws_link_delivers_the_event_of_a_mutation(apollo: dict[str, Any]) -> None:
    received = apollo["subscription"]
    assert received["errors"] is None
    event = received["event"]
    assert event["__typename"] == "PurchaseEvent"
    assert event["subscription"] == {
        "__typename": "Subscription",
        "id": PAULAS_POWER_BI,
        "quantity": apollo["mutation"]["quantity"],
    }
    assert event["action"] == "subscription.add_licenses"


# -- GraphQL Code Generator and tsc --------------------------------------------------------------


def _operation_names(folder: Path) -> list[str]:
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.graphql")))
    return re.findall(r"^\s*(?:query|mutation|subscription)\s+([A-Za-z_]\w*)", text, flags=re.MULTILINE)


def test_codegen_types_every_example_operation_and_tsc_accepts_them(node: str, tmp_path: Path) -> None:
    output = tmp_path / "operations.ts"
    generated = subprocess.run(  # noqa: S603 - fixed arguments, node found on PATH
        [node, "node_modules/.bin/graphql-codegen", "--config", "codegen.ts", "--silent"],
        cwd=CLIENTS_DIR,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
        env={**os.environ, "CODEGEN_OUTPUT": str(output)},
    )
    assert generated.returncode == 0, f"graphql-codegen failed:\n{generated.stdout}\n{generated.stderr}"
    typescript = output.read_text(encoding="utf-8")
    names = _operation_names(REPOSITORY / "examples")
    assert names, "examples/ names no operation"
    for name in names:
        assert f"export type {name}Query = " in typescript, f"no result type for the example operation {name}"
        assert f"export type {name}QueryVariables = " in typescript

    shutil.copy(CLIENTS_DIR / "typed_usage.ts", tmp_path / "typed_usage.ts")
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "noEmit": True,
                    "target": "ES2022",
                    "module": "ES2022",
                    "moduleResolution": "Bundler",
                    "skipLibCheck": True,  # TypeScript's own lib files: checking them doubles the time
                    "types": [],
                },
                "files": ["operations.ts", "typed_usage.ts"],
            }
        ),
        encoding="utf-8",
    )
    checked = subprocess.run(  # noqa: S603 - fixed arguments, node found on PATH
        [node, str(CLIENTS_DIR / "node_modules/typescript/bin/tsc"), "--project", str(tmp_path / "tsconfig.json")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    assert checked.returncode == 0, f"tsc rejected the generated types:\n{checked.stdout}\n{checked.stderr}"
