"""The GraphQL-over-HTTP specification, case by case: media types, methods, status codes, CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from purchasegraph.demo.actors import CONTOSO
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

GQL = "application/graphql-response+json"
JSON = "application/json"
PAULA = ("paula.purchaser@contoso.example", "contoso.example")


@pytest.fixture(scope="module")
async def client(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url)) as http:
        yield http


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GQL, GQL),
        (JSON, JSON),
        (f"{JSON};q=0.5, {GQL}", GQL),
        (f"{GQL};q=0.2, {JSON}", JSON),
        ("*/*", JSON),
        (None, JSON),
    ],
)
async def test_the_response_media_type_follows_accept(
    client: httpx.AsyncClient, accept: str | None, expected: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 200
    assert media_type(response) == expected
    assert response.headers["content-type"].endswith("charset=utf-8")
    assert response.json()["data"] == {"__typename": "Query"}


async def test_an_unacceptable_accept_header_is_406(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": "text/xml"})
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ products { ", "GRAPHQL_PARSE_FAILED"), ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED")],
)
async def test_parse_and_validation_errors_are_400_with_the_new_media_type_and_200_with_json(
    client: httpx.AsyncClient, query: str, code: str
) -> None:
    new = await client.post("/graphql", json={"query": query}, headers={"Accept": GQL})
    assert new.status_code == 400
    assert "data" not in new.json()
    assert new.json()["errors"][0]["extensions"]["code"] == code
    legacy = await client.post("/graphql", json={"query": query}, headers={"Accept": JSON})
    assert legacy.status_code == 200
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


async def test_variables_that_do_not_fit_are_400_without_data(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "query($m: String!) { products(market: $m) { name } }", "variables": {"m": 7}},
        headers={"Accept": GQL},
    )
    assert response.status_code == 400
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_VARIABLES"


async def test_a_query_over_get_works(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "query($m: String) { products(market: $m) { productId } }", "variables": '{"m": "US"}'},
        headers={"Accept": GQL},
    )
    assert response.status_code == 200
    assert "CFQ7TTC0H9MP" in {p["productId"] for p in response.json()["data"]["products"]}


async def test_a_mutation_over_get_is_405_and_changes_nothing(client: httpx.AsyncClient) -> None:
    mutation = 'mutation { removeLicenses(subscriptionId: "x", quantity: 1) { userErrors { code } } }'
    response = await client.get(
        "/graphql",
        params={"query": mutation},
        headers={"Accept": GQL, "Authorization": f"Bearer {token_for(*PAULA)}"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
        f"{JSON}; charset=latin-1",
    ],
)
async def test_a_post_that_a_browser_could_send_cross_site_is_refused(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    """CSRF: only a JSON body (which needs a CORS preflight cross-site) reaches GraphQL."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"variables": {}}', "no `query`"),
        (b'{"query": 5}', "`query` must be a string"),
        (b'{"query": "{ __typename }", "variables": "[]"}', "`variables` must be an object"),
        (b'{"query": "{ __typename }", "operationName": 1}', "`operationName` must be a string"),
        (b'{"query": "{ __typename }", "extensions": []}', "`extensions` must be an object"),
    ],
)
async def test_a_malformed_request_is_400_under_either_media_type(
    client: httpx.AsyncClient, body: bytes, fragment: str
) -> None:
    for accept in (GQL, JSON):
        response = await client.post("/graphql", content=body, headers={"Content-Type": JSON, "Accept": accept})
        assert response.status_code == 400, accept
        assert fragment in response.json()["errors"][0]["message"]
        assert "data" not in response.json()


async def test_an_unknown_operation_name_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "query A { __typename }", "operationName": "B"}, headers={"Accept": GQL}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_FOUND"


async def test_a_bad_token_is_401_under_either_media_type(client: httpx.AsyncClient) -> None:
    for accept in (GQL, JSON):
        response = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Accept": accept, "Authorization": "Bearer nope"},
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_every_response_carries_the_gateways_request_id_and_echoes_a_clients_apart(
    client: httpx.AsyncClient,
) -> None:
    given = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "trace-abc-123"})
    assert given.headers["x-request-id"] != "trace-abc-123"
    assert len(given.headers["x-request-id"]) == 32
    assert given.headers["x-client-request-id"] == "trace-abc-123"
    forged = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "bad id\r\n"})
    assert len(forged.headers["x-request-id"]) == 32
    assert "x-client-request-id" not in forged.headers
    assert (await client.get("/healthz")).headers["x-request-id"]
    assert (await client.put("/graphql")).headers["x-request-id"]


async def test_a_subscription_over_http_is_refused_with_a_pointer_to_the_websocket(client: httpx.AsyncClient) -> None:
    query = f'subscription {{ purchaseEvents(tenantId: "{CONTOSO}") {{ action }} }}'
    response = await client.post("/graphql", json={"query": query}, headers={"Accept": GQL})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_NEEDS_WEBSOCKET"
