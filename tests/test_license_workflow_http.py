"""The license request workflow over HTTP, as its people live it: a user asks for a blocked product
for herself and a colleague, the colleague and the admins are told, an admin approves and assigns
from the central subscription in one step, and the colleague finds the license. Its requests
commit, so the module runs on a database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.demo.actors import ALEX, CONTOSO, TESS, UNA
from purchasegraph.demo.global_ids import CENTRAL_POWER_BI, user
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

SET_POLICY = f"""
mutation {{ setSelfServicePolicy(tenantId: "{CONTOSO}", productId: "{POWER_BI_PRO}", value: DISABLED) {{
  policy {{ value }} userErrors {{ code }} }} }}
"""
POLICY = f'{{ tenant(id: "{CONTOSO}") {{ policy(productId: "{POWER_BI_PRO}") {{ value }} }} }}'
REQUEST = """
mutation ($for: [ID!]) { requestLicense(productId: "CFQ7TTC0H9MP", forUserIds: $for) {
  licenseRequest { id status } userErrors { code } } }
"""
UNREAD = "{ viewer { notifications(unreadOnly: true, first: 100) { nodes { id kind subjectId readAt } } } }"
REQUEST_BY_ID = "query ($id: ID!) { node(id: $id) { ... on LicenseRequest { status forUsers { userPrincipalName } } } }"
APPROVE = """
mutation ($r: ID!, $from: ID) { approveLicenseRequest(requestId: $r, assignFromSubscriptionId: $from) {
  licenseRequest { status } userErrors { code field } } }
"""
MY_LICENSES = f"""
{{ tenant(id: "{CONTOSO}") {{
  assignments(first: 100) {{ nodes {{ product {{ productId }} user {{ userPrincipalName }} }} }} }} }}
"""
MARK_ALL_READ = "mutation { markNotificationsRead { markedCount userErrors { code } } }"


@pytest.fixture(scope="module")
async def client(own_database: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(own_database, seed_demo=True)) as http:
        yield http


async def call(client: httpx.AsyncClient, upn: str, query: str, **variables: Any) -> dict[str, Any]:
    token = token_for(upn, "contoso.example")
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_a_request_is_told_approved_and_assigned_and_the_colleague_sees_the_license(
    client: httpx.AsyncClient,
) -> None:
    # The admins block Power BI Pro for self-service; Una asks for it, for herself and Tess.
    assert (await call(client, ALEX, SET_POLICY))["setSelfServicePolicy"] == {
        "policy": {"value": "DISABLED"},
        "userErrors": [],
    }
    assert (await call(client, ALEX, POLICY))["tenant"]["policy"] == {"value": "DISABLED"}
    requested = (await call(client, UNA, REQUEST, **{"for": [user(TESS)]}))["requestLicense"]
    assert (requested["licenseRequest"]["status"], requested["userErrors"]) == ("PENDING", [])
    request_id = requested["licenseRequest"]["id"]
    again = (await call(client, UNA, REQUEST, **{"for": []}))["requestLicense"]
    assert again == {"licenseRequest": None, "userErrors": [{"code": "LICENSE_ALREADY_REQUESTED"}]}

    # Tess is told, and sees the request; so are the admins.
    told = {n["kind"] for n in (await call(client, TESS, UNREAD))["viewer"]["notifications"]["nodes"]}
    assert "license_requested_for_you" in told
    seen = (await call(client, TESS, REQUEST_BY_ID, id=request_id))["node"]
    assert seen == {"status": "PENDING", "forUsers": [{"userPrincipalName": UNA}, {"userPrincipalName": TESS}]}
    alex_told = (await call(client, ALEX, UNREAD))["viewer"]["notifications"]["nodes"]
    assert any(n["kind"] == "license_requested" for n in alex_told)

    # Alex approves and assigns from the central subscription, in one step.
    approved = (await call(client, ALEX, APPROVE, r=request_id, **{"from": CENTRAL_POWER_BI}))["approveLicenseRequest"]
    assert approved == {"licenseRequest": {"status": "APPROVED"}, "userErrors": []}

    # Tess finds her license and the decision among her unread notifications, then reads them.
    licenses = (await call(client, TESS, MY_LICENSES))["tenant"]["assignments"]["nodes"]
    assert {"product": {"productId": POWER_BI_PRO}, "user": {"userPrincipalName": TESS}} in licenses
    unread = (await call(client, TESS, UNREAD))["viewer"]["notifications"]["nodes"]
    assert "license_request_approved" in {n["kind"] for n in unread}
    assert all(n["readAt"] is None for n in unread)
    marked = (await call(client, TESS, MARK_ALL_READ))["markNotificationsRead"]
    assert marked == {"markedCount": len(unread), "userErrors": []}
    assert (await call(client, TESS, UNREAD))["viewer"]["notifications"]["nodes"] == []


async def test_an_approval_that_cannot_assign_everyone_leaves_the_request_pending(client: httpx.AsyncClient) -> None:
    # Una's Project Plan 3: Contoso disabled it, and the central Power BI subscription is of another product.
    requested = (await call(client, UNA, REQUEST.replace(POWER_BI_PRO, "CFQ7TTC0HDB0"), **{"for": []}))[
        "requestLicense"
    ]
    request_id = requested["licenseRequest"]["id"]
    refused = (await call(client, ALEX, APPROVE, r=request_id, **{"from": CENTRAL_POWER_BI}))["approveLicenseRequest"]
    assert refused == {
        "licenseRequest": None,
        "userErrors": [{"code": "PRODUCT_MISMATCH", "field": ["assignFromSubscriptionId"]}],
    }
    assert (await call(client, UNA, REQUEST_BY_ID, id=request_id))["node"]["status"] == "PENDING"
