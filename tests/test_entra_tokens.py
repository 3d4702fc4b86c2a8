"""Tokens as Entra ID (Azure AD) issues them, verified against a JWKS, and 401s that say why.

The tokens here are shaped claim for claim like the v1 and v2 access tokens of Microsoft's
access-token claims reference (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference):
a user's (delegated: ``scp``, a pairwise ``sub``) and an application's (app-only: ``roles``, ``oid``
equal to ``sub``, with and without the optional ``idtyp``), signed RS256 by a key a local JWKS
serves. The gateway is configured as a multi-tenant Entra app would be: issuer templates for v1
and v2, and both the app id URI and the app (client) id as audiences. One live server (uvicorn)
serves every HTTP and websocket case.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, cast

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from purchasegraph import identity
from purchasegraph.app import create_app
from purchasegraph.cli import main
from purchasegraph.demo.actors import ALEX, CONTOSO, CONTOSO_ID, DANA, WOODGROVE_ID, demo_user_id
from purchasegraph.events.hub import EventHub
from purchasegraph.events.stream import SocketSession, StreamContext, StreamError
from purchasegraph.identity import (
    AppClaims,
    AppRole,
    Claims,
    InvalidToken,
    TokenReason,
    TokenVerifier,
    mint_token,
    pairwise_subject,
    principal_from,
)
from purchasegraph.runtime import Runtime
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings, settings_from_env
from tests.live_server import live_server
from tests.settings import gateway_settings
from tests.test_purchase_events import PURCHASE_EVENTS

V2_ISSUER = "https://login.microsoftonline.com/{tid}/v2.0"
V1_ISSUER = "https://sts.windows.net/{tid}/"
# The API's own registration: v1 tokens carry its app id URI, v2 tokens its app (client) id.
API_APP_ID_URI = "api://purchasegraph"
API_CLIENT_ID = "6f1e2d3c-4b5a-4978-8a1b-2c3d4e5f6a7b"
# The client a user signed in to (a partner's tool), and an application holding app roles.
CLIENT_APP_ID = "3a9b1c2d-0e4f-4a5b-9c6d-7e8f9a0b1c2d"
DAEMON_APP_ID = uuid.UUID("0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")
KID = "entra-test-key"
PROTOCOL = Subprotocol("graphql-transport-ws")
VIEWER_QUERY = "{ viewer { user { displayName } } }"
TENANT_QUERY = "query($t: ID!) { viewer { user { id } } tenant(id: $t) { name } }"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGERS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- Tokens, claim for claim as Entra ID issues them --------------------------------------------


def _times(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "nbf": now, "exp": now + 3600} | overrides


def v2_user_claims(upn: str = ALEX, tenant_id: uuid.UUID = CONTOSO_ID) -> dict[str, Any]:
    oid = demo_user_id(upn)
    return {
        "aud": API_CLIENT_ID,
        "iss": f"https://login.microsoftonline.com/{tenant_id}/v2.0",
        **_times(),
        "aio": "AWQAm/8TAAAAc2lnbmVkIGluIHdpdGggYSBwYXNzd29yZA==",
        "azp": CLIENT_APP_ID,
        "azpacr": "0",
        "name": "Alex Admin",
        "oid": str(oid),
        "preferred_username": upn,
        "rh": "0.AAAAbWljcm9zb2Z0LWVudHJhLWlkLXYy.",
        "scp": "SelfServicePurchase.ReadWrite user_impersonation",
        "sub": pairwise_subject(oid, API_CLIENT_ID),
        "tid": str(tenant_id),
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0",
    }


def v1_user_claims(upn: str = ALEX, tenant_id: uuid.UUID = CONTOSO_ID) -> dict[str, Any]:
    oid = demo_user_id(upn)
    return {
        "aud": API_APP_ID_URI,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        **_times(),
        "acr": "1",
        "aio": "E2ZgYJh2dC5Rgf1+v1+c1QA=",
        "amr": ["pwd", "mfa"],
        "appid": CLIENT_APP_ID,
        "appidacr": "0",
        "family_name": "Admin",
        "given_name": "Alex",
        "ipaddr": "203.0.113.7",
        "name": "Alex Admin",
        "oid": str(oid),
        "rh": "0.AAAAbWljcm9zb2Z0LWVudHJhLWlkLXYx.",
        "scp": "user_impersonation",
        "sub": pairwise_subject(oid, API_APP_ID_URI),
        "tid": str(tenant_id),
        "unique_name": upn,
        "upn": upn,
        "uti": "3mq5wbdVqEe8vm9CFL0FAA",
        "ver": "1.0",
    }


def _service_principal(tenant_id: uuid.UUID) -> str:
    return str(uuid.uuid5(DAEMON_APP_ID, f"service principal in {tenant_id}"))


def v2_app_claims(tenant_id: uuid.UUID = CONTOSO_ID, *, idtyp: bool = False) -> dict[str, Any]:
    claims = {
        "aud": API_CLIENT_ID,
        "iss": f"https://login.microsoftonline.com/{tenant_id}/v2.0",
        **_times(),
        "aio": "E2ZgYNBg4/7zY8nKc1v2AQA=",
        "azp": str(DAEMON_APP_ID),
        "azpacr": "1",
        "oid": _service_principal(tenant_id),
        "rh": "0.AAAAYXBwLW9ubHktdjI.",
        "roles": [AppRole.READ_ALL.value],
        "sub": _service_principal(tenant_id),
        "tid": str(tenant_id),
        "uti": "kq2tM8hQ2UqlNMAeRTxCAA",
        "ver": "2.0",
    }
    return claims | ({"idtyp": "app"} if idtyp else {})


def v1_app_claims(tenant_id: uuid.UUID = CONTOSO_ID, *, idtyp: bool = False) -> dict[str, Any]:
    claims = {
        "aud": API_APP_ID_URI,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        **_times(),
        "aio": "E2ZgYHhP9Pq8/4Cn7kCkAQA=",
        "appid": str(DAEMON_APP_ID),
        "appidacr": "1",
        "idp": f"https://sts.windows.net/{tenant_id}/",
        "oid": _service_principal(tenant_id),
        "rh": "0.AAAAYXBwLW9ubHktdjE.",
        "roles": [AppRole.READ_ALL.value],
        "sub": _service_principal(tenant_id),
        "tid": str(tenant_id),
        "uti": "Xo0v1rT9hUKnCq0FM2lEAA",
        "ver": "1.0",
    }
    return claims | ({"idtyp": "app"} if idtyp else {})


def signed(claims: dict[str, Any], *, key: rsa.RSAPrivateKey = SIGNING_KEY, kid: str = KID) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})


def hmac_signed_with_the_public_key(claims: dict[str, Any]) -> str:
    """HS256 keyed with the trusted key's own public PEM: the classic algorithm confusion, which
    verifies wherever the verifier lets the token's `alg` pick how its key is used."""
    secret = SIGNING_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    signing_input = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims))
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def signed_as_is(claims: dict[str, Any]) -> str:
    """Signed by the trusted key, the claims as given: PyJWT's ``encode`` would refuse an odd one."""
    return jwt.PyJWS().encode(json.dumps(claims).encode(), SIGNING_KEY, algorithm="RS256", headers={"kid": KID})


# -- One JWKS and one live gateway for the module ------------------------------------------------


class _Jwks(BaseHTTPRequestHandler):
    body = json.dumps(
        {"keys": [json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key())) | {"kid": KID}]}
    ).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        return None


@dataclass(frozen=True)
class Gateway:
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


@pytest.fixture(scope="module")
def gateway(database_url: str, pool: object) -> Iterator[Gateway]:
    """The gateway trusting the JWKS, as a multi-tenant Entra app (`pool`: migrated and seeded)."""
    jwks = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=jwks.serve_forever, daemon=True)
    thread.start()
    settings = gateway_settings(
        database_url,
        jwt_secret=None,
        jwks_url=f"http://127.0.0.1:{jwks.server_port}/discovery/v2.0/keys",
        jwt_issuers=(V2_ISSUER, V1_ISSUER),
        jwt_audiences=(API_APP_ID_URI, API_CLIENT_ID),
    )
    try:
        with live_server(create_app(settings)) as live:
            yield Gateway(url=live.url)
    finally:
        jwks.shutdown()
        jwks.server_close()


async def post(gateway: Gateway, authorization: str | None, query: str = VIEWER_QUERY) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        return await http.post("/graphql", json={"query": query, "variables": {"t": CONTOSO}}, headers=headers)


# -- Accepted shapes ---------------------------------------------------------------------------


@pytest.mark.live_server
@pytest.mark.parametrize("claims", [v1_user_claims, v2_user_claims], ids=["v1", "v2"])
async def test_entra_user_tokens_of_v1_and_v2_name_the_user(gateway: Gateway, claims: Any) -> None:
    response = await post(gateway, f"Bearer {signed(claims())}")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"] == {"user": {"displayName": "Alex Admin"}}


@pytest.mark.live_server
@pytest.mark.parametrize("idtyp", [True, False], ids=["with-idtyp", "without-idtyp"])
@pytest.mark.parametrize("claims", [v1_app_claims, v2_app_claims], ids=["v1", "v2"])
async def test_entra_app_only_tokens_with_oid_are_applications_with_or_without_idtyp(
    gateway: Gateway, claims: Any, idtyp: bool
) -> None:
    response = await post(gateway, f"Bearer {signed(claims(idtyp=idtyp))}", TENANT_QUERY)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"viewer": None, "tenant": {"name": "Contoso"}}


@pytest.mark.parametrize("claims", [v1_app_claims, v2_app_claims], ids=["v1", "v2"])
def test_an_app_only_token_names_the_application_not_its_service_principal(claims: Any) -> None:
    assert principal_from(claims()) == AppClaims(DAEMON_APP_ID, CONTOSO_ID, frozenset({AppRole.READ_ALL}))


def test_a_user_token_whose_sub_is_not_its_oid_is_a_users_even_without_scp() -> None:
    """Without `idtyp` and `scp`, only `oid == sub` makes an application's token: a user's `sub` is pairwise."""
    claims = v2_user_claims()
    del claims["scp"]
    assert principal_from(claims) == Claims(demo_user_id(ALEX), CONTOSO_ID)


def test_development_user_tokens_are_entra_shaped_and_read_as_users() -> None:
    token = mint_token(
        secret="s" * 40, user_id=demo_user_id(ALEX), tenant_id=CONTOSO_ID, issuer=V2_ISSUER, audience=DEFAULT_AUDIENCE
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["scp"]
    assert claims["sub"] != claims["oid"] == str(demo_user_id(ALEX))
    assert claims["iss"] == f"https://login.microsoftonline.com/{CONTOSO_ID}/v2.0"
    assert claims["ver"] == "2.0"
    assert principal_from(claims) == Claims(demo_user_id(ALEX), CONTOSO_ID)


async def test_an_issuer_template_is_filled_with_the_tokens_own_tenant() -> None:
    secret = "s" * 40
    verifier = TokenVerifier(Settings(jwt_secret=secret, jwt_issuers=(V2_ISSUER,)), secret=secret)
    claims = v2_user_claims() | {"aud": DEFAULT_AUDIENCE}
    assert await verifier.verify_principal(jwt.encode(claims, secret, algorithm="HS256")) == Claims(
        demo_user_id(ALEX), CONTOSO_ID
    )


def test_issuers_and_audiences_are_comma_separated_settings() -> None:
    settings = settings_from_env(
        {
            "PURCHASEGRAPH_JWT_ISSUER": f" {V2_ISSUER}, {V1_ISSUER} ",
            "PURCHASEGRAPH_JWT_AUDIENCE": f"{API_APP_ID_URI},{API_CLIENT_ID}",
        }
    )
    assert settings.jwt_issuers == (V2_ISSUER, V1_ISSUER)
    assert settings.jwt_audiences == (API_APP_ID_URI, API_CLIENT_ID)
    assert (settings.jwt_issuer, settings.jwt_audience) == (V2_ISSUER, API_APP_ID_URI)
    defaults = settings_from_env({})
    assert (defaults.jwt_issuers, defaults.jwt_audiences) == ((DEV_ISSUER,), (DEFAULT_AUDIENCE,))


@pytest.fixture
def cli_env(database_url: str, pool: object, monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "cli-secret-for-entra-token-tests-0123456789"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PURCHASEGRAPH_JWT_SECRET", secret)
    monkeypatch.setenv("PURCHASEGRAPH_SEED_DEMO", "off")
    monkeypatch.setenv("PURCHASEGRAPH_JWT_ISSUER", V2_ISSUER)
    monkeypatch.delenv("PURCHASEGRAPH_JWKS_URL", raising=False)
    monkeypatch.delenv("PURCHASEGRAPH_JWT_AUDIENCE", raising=False)
    return secret


def test_the_token_command_mints_an_entra_shaped_user_token(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", ALEX]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), cli_env, algorithms=["HS256"], audience=DEFAULT_AUDIENCE)
    assert claims["scp"]
    assert claims["sub"] != claims["oid"]
    assert claims["iss"] == f"https://login.microsoftonline.com/{CONTOSO_ID}/v2.0"
    assert principal_from(claims) == Claims(demo_user_id(ALEX), CONTOSO_ID)


def test_the_demo_tokens_command_mints_only_entra_shaped_user_tokens(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-tokens", "--json"]) == 0
    minted = json.loads(capsys.readouterr().out)
    assert minted
    for entry in minted:
        claims = jwt.decode(entry["token"], cli_env, algorithms=["HS256"], audience=DEFAULT_AUDIENCE)
        assert claims["scp"], entry["email"]
        assert claims["sub"] != claims["oid"], entry["email"]
        assert claims["preferred_username"] == entry["email"]
        assert isinstance(principal_from(claims), Claims)


# -- Refusals, each with its reason ------------------------------------------------------------


def _without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != name}


def _old_development_shape() -> dict[str, Any]:
    """What development tokens used to be: no `scp`, `sub` equal to `oid`, which Entra's rule reads
    as an application's token (one that names no application)."""
    oid = str(demo_user_id(ALEX))
    return {"oid": oid, "sub": oid, "tid": CONTOSO, "iss": V2_ISSUER.format(tid=CONTOSO), "aud": API_CLIENT_ID} | (
        _times()
    )


def refusals() -> list[Any]:
    now = int(time.time())
    user = v2_user_claims()
    cases: list[tuple[str, str, TokenReason]] = [
        ("not a JWT", "Bearer not-a-jwt", TokenReason.MALFORMED),
        ("three junk parts", "Bearer a.b.c", TokenReason.MALFORMED),
        ("not bearer", "Basic dXNlcjpwYXNz", TokenReason.MALFORMED),
        ("another key, same kid", "Bearer " + signed(user, key=STRANGERS_KEY), TokenReason.BAD_SIGNATURE),
        ("a kid the JWKS lacks", "Bearer " + signed(user, kid="rotated-away"), TokenReason.BAD_SIGNATURE),
        ("alg none", "Bearer " + jwt.encode(user, "", algorithm="none"), TokenReason.BAD_SIGNATURE),
        (
            "alg none with the JWKS kid",
            "Bearer " + jwt.encode(user, "", algorithm="none", headers={"kid": KID}),
            TokenReason.BAD_SIGNATURE,
        ),
        (
            "HS256 when a JWKS is set",
            "Bearer " + jwt.encode(user, "s" * 40, algorithm="HS256", headers={"kid": KID}),
            TokenReason.BAD_SIGNATURE,
        ),
        ("expired", "Bearer " + signed(user | {"exp": now - 3600}), TokenReason.EXPIRED),
        ("not yet valid", "Bearer " + signed(user | {"nbf": now + 3600}), TokenReason.NOT_YET_VALID),
        ("another API's audience", "Bearer " + signed(user | {"aud": "api://other"}), TokenReason.WRONG_AUDIENCE),
        (
            "another identity provider",
            "Bearer " + signed(user | {"iss": "https://login.example/v2.0"}),
            TokenReason.WRONG_ISSUER,
        ),
        (
            "v2: tenant A's token with tenant B's issuer",
            "Bearer " + signed(user | {"iss": f"https://login.microsoftonline.com/{WOODGROVE_ID}/v2.0"}),
            TokenReason.WRONG_ISSUER,
        ),
        (
            "v1: tenant A's token with tenant B's issuer",
            "Bearer " + signed(v1_user_claims() | {"iss": f"https://sts.windows.net/{WOODGROVE_ID}/"}),
            TokenReason.WRONG_ISSUER,
        ),
        (
            "the issuer template itself",
            "Bearer " + signed(user | {"iss": V2_ISSUER}),
            TokenReason.WRONG_ISSUER,
        ),
        ("no tid", "Bearer " + signed(_without(user, "tid")), TokenReason.BAD_CLAIMS),
        ("no oid", "Bearer " + signed(_without(user, "oid")), TokenReason.BAD_CLAIMS),
        ("the old development shape", "Bearer " + signed(_old_development_shape()), TokenReason.BAD_CLAIMS),
        (
            "app token with delegated scopes",
            "Bearer " + signed(v2_app_claims(idtyp=True) | {"scp": "user_impersonation"}),
            TokenReason.BAD_CLAIMS,
        ),
        (
            "app token whose oid is not its sub",
            "Bearer " + signed(v2_app_claims(idtyp=True) | {"oid": str(demo_user_id(ALEX))}),
            TokenReason.BAD_CLAIMS,
        ),
        (
            "an issuer that is a list",
            "Bearer " + signed_as_is(user | {"iss": [f"https://login.microsoftonline.com/{CONTOSO}/v2.0"]}),
            TokenReason.WRONG_ISSUER,
        ),
        ("no kid", "Bearer " + jwt.encode(user, SIGNING_KEY, algorithm="RS256"), TokenReason.BAD_SIGNATURE),
        (
            "HS256 keyed with the JWKS key's public PEM",
            "Bearer " + hmac_signed_with_the_public_key(user),
            TokenReason.BAD_SIGNATURE,
        ),
        (
            "ES256 naming the RSA key's kid",
            "Bearer "
            + jwt.encode(user, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": KID}),
            TokenReason.BAD_SIGNATURE,
        ),
        # Nothing but the signature is read before it verifies: no date, audience or user is told.
        (
            "another key, expired",
            "Bearer " + signed(user | {"exp": now - 3600}, key=STRANGERS_KEY),
            TokenReason.BAD_SIGNATURE,
        ),
        (
            "another key, an unknown user",
            "Bearer " + signed(v2_user_claims("nobody@contoso.example"), key=STRANGERS_KEY),
            TokenReason.BAD_SIGNATURE,
        ),
        ("unknown user", "Bearer " + signed(v2_user_claims("nobody@contoso.example")), TokenReason.UNKNOWN_USER),
        ("user of another tenant", "Bearer " + signed(v2_user_claims(ALEX, WOODGROVE_ID)), TokenReason.UNKNOWN_USER),
        ("disabled user (left)", "Bearer " + signed(v2_user_claims(DANA)), TokenReason.DISABLED_USER),
        ("app of an unknown tenant", "Bearer " + signed(v2_app_claims(uuid.uuid4())), TokenReason.UNKNOWN_TENANT),
    ]
    return [pytest.param(header, reason, id=name) for name, header, reason in cases]


# What the JWT library says in its own words: never passed through to a client.
LIBRARY_WORDING = ("segments", "Signature verification", "Invalid header", "Unable to find", "alg value")


@pytest.mark.live_server
@pytest.mark.parametrize(("authorization", "reason"), refusals())
async def test_each_401_says_why_with_a_stable_reason_beside_unauthenticated(
    gateway: Gateway, authorization: str, reason: TokenReason
) -> None:
    response = await post(gateway, authorization)
    assert response.status_code == 401, response.text
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["reason"] == reason.value
    assert not any(words in error["message"] for words in LIBRARY_WORDING), error["message"]
    assert response.headers["www-authenticate"] == (f'Bearer error="invalid_token", error_description="{reason.value}"')


@pytest.mark.live_server
async def test_a_request_without_an_authorization_header_stays_anonymous(gateway: Gateway) -> None:
    response = await post(gateway, None)
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": None}


# -- The websocket says the same reasons when it refuses to connect -----------------------------


async def close_of(gateway: Gateway, payload: dict[str, Any]) -> tuple[int, str] | dict[str, Any]:
    """connection_init with ``payload``: the close code and reason, or the message answered."""
    async with connect(gateway.ws_url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            answer = await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            # (0, "") when the server closed without a close frame: never what a refusal sends.
            return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd is not None else (0, "")
        return dict(json.loads(answer))


@pytest.mark.live_server
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param({}, TokenReason.MISSING, id="no token"),
        pytest.param({"Authorization": "Token abc"}, TokenReason.MALFORMED, id="not bearer"),
        pytest.param(
            {"Authorization": "Bearer " + signed(v2_user_claims() | {"exp": int(time.time()) - 3600})},
            TokenReason.EXPIRED,
            id="expired",
        ),
        pytest.param(
            {"Authorization": "Bearer " + signed(v2_user_claims() | {"iss": V1_ISSUER.format(tid=WOODGROVE_ID)})},
            TokenReason.WRONG_ISSUER,
            id="cross-tenant issuer",
        ),
        pytest.param({"Authorization": "Bearer " + signed(v2_user_claims(DANA))}, TokenReason.DISABLED_USER, id="left"),
    ],
)
async def test_a_refused_websocket_connection_closes_4403_with_the_reason(
    gateway: Gateway, payload: dict[str, Any], reason: TokenReason
) -> None:
    assert await close_of(gateway, payload) == (4403, reason.value)


@pytest.mark.live_server
@pytest.mark.parametrize("claims", [v1_user_claims, v2_app_claims], ids=["v1-user", "v2-app-without-idtyp"])
async def test_entra_tokens_connect_over_the_websocket(gateway: Gateway, claims: Any) -> None:
    assert await close_of(gateway, {"Authorization": f"Bearer {signed(claims())}"}) == {"type": "connection_ack"}


# -- The signing keys: withdrawn, or not to be had ----------------------------------------------


def jwks_of(*keys: tuple[rsa.RSAPrivateKey, str]) -> bytes:
    """A JWKS document publishing these keys' public halves under their kids."""
    published = [json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": kid} for key, kid in keys]
    return json.dumps({"keys": published}).encode()


@dataclass
class Published:
    """What a JWKS endpoint answers now: tests change it while a verifier uses it."""

    body: bytes


@contextmanager
def jwks_endpoint(published: Published) -> Iterator[str]:
    """A local JWKS endpoint answering ``published.body``; its URL."""

    class Endpoint(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(published.body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/discovery/v2.0/keys"
    finally:
        server.shutdown()
        server.server_close()


def unreachable_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/discovery/v2.0/keys"


def jwks_verifier(url: str) -> TokenVerifier:
    return TokenVerifier(Settings(jwks_url=url, jwt_issuers=(V2_ISSUER,), jwt_audiences=(API_CLIENT_ID,)), secret=None)


async def reason_of(verifier: TokenVerifier, token: str) -> TokenReason:
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify_principal(token)
    return refused.value.reason


async def test_a_signing_key_the_jwks_withdrew_verifies_no_token_once_the_set_is_fetched_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A withdrawn key (rotated out, or compromised) is trusted at most as long as the fetched
    set is; never for the life of the process, as a per-key cache without expiry would keep it."""
    monkeypatch.setattr(identity, "JWKS_CACHE_SECONDS", 0.2)
    published = Published(jwks_of((SIGNING_KEY, KID)))
    with jwks_endpoint(published) as url:
        verifier = jwks_verifier(url)
        token = signed(v2_user_claims())
        assert await verifier.verify_principal(token) == Claims(demo_user_id(ALEX), CONTOSO_ID)
        published.body = jwks_of((STRANGERS_KEY, "rotated-in"))
        await asyncio.sleep(0.3)
        assert await reason_of(verifier, token) is TokenReason.BAD_SIGNATURE
        assert await verifier.verify_principal(signed(v2_user_claims(), key=STRANGERS_KEY, kid="rotated-in"))


@pytest.mark.parametrize(
    "answer",
    [b"<html>Service Unavailable</html>", b'{"keys": []}', b"[]"],
    ids=["not JSON", "no keys", "not a JWKS"],
)
async def test_a_jwks_answering_no_usable_keys_is_signing_keys_unavailable_not_a_bad_token(answer: bytes) -> None:
    with jwks_endpoint(Published(answer)) as url:
        assert await reason_of(jwks_verifier(url), signed(v2_user_claims())) is TokenReason.KEYS_UNAVAILABLE


@pytest.mark.live_server
async def test_signing_keys_that_cannot_be_fetched_answer_503_and_close_the_socket_1013_never_401(
    database_url: str, pool: object
) -> None:
    """The token was not checked at all: a 401 would send the client to sign in again, which a
    fresh token cannot fix. 503 with Retry-After (1013 Try Again Later on the websocket) says wait."""
    settings = gateway_settings(
        database_url,
        jwt_secret=None,
        jwks_url=unreachable_url(),
        jwt_issuers=(V2_ISSUER,),
        jwt_audiences=(API_CLIENT_ID,),
    )
    token = signed(v2_user_claims())
    with live_server(create_app(settings)) as live:
        unchecked = Gateway(url=live.url)
        response = await post(unchecked, f"Bearer {token}")
        socket_closed = await close_of(unchecked, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "reason": TokenReason.KEYS_UNAVAILABLE.value}
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert socket_closed == (1013, TokenReason.KEYS_UNAVAILABLE.value)


async def test_a_live_subscription_whose_keys_cannot_be_fetched_ends_unavailable_not_unauthenticated() -> None:
    """Each event checks the token again; keys not to be had then end the stream as "try again"."""
    runtime = SimpleNamespace(pool=None, settings=Settings(), processor=None, verifier=jwks_verifier(unreachable_url()))
    socket = SocketSession(runtime=cast(Runtime, runtime), hub=cast(EventHub, None), token=signed(v2_user_claims()))
    context = StreamContext.open(socket)
    with pytest.raises(StreamError) as ended:
        await context.refresh()
    assert ended.value.extensions == {"code": "SERVICE_UNAVAILABLE", "reason": TokenReason.KEYS_UNAVAILABLE.value}


@pytest.mark.live_server
async def test_a_subscribe_whose_keys_cannot_be_fetched_is_refused_unavailable_not_unauthenticated(
    database_url: str, pool: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connected while the keys were there; by the subscribe they are not (the set expired and the
    provider answers an error page): the operation's `error` says try again, not sign in again."""
    monkeypatch.setattr(identity, "JWKS_CACHE_SECONDS", 0.5)
    published = Published(jwks_of((SIGNING_KEY, KID)))
    with jwks_endpoint(published) as url:
        settings = gateway_settings(
            database_url, jwt_secret=None, jwks_url=url, jwt_issuers=(V2_ISSUER,), jwt_audiences=(API_CLIENT_ID,)
        )
        with live_server(create_app(settings)) as live:
            async with connect(Gateway(url=live.url).ws_url, subprotocols=[PROTOCOL]) as ws:
                init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {signed(v2_user_claims())}"}}
                await ws.send(json.dumps(init))
                assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "connection_ack"}
                published.body = b"<html>Service Unavailable</html>"
                await asyncio.sleep(0.6)
                subscribe = {"query": PURCHASE_EVENTS, "variables": {"tenant": CONTOSO}}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer["type"] == "error", answer
    [error] = answer["payload"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
    assert error["extensions"]["reason"] == TokenReason.KEYS_UNAVAILABLE.value
