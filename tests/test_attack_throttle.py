"""Attacks on the throttle: a request the throttle refuses (429) must leave nothing behind.

A refused request has signed in (the take rides in the sign-in statement) but must not have any
effect a granted one has: the documents an automatic persisted query registers are shared by
every client of the gateway, so registering one is work done for a principal with no budget left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from purchasegraph.gateway.documents import document_hash
from purchasegraph.settings import ThrottleSettings
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

# A bucket smaller than the query below costs: every request of it is refused, whatever the clock.
TINY = ThrottleSettings(maximum_available=10, restore_rate=1)
# Requested cost 1 + 50 = 51 > 10.
TOO_DEAR = "query TooDear { viewer { homeTenant { subscriptions(first: 50) { nodes { id } } } } }"


@pytest.fixture(scope="module")
async def client(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url, throttle=TINY)) as http:
        yield http


def persisted(text: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(TOO_DEAR)}}}
    if text is not None:
        body["query"] = text
    return body


async def test_a_request_refused_by_the_throttle_registers_no_persisted_query(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {token_for('raj.rao@contoso.example', 'contoso.example')}"}
    refused = await client.post("/graphql", json=persisted(TOO_DEAR), headers=headers)
    assert refused.status_code == 429
    # Had the refused request registered its document, the hash alone would now name it.
    again = await client.post("/graphql", json=persisted(None), headers=headers)
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND", again.json()
