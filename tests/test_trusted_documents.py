"""Trusted documents (only the manifest runs) and automatic persisted queries (hash first, text once)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from purchasegraph.cli import main
from purchasegraph.gateway.documents import document_hash
from purchasegraph.settings import Settings
from tests.npm import npm_ci
from tests.test_http import SECRET, serving

ROOT = Path(__file__).resolve().parent.parent
# Apollo's own manifest generator, and documents that reach the corners of its text (fragments
# across files, nested and unused ones, inline fragments, object and list values, wrapped arguments).
APOLLO_DIR = Path(__file__).parent / "apollo_manifest"
GENERATOR_TIMEOUT = 60.0

TRUSTED = "query Catalogue { products { productId } }\n"
# What Apollo Client sends for TRUSTED, and so what the manifest holds: printed, `__typename` added.
TRUSTED_AS_SENT = "query Catalogue {\n  products {\n    productId\n    __typename\n  }\n}"
UNTRUSTED = "{ products { name } }"


def persisted(text: str | None, digest: str) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if text is not None:
        body["query"] = text
    return body


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("documents")
    (folder / "catalogue.graphql").write_text(TRUSTED, encoding="utf-8")
    output = folder / "manifest.json"
    assert main(["trusted-documents", str(folder), "-o", str(output)]) == 0
    return output


def settings(database_url: str, **changes: Any) -> Settings:
    base = Settings(database_url=database_url, jwt_secret=SECRET, seed_demo=False, pool_min_size=1, sweep_seconds=0)
    return base.with_changes(**changes)


@pytest.fixture(scope="module")
async def enforced(database_url: str, pool: object, manifest: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings(database_url, trusted_documents=manifest, require_trusted_documents=True)) as http:
        yield http


@pytest.fixture(scope="module")
async def automatic(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings(database_url)) as http:
        yield http


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


def test_the_cli_keys_each_operation_by_the_sha256_of_the_text_apollo_client_sends(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    assert data["format"] == "apollo-persisted-query-manifest"
    assert data["operations"] == [
        {"id": document_hash(TRUSTED_AS_SENT), "name": "Catalogue", "type": "query", "body": TRUSTED_AS_SENT}
    ]


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("comparing with Apollo's manifest generator needs `node` and `npm` on PATH")
    npm_ci(APOLLO_DIR, npm)
    return node


def test_the_manifest_is_the_one_apollos_own_generator_writes(node: str, tmp_path: Path) -> None:
    folders = [ROOT / "examples", APOLLO_DIR / "documents"]
    config = tmp_path / "persisted-query-manifest.config.json"
    apollo_manifest = tmp_path / "apollo.json"
    documents = [f"{folder}/**/*.graphql" for folder in folders]
    config.write_text(json.dumps({"documents": documents, "output": str(apollo_manifest)}), encoding="utf-8")
    generator = APOLLO_DIR / "node_modules" / "@apollo" / "generate-persisted-query-manifest" / "cli.js"
    completed = subprocess.run(  # noqa: S603 - fixed arguments, node found on PATH
        [node, str(generator), "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GENERATOR_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, f"Apollo's generator failed:\n{completed.stdout}\n{completed.stderr}"
    ours = tmp_path / "ours.json"
    assert main(["trusted-documents", *map(str, folders), "-o", str(ours)]) == 0

    theirs = json.loads(apollo_manifest.read_text(encoding="utf-8"))
    assert len(theirs["operations"]) == 6  # every example, and each corner document
    assert json.loads(ours.read_text(encoding="utf-8")) == theirs


def test_the_cli_refuses_a_document_that_does_not_fit_the_schema(tmp_path: Path) -> None:
    (tmp_path / "bad.graphql").write_text("query Bad { noSuchField }", encoding="utf-8")
    assert main(["trusted-documents", str(tmp_path)]) == 2


def test_the_cli_refuses_an_anonymous_operation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "anonymous.graphql").write_text("{ products { productId } }", encoding="utf-8")
    assert main(["trusted-documents", str(tmp_path)]) == 2
    assert "anonymous query; name it" in capsys.readouterr().err


def test_the_cli_refuses_two_operations_of_one_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.graphql").write_text("query Same { products { productId } }", encoding="utf-8")
    (tmp_path / "b.graphql").write_text("query Same { products { name } }", encoding="utf-8")
    assert main(["trusted-documents", str(tmp_path)]) == 2
    assert "operation Same is also defined in" in capsys.readouterr().err


def test_the_cli_refuses_a_spread_of_a_fragment_no_file_defines(tmp_path: Path) -> None:
    (tmp_path / "a.graphql").write_text("query Spread { products { ...Missing } }", encoding="utf-8")
    assert main(["trusted-documents", str(tmp_path)]) == 2


async def test_a_trusted_document_runs_by_its_hash(enforced: httpx.AsyncClient) -> None:
    response = await enforced.post("/graphql", json=persisted(None, document_hash(TRUSTED_AS_SENT)))
    assert response.status_code == 200
    assert response.json()["data"]["products"]


async def test_enforced_an_unknown_hash_is_refused_before_any_sql(
    enforced: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        response = await enforced.post(
            "/graphql",
            json=persisted(None, document_hash(UNTRUSTED)),
            headers={"Accept": "application/graphql-response+json"},
        )
    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"
    assert [r for r in caplog.records if r.name == "purchasegraph.request"][-1].__dict__["statements"] == 0


async def test_enforced_free_text_is_refused_unless_it_is_in_the_manifest(enforced: httpx.AsyncClient) -> None:
    refused = await enforced.post("/graphql", json={"query": UNTRUSTED})
    assert refused.status_code == 400
    assert code_of(refused) == "TRUSTED_DOCUMENT_REQUIRED"
    assert (await enforced.post("/graphql", json={"query": TRUSTED_AS_SENT})).status_code == 200


async def test_enforced_a_document_runs_only_as_apollo_client_sends_it(enforced: httpx.AsyncClient) -> None:
    # The file's own text is not what the manifest trusts: clients send the printed form.
    refused = await enforced.post("/graphql", json=persisted(TRUSTED, document_hash(TRUSTED)))
    assert code_of(refused) == "PERSISTED_QUERY_NOT_FOUND"
    sent = await enforced.post("/graphql", json=persisted(TRUSTED_AS_SENT, document_hash(TRUSTED_AS_SENT)))
    assert sent.status_code == 200
    assert sent.json()["data"]["products"][0]["__typename"] == "Product"


async def test_enforced_the_text_cannot_be_registered_under_a_new_hash(enforced: httpx.AsyncClient) -> None:
    response = await enforced.post("/graphql", json=persisted(UNTRUSTED, document_hash(UNTRUSTED)))
    assert code_of(response) == "PERSISTED_QUERY_NOT_FOUND"


async def test_automatic_persisted_queries_ask_for_the_text_once(automatic: httpx.AsyncClient) -> None:
    text = 'query Mine { products(market: "DE") { productId } }'
    digest = document_hash(text)
    miss = await automatic.post("/graphql", json=persisted(None, digest))
    assert miss.status_code == 200  # application/json clients read errors, not the status
    assert code_of(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"

    registered = await automatic.post("/graphql", json=persisted(text, digest))
    assert registered.status_code == 200
    by_hash = await automatic.get("/graphql", params={"extensions": json.dumps(persisted(None, digest)["extensions"])})
    assert by_hash.status_code == 200
    assert by_hash.json()["data"] == registered.json()["data"]


async def test_a_hash_that_is_not_the_texts_is_refused(automatic: httpx.AsyncClient) -> None:
    response = await automatic.post("/graphql", json=persisted(UNTRUSTED, "0" * 64))
    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_an_invalid_document_is_not_remembered(automatic: httpx.AsyncClient) -> None:
    text = "{ noSuchField }"
    await automatic.post("/graphql", json=persisted(text, document_hash(text)))
    again = await automatic.post("/graphql", json=persisted(None, document_hash(text)))
    assert code_of(again) == "PERSISTED_QUERY_NOT_FOUND"
