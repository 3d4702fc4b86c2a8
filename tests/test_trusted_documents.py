"""Trusted documents (only the manifest runs) and automatic persisted queries (hash first, text once)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from purchasegraph.cli import main
from purchasegraph.gateway.documents import document_hash
from purchasegraph.settings import Settings
from tests.test_http import SECRET, serving

TRUSTED = "query Catalogue { products { productId } }\n"
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


def test_the_cli_builds_a_manifest_of_sha256_ids(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    assert data["format"] == "apollo-persisted-query-manifest"
    assert data["operations"] == [{"id": document_hash(TRUSTED), "name": "Catalogue", "type": "query", "body": TRUSTED}]


def test_the_cli_refuses_a_document_that_does_not_fit_the_schema(tmp_path: Path) -> None:
    (tmp_path / "bad.graphql").write_text("{ noSuchField }", encoding="utf-8")
    assert main(["trusted-documents", str(tmp_path)]) == 2


async def test_a_trusted_document_runs_by_its_hash(enforced: httpx.AsyncClient) -> None:
    response = await enforced.post("/graphql", json=persisted(None, document_hash(TRUSTED)))
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
    assert (await enforced.post("/graphql", json={"query": TRUSTED})).status_code == 200


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
