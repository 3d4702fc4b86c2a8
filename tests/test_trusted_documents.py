"""Trusted documents (only the manifest runs) and automatic persisted queries (hash first, text once)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse

from purchasegraph.app import create_app
from purchasegraph.cli import main
from purchasegraph.gateway.documents import DocumentStore, document_hash
from purchasegraph.gateway.manifest import build_manifest
from purchasegraph.gateway.refusals import RequestCode, RequestError
from tests.live_server import live_server
from tests.npm import node_for
from tests.settings import gateway_settings
from tests.test_http import serving

ROOT = Path(__file__).resolve().parent.parent
# Apollo's own manifest generator, and documents that reach the corners of its text (fragments
# across files, nested and unused ones, inline fragments, object and list values, wrapped arguments,
# the client's own directives and an operation that is the client's alone).
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


@pytest.fixture(scope="module")
async def enforced(database_url: str, pool: object, manifest: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(
        gateway_settings(database_url, trusted_documents=manifest, require_trusted_documents=True)
    ) as http:
        yield http


@pytest.fixture(scope="module")
async def automatic(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url)) as http:
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
    return node_for(APOLLO_DIR, "comparing with Apollo's manifest generator")


@pytest.mark.node
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
    # Every example's operation, and the corner documents Apollo sends.
    examples = {
        d.name.value
        for path in (ROOT / "examples").glob("*.graphql")
        for d in parse(path.read_text(encoding="utf-8")).definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }
    assert examples <= {operation["name"] for operation in theirs["operations"]}
    assert len(theirs["operations"]) >= len(examples) + 3
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


def test_the_manifest_holds_what_apollo_client_sends_not_its_client_directives() -> None:
    # Apollo Client sends none of @client (nor the field it marks), @connection, @nonreactive and
    # @unmask: the schema knows none of them, and a manifest keeping them would match no request.
    manifest = build_manifest([APOLLO_DIR / "documents"])
    bodies = {operation["name"]: operation["body"] for operation in manifest["operations"]}
    assert "LocalCart" not in bodies  # every field @client: nothing reaches the server
    sent = bodies["ClientDirectives"]
    assert "  products(market: $market) {\n" in sent
    for kept_by_the_client in ("@client", "@connection", "@nonreactive", "@unmask", "cartOf", "inCart", "cartNote"):
        assert kept_by_the_client not in sent
    assert "fragment Favourite" not in sent
    assert "NotSpreadHere" not in sent


def test_the_cli_refuses_a_fragment_beside_an_operation_that_does_not_use_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Apollo Client sends the file as one document, the unused fragment too, which validation refuses.
    (tmp_path / "a.graphql").write_text(
        "query Listed { products { ...Used } }\nfragment Used on Product { id }\nfragment Unused on Product { name }",
        encoding="utf-8",
    )
    assert main(["trusted-documents", str(tmp_path)]) == 2
    assert "Fragment 'Unused' is never used" in capsys.readouterr().err


def test_the_cli_refuses_a_spread_of_a_fragment_no_file_defines(tmp_path: Path) -> None:
    (tmp_path / "a.graphql").write_text("query Spread { products { ...Missing } }", encoding="utf-8")
    assert main(["trusted-documents", str(tmp_path)]) == 2


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("not json", "cannot read"),
        ('{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x"}]}', "`body`"),
        ('{"format": "apollo-persisted-query-manifest", "version": 1, "operations": 1}', "is not an apollo"),
    ],
)
def test_serve_refuses_a_manifest_it_cannot_read_with_a_message_not_a_traceback(
    content: str, said: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(content, encoding="utf-8")
    environment = {
        **os.environ,
        "PURCHASEGRAPH_TRUSTED_DOCUMENTS": str(manifest),
        "PURCHASEGRAPH_DATA_DIR": str(tmp_path),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "purchasegraph.cli", "serve", "--port", "1"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=GENERATOR_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("purchasegraph serve: "), completed.stderr
    assert said in completed.stderr
    assert "Traceback" not in completed.stderr


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


# What Apollo Client 3.14.1's links (HttpLink, GraphQLWsLink) sent for this document, written with its
# fragments in the order `gql` appends them: not the sorted order of the manifest.
FRAGMENTS_WRITTEN = (
    "query Listed { products { ...Names ...Ids } }\n"
    "fragment Names on Product { name }\n"
    "fragment Ids on Product { id productId }\n"
)
FRAGMENTS_AS_APOLLO_SENDS = (
    "query Listed {\n  products {\n    ...Names\n    ...Ids\n    __typename\n  }\n}\n\n"
    "fragment Names on Product {\n  name\n  __typename\n}\n\n"
    "fragment Ids on Product {\n  id\n  productId\n  __typename\n}"
)


async def test_enforced_a_trusted_document_runs_with_its_definitions_in_the_order_the_client_wrote_them(
    database_url: str, pool: object, tmp_path: Path
) -> None:
    (tmp_path / "listed.graphql").write_text(FRAGMENTS_WRITTEN, encoding="utf-8")
    manifest = tmp_path / "manifest.json"
    assert main(["trusted-documents", str(tmp_path), "-o", str(manifest)]) == 0
    [entry] = json.loads(manifest.read_text())["operations"]
    assert entry["body"] != FRAGMENTS_AS_APOLLO_SENDS  # sorted: fragment Ids before Names
    async with serving(
        gateway_settings(database_url, trusted_documents=manifest, require_trusted_documents=True)
    ) as http:
        sent = await http.post("/graphql", json={"query": FRAGMENTS_AS_APOLLO_SENDS})
        other = await http.post("/graphql", json={"query": FRAGMENTS_AS_APOLLO_SENDS.replace("productId", "name")})
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"]["products"][0]["productId"]
    assert code_of(other) == "TRUSTED_DOCUMENT_REQUIRED"


def test_enforced_free_text_is_read_no_further_than_the_engines_token_limit(tmp_path: Path) -> None:
    # Reading free text to find its manifest document costs a parse: never more of one than the
    # engine would parse (an anonymous caller could otherwise make the gateway read any length).
    (tmp_path / "listed.graphql").write_text(FRAGMENTS_WRITTEN, encoding="utf-8")
    [entry] = build_manifest([tmp_path])["operations"]
    trusted = {entry["id"]: entry["body"]}
    assert DocumentStore(trusted, enforce=True).resolve(FRAGMENTS_AS_APOLLO_SENDS, None).text == entry["body"]
    capped = DocumentStore(trusted, enforce=True, max_tokens=10)
    with pytest.raises(RequestError) as refused:
        capped.resolve(FRAGMENTS_AS_APOLLO_SENDS, None)
    assert refused.value.code is RequestCode.TRUSTED_DOCUMENT_REQUIRED


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


@pytest.mark.live_server
@pytest.mark.node
def test_apollo_client_runs_the_manifests_operations_against_an_enforcing_gateway(
    node: str, database_url: str, pool: object, tmp_path: Path
) -> None:
    # Apollo Client itself, set up as the README's workflow says: the manifest's ids, and text.
    documents = tmp_path / "documents"
    documents.mkdir()
    shutil.copy(ROOT / "examples" / "catalogue.graphql", documents)
    (documents / "listed.graphql").write_text(FRAGMENTS_WRITTEN, encoding="utf-8")
    manifest = tmp_path / "manifest.json"
    assert main(["trusted-documents", str(documents), "-o", str(manifest)]) == 0
    ids = {o["name"]: o["id"] for o in json.loads(manifest.read_text(encoding="utf-8"))["operations"]}
    enforcing = gateway_settings(database_url, trusted_documents=manifest, require_trusted_documents=True)
    with live_server(create_app(enforcing)) as live:
        completed = subprocess.run(  # noqa: S603 - fixed arguments, node found on PATH
            [node, "enforced.mjs", f"{live.url}/graphql", str(manifest), *map(str, sorted(documents.iterdir()))],
            cwd=APOLLO_DIR,
            capture_output=True,
            text=True,
            timeout=GENERATOR_TIMEOUT,
            check=False,
        )
    assert completed.returncode == 0, f"enforced.mjs failed:\n{completed.stdout}\n{completed.stderr}"
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert sorted(report) == sorted(ids) == ["Catalogue", "Listed"]
    for name, sent in report.items():
        ok = {"status": 200, "codes": [], "hasData": True}
        assert sent["byId"] == [{"sentQuery": False, "sha256Hash": ids[name], **ok}], name
        assert sent["asText"] == [{"sentQuery": True, "sha256Hash": None, **ok}], name
