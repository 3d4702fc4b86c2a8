"""Attacks on the one-statement sign-in (migration 0014), on a gateway with one pooled connection:
a token the directory refuses is a 401 with its reason, never a 500, and whatever the refused
sign-in named on the connection is gone before the next request runs on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from purchasegraph.demo.actors import ALEX, CONTOSO, DANA, WILL, demo_user_id
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

TENANT_NAME = "query Name($t: ID!) { tenant(id: $t) { name } viewer { user { displayName } } }"


@pytest.fixture(scope="module")
async def one_connection(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url, pool_max_size=1)) as http:
        yield http


async def ask(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await client.post("/graphql", json={"query": TENANT_NAME, "variables": {"t": CONTOSO}}, headers=headers)


REFUSED = [
    # The tenant claim is a domain, not a GUID.
    pytest.param(lambda: token_for(ALEX, "contoso.example", tid="contoso.example"), "TOKEN_CLAIMS_INVALID", id="tid"),
    # Woodgrove's admin, in a token that names Contoso as their tenant.
    pytest.param(
        lambda: token_for(ALEX, "contoso.example", oid=str(demo_user_id(WILL))), "USER_UNKNOWN", id="other-tenant"
    ),
    # A departed user's disabled account: the sign-in statement ran (and named Contoso) first.
    pytest.param(lambda: token_for(DANA, "contoso.example"), "USER_DISABLED", id="disabled"),
]


@pytest.mark.parametrize(("token", "reason"), REFUSED)
async def test_a_refused_sign_in_is_a_401_and_leaves_its_tenant_on_no_connection(
    one_connection: httpx.AsyncClient, token: Callable[[], str], reason: str
) -> None:
    refused = await ask(one_connection, token())
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["reason"] == reason
    # The same (only) connection, next: an anonymous caller reaches nothing of Contoso.
    anonymous = await ask(one_connection, None)
    assert anonymous.json()["data"] == {"tenant": None, "viewer": None}
    admin = await ask(one_connection, token_for(ALEX, "contoso.example"))
    assert admin.json()["data"] == {"tenant": {"name": "Contoso"}, "viewer": {"user": {"displayName": "Alex Admin"}}}
