"""The gateway over HTTP, with its lifespan running: identity, 401s, health, the playground."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import ec

from purchasegraph.app import create_app
from purchasegraph.demo.actors import demo_tenant_id, demo_user_id
from purchasegraph.identity import mint_token, user_token_claims
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings
from tests.settings import SECRET, gateway_settings

VIEWER_QUERY = "{ viewer { user { displayName } homeTenant { name } } }"


def token_for(upn: str, domain: str, **overrides: Any) -> str:
    """A user's token, shaped as Entra ID issues one; ``overrides`` change claims (None drops one)."""
    if overrides:
        claims = (
            user_token_claims(
                user_id=demo_user_id(upn),
                tenant_id=demo_tenant_id(domain),
                issuer=DEV_ISSUER,
                audience=DEFAULT_AUDIENCE,
                ttl_seconds=600,
            )
            | overrides
        )
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET, algorithm="HS256")
    return mint_token(
        secret=SECRET,
        user_id=demo_user_id(upn),
        tenant_id=demo_tenant_id(domain),
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (pool, migrations), reached over ASGI by an HTTP client."""
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture(scope="module")
async def client(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    # `pool` makes sure the session's database is migrated and seeded first.
    async with serving(gateway_settings(database_url)) as http:
        yield http


async def post(client: httpx.AsyncClient, query: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await client.post("/graphql", json={"query": query}, headers=headers)


async def test_a_valid_token_names_the_viewer(client: httpx.AsyncClient) -> None:
    response = await post(client, VIEWER_QUERY, token_for("paula.purchaser@contoso.example", "contoso.example"))
    assert response.status_code == 200
    assert response.json()["data"]["viewer"] == {
        "user": {"displayName": "Paula Purchaser"},
        "homeTenant": {"name": "Contoso"},
    }


async def test_no_token_is_anonymous_and_sees_only_the_catalogue(client: httpx.AsyncClient) -> None:
    response = await post(client, "{ viewer { user { displayName } } products { productId } }")
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["viewer"] is None
    assert "CFQ7TTC0H9MP" in {p["productId"] for p in body["data"]["products"]}


@pytest.mark.parametrize(
    ("case", "header"),
    [
        ("garbage", "Bearer not-a-jwt"),
        ("wrong scheme", "Basic dXNlcjpwYXNz"),
        ("empty bearer", "Bearer "),
        (
            "wrong secret",
            "Bearer " + jwt.encode({"oid": "x"}, "another-secret-that-is-long-enough-0123456789", algorithm="HS256"),
        ),
    ],
)
async def test_an_invalid_token_is_refused_with_401_and_no_data(
    client: httpx.AsyncClient, case: str, header: str
) -> None:
    response = await client.post("/graphql", json={"query": VIEWER_QUERY}, headers={"Authorization": header})
    assert response.status_code == 401, case
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_expired_token_is_refused_with_401(client: httpx.AsyncClient) -> None:
    expired = token_for("paula.purchaser@contoso.example", "contoso.example", exp=int(time.time()) - 3600)
    response = await post(client, VIEWER_QUERY, expired)
    assert response.status_code == 401
    assert "expired" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "someone-else"), ("iss", "https://evil.example"), ("tid", None), ("oid", None)],
)
async def test_a_token_for_another_audience_or_issuer_or_without_ids_is_refused(
    client: httpx.AsyncClient, claim: str, value: str | None
) -> None:
    token = token_for("paula.purchaser@contoso.example", "contoso.example", **{claim: value})
    assert (await post(client, VIEWER_QUERY, token)).status_code == 401


async def test_a_token_for_a_user_the_directory_does_not_have_is_refused(client: httpx.AsyncClient) -> None:
    token = token_for("nobody@contoso.example", "contoso.example")
    assert (await post(client, VIEWER_QUERY, token)).status_code == 401


async def test_a_token_naming_a_user_in_the_wrong_tenant_is_refused(client: httpx.AsyncClient) -> None:
    token = token_for("paula.purchaser@contoso.example", "woodgrove.example")
    assert (await post(client, VIEWER_QUERY, token)).status_code == 401


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True}


async def test_the_playground_is_served_in_development(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_a_malformed_tenant_id_is_null_like_a_missing_tenant(client: httpx.AsyncClient) -> None:
    response = await post(client, '{ tenant(id: "not-a-uuid") { name } }')
    assert response.status_code == 200
    assert response.json()["data"] == {"tenant": None}


class _JwksHandler(BaseHTTPRequestHandler):
    jwks: bytes = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.jwks)

    def log_message(self, *args: object) -> None:
        return None


async def test_tokens_signed_by_a_jwks_key_are_accepted_and_hs256_ones_refused(database_url: str, pool: object) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    _JwksHandler.jwks = json.dumps({"keys": [public_jwk | {"kid": "k1", "use": "sig", "alg": "ES256"}]}).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = gateway_settings(
            database_url,
            jwt_secret=None,
            jwks_url=f"http://127.0.0.1:{server.server_port}/keys",
            jwt_issuers=("https://login.example/tenant/v2.0",),
            jwt_audiences=("api://purchasegraph",),
        )
        claims = user_token_claims(
            user_id=demo_user_id("alex.admin@contoso.example"),
            tenant_id=demo_tenant_id("contoso.example"),
            issuer="https://login.example/tenant/v2.0",
            audience="api://purchasegraph",
            ttl_seconds=600,
        )
        good = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
        wrong_audience = jwt.encode(claims | {"aud": "api://other"}, key, algorithm="ES256", headers={"kid": "k1"})
        hs256 = jwt.encode(claims, SECRET, algorithm="HS256")
        async with serving(settings) as jwks_client:
            ok = await post(jwks_client, VIEWER_QUERY, good)
            assert ok.status_code == 200
            assert ok.json()["data"]["viewer"]["user"]["displayName"] == "Alex Admin"
            assert (await post(jwks_client, VIEWER_QUERY, wrong_audience)).status_code == 401
            assert (await post(jwks_client, VIEWER_QUERY, hs256)).status_code == 401
    finally:
        server.shutdown()
        server.server_close()
