"""Inputs however they are spelled: bounded audit rows, the gateway's own request id, and a
clear refusal (never INTERNAL_SERVER_ERROR) for odd strings, forged cursors and keys.

Over HTTP with the app's lifespan running, on the session's database: every request here is
refused, so all it leaves behind is audit rows, found again by the client request id it sent.
"""

from __future__ import annotations

import base64
import json
import unicodedata
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from purchasegraph.db import ordering as sortables
from purchasegraph.demo.actors import ALEX, CONTOSO, PAULA, WOODGROVE_ID
from purchasegraph.demo.global_ids import PAULAS_POWER_BI
from tests.mutations import purchase_input
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

HUGE_ID = "P" * 200_000  # past PostgreSQL's btree row limit (about 2,700 bytes)


@pytest.fixture(scope="module")
async def client(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url)) as http:
        yield http


async def send(
    client: httpx.AsyncClient,
    query: str,
    upn: str | None = None,
    *,
    variables: dict[str, Any] | None = None,
    client_request_id: str | None = None,
) -> httpx.Response:
    headers = {"Accept": "application/graphql-response+json"}
    if upn is not None:
        headers["Authorization"] = f"Bearer {token_for(upn, upn.rpartition('@')[2])}"
    if client_request_id is not None:
        headers["X-Request-Id"] = client_request_id
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code < 500, response.text
    assert "INTERNAL_SERVER_ERROR" not in response.text, response.text
    return response


def user_errors(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    [payload] = body["data"].values()
    errors: list[dict[str, Any]] = payload["userErrors"]
    return errors


async def audit_row(pool: asyncpg.Pool, client_request_id: str) -> asyncpg.Record:
    [row] = await pool.fetch("SELECT * FROM audit_events WHERE client_request_id = $1", client_request_id)
    return row


def fresh_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex}"


SET_POLICY = """
mutation ($tenant: ID!, $product: ID!) {
  setSelfServicePolicy(tenantId: $tenant, productId: $product, value: ENABLED) { userErrors { code field } }
}
"""
PURCHASE = """
mutation ($input: PurchaseSubscriptionInput!) { purchaseSubscription(input: $input) { userErrors { code field } } }
"""


# -- Audit rows ----------------------------------------------------------------------------------


async def test_a_refusal_records_a_target_id_cut_to_a_fixed_length_with_a_marker(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    sent = fresh_id("huge-target")
    response = await send(
        client, SET_POLICY, PAULA, variables={"tenant": str(WOODGROVE_ID), "product": HUGE_ID}, client_request_id=sent
    )
    assert user_errors(response)
    row = await audit_row(pool, sent)
    assert row["outcome"] == "refused"
    assert len(row["target_id"]) <= 200
    assert row["target_id"].endswith(" chars]")
    assert "…[+" in row["target_id"]


async def test_a_refusal_records_no_control_or_format_characters(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    sent = fresh_id("control")
    product = "CFQ\x07bell\x1b[31m\u202eevil\u200b\nnext"
    response = await send(
        client, SET_POLICY, PAULA, variables={"tenant": CONTOSO, "product": product}, client_request_id=sent
    )
    assert user_errors(response)
    target: str = (await audit_row(pool, sent))["target_id"]
    assert target.endswith("CFQbell[31mevilnext")
    assert not [c for c in target if unicodedata.category(c) in ("Cc", "Cf", "Cs")]


async def test_the_audit_row_carries_the_gateways_request_id_and_the_clients_apart(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # A caller naming another request's id (the seed's, here) gets it recorded only as its own word.
    sent = f"seed:subscription.take_over:{uuid.uuid4().hex}"
    response = await send(
        client,
        'mutation { takeControlOfSubscription(subscriptionId: "no-such-id") { userErrors { code } } }',
        ALEX,
        client_request_id=sent,
    )
    assert user_errors(response) == [{"code": "NOT_FOUND"}]
    ours = response.headers["x-request-id"]
    assert ours != sent
    assert response.headers["x-client-request-id"] == sent
    row = await audit_row(pool, sent)
    assert (row["request_id"], row["client_request_id"]) == (ours, sent)
    audit = await send(
        client,
        "query ($t: ID!) { tenant(id: $t) { auditEvents(first: 5) { nodes { requestId clientRequestId } } } }",
        ALEX,
        variables={"t": CONTOSO},
    )
    nodes = audit.json()["data"]["tenant"]["auditEvents"]["nodes"]
    assert {"requestId": ours, "clientRequestId": sent} in nodes


# -- No internal errors --------------------------------------------------------------------------


@pytest.mark.parametrize("production", [False, True])
async def test_a_lone_surrogate_in_a_persisted_query_is_a_bad_request(
    database_url: str, pool: object, production: bool
) -> None:
    settings = gateway_settings(database_url, production=production)
    # JSON's \ud800 escape decodes to a lone surrogate, which has no UTF-8 to hash.
    body = (
        '{"query": "{ products { productId } } # \\ud800",'
        ' "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "%s"}}}'
    )
    async with serving(settings) as http:
        response = await http.post(
            "/graphql",
            content=body % ("0" * 64),
            headers={"Content-Type": "application/json", "Accept": "application/graphql-response+json"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def keyset(*values: object) -> str:
    """A cursor in this API's format: base64url of [the order's signature, its key values…]."""
    return cursor(json.dumps(list(values)))


SIGNATURES = {
    "subscriptions": sortables.SUBSCRIPTION.ordering(None).signature,
    "auditEvents": sortables.AUDIT_EVENT.ordering(None).signature,
}
NIL = "00000000-0000-0000-0000-000000000000"
NOON = "2026-01-01T12:00:00.000000Z"


# Each refused for either connection: its own order's signature with values that do not parse as
# the keys' types (they must never reach a cast in SQL), or a cursor of another order.
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ('last: 5, before: "{}"'.format(cursor("cursor:5")), "before"),
        ("first: 5, after: {sig_month_13}", "after"),
        ("first: 5, after: {sig_local_time}", "after"),
        ("last: 5, before: {sig_5000_digits}", "before"),
        ("first: 5, after: {sig_bad_uuid}", "after"),
        ("first: 5, after: {sig_no_id}", "after"),
        ("first: 5, after: {sig_null}", "after"),
        ("first: 5, after: {other_order}", "after"),
    ],
)
async def test_a_forged_cursor_is_a_bad_user_input_error(client: httpx.AsyncClient, arguments: str, field: str) -> None:
    for connection, sig in SIGNATURES.items():
        other = next(s for c, s in SIGNATURES.items() if c != connection)
        forged = {
            "sig_month_13": keyset(sig, "2026-13-01T00:00:00.000000Z", NIL),
            "sig_local_time": keyset(sig, "2026-01-01 00:00:00", NIL),
            "sig_5000_digits": keyset(sig, "9" * 5000, NIL),
            "sig_bad_uuid": keyset(sig, NOON, "'; SELECT 1; --"),
            "sig_no_id": keyset(sig, NOON),
            "sig_null": keyset(sig, None, NIL),
            "other_order": keyset(other, NOON, NIL),
        }
        filled = arguments.format(**{k: f'"{v}"' for k, v in forged.items()})
        query = f"{{ viewer {{ homeTenant {{ {connection}({filled}) {{ totalCount }} }} }} }}"
        errors = (await send(client, query, ALEX)).json()["errors"]
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in errors] == [("BAD_USER_INPUT", field)]


async def test_a_cursor_past_every_row_pages_to_an_empty_page(client: httpx.AsyncClient) -> None:
    after = keyset(SIGNATURES["subscriptions"], "infinity", "ffffffff-ffff-ffff-ffff-ffffffffffff")
    query = f'{{ viewer {{ homeTenant {{ subscriptions(first: 5, after: "{after}") {{ nodes {{ id }} }} }} }} }}'
    assert (await send(client, query, ALEX)).json()["data"]["viewer"]["homeTenant"]["subscriptions"]["nodes"] == []


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_an_idempotency_key_that_is_empty_or_longer_than_255_characters_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, key: str
) -> None:
    sent = fresh_id("key")
    response = await send(
        client, PURCHASE, PAULA, variables={"input": purchase_input(idempotencyKey=key)}, client_request_id=sent
    )
    assert user_errors(response) == [{"code": "INVALID_INPUT", "field": ["idempotencyKey"]}]
    row = await audit_row(pool, sent)
    assert (row["outcome"], list(row["error_codes"])) == ("refused", ["INVALID_INPUT"])


async def test_adding_licenses_holds_its_idempotency_key_to_the_same_length(client: httpx.AsyncClient) -> None:
    mutation = f'addLicenses(subscriptionId: "{PAULAS_POWER_BI}", quantity: 1, idempotencyKey: {json.dumps("k" * 256)})'
    response = await send(client, f"mutation {{ {mutation} {{ userErrors {{ code field }} }} }}", PAULA)
    assert user_errors(response) == [{"code": "INVALID_INPUT", "field": ["idempotencyKey"]}]


@pytest.mark.parametrize(
    "mutation",
    [
        "startTrial(productId: $id)",
        "requestLicense(productId: $id)",
        f'setSelfServicePolicy(tenantId: "{CONTOSO}", productId: $id, value: DISABLED)',
        "purchaseSubscription(input: {"
        f'tenantId: "{CONTOSO}", productId: $id, quantity: 1, idempotencyKey: "{uuid.uuid4().hex}",'
        ' card: {number: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123"}})',
    ],
)
async def test_a_product_id_longer_than_any_product_is_not_found(
    client: httpx.AsyncClient, pool: asyncpg.Pool, mutation: str
) -> None:
    sent = fresh_id("huge-product")
    query = f"mutation ($id: ID!) {{ {mutation} {{ userErrors {{ code field }} }} }}"
    response = await send(client, query, ALEX, variables={"id": HUGE_ID}, client_request_id=sent)
    assert [e["code"] for e in user_errors(response)] == ["NOT_FOUND"]
    assert len((await audit_row(pool, sent))["target_id"]) <= 200


@pytest.mark.parametrize(
    "mutation",
    [
        f'cancelSubscription(subscriptionId: "{PAULAS_POWER_BI}", reason: $text)',
        f'requestCancellation(subscriptionId: "{PAULAS_POWER_BI}", message: $text)',
    ],
)
async def test_a_reason_or_message_longer_than_1000_characters_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, mutation: str
) -> None:
    sent = fresh_id("long-text")
    query = f"mutation ($text: String!) {{ {mutation} {{ userErrors {{ code field }} }} }}"
    upn = PAULA if mutation.startswith("cancel") else ALEX
    response = await send(client, query, upn, variables={"text": "r" * 1001}, client_request_id=sent)
    [error] = user_errors(response)
    assert error["code"] == "INVALID_INPUT"
    assert error["field"] in (["reason"], ["message"])
    assert (await audit_row(pool, sent))["outcome"] == "refused"


async def test_an_id_this_api_never_issued_is_audited_cut_with_a_marker_too(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    sent = fresh_id("unknown-id")
    response = await send(
        client,
        "mutation ($id: ID!) { takeControlOfSubscription(subscriptionId: $id) { userErrors { code } } }",
        ALEX,
        variables={"id": "s" * 5000},
        client_request_id=sent,
    )
    assert user_errors(response) == [{"code": "NOT_FOUND"}]
    target: str = (await audit_row(pool, sent))["target_id"]
    assert len(target) <= 200
    assert target.endswith(" chars]")
