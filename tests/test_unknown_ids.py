"""An id a mutation cannot decode, or that names another type, is NOT_FOUND: refused, audited, nothing written.

Such an id names nothing this API issued, so it is refused before anything runs, with the field
it came in. A well-formed id that names nothing where the mutation looks keeps the answer it
always had (a user of another tenant, or of none, is USER_NOT_IN_TENANT where licenses go).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from purchasegraph.catalogue import POWER_BI_PRO, VISIO_PLAN_1
from purchasegraph.demo.actors import ALEX, CONTOSO_ID, LEE, NOAH, OLGA, PAULA, UNA, WOODGROVE_ID, demo_id, demo_user_id
from purchasegraph.demo.global_ids import PAULAS_POWER_BI, user
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api
from tests.mutations import holders, mutate, problems, read

# Ids that name no user: undecodable, a global ID of another type, a User ID whose key is no UUID.
NOT_USERS = [
    pytest.param("not-an-id", id="undecodable"),
    pytest.param(PAULAS_POWER_BI, id="a-subscription-id"),
    pytest.param(encode_id("User", "not-a-uuid", CONTOSO_ID), id="a-user-id-without-a-uuid"),
]
ERRORS = "userErrors { code field message }"
ASSIGN = f"mutation ($s: ID!, $u: [ID!]!) {{ assignLicenses(subscriptionId: $s, userIds: $u) {{ {ERRORS} }} }}"
UNASSIGN = f"mutation ($s: ID!, $u: [ID!]!) {{ unassignLicenses(subscriptionId: $s, userIds: $u) {{ {ERRORS} }} }}"
REQUEST = f"mutation ($p: ID!, $u: [ID!]) {{ requestLicense(productId: $p, forUserIds: $u) {{ {ERRORS} }} }}"
DEPART = f"mutation ($u: ID!) {{ markUserDeparted(userId: $u) {{ user {{ id }} {ERRORS} }} }}"
REINSTATE = f"mutation ($u: ID!) {{ reinstateUser(userId: $u) {{ user {{ id }} {ERRORS} }} }}"

# (mutation, who sends it, its variables around the unknown id, the field the refusal names)
USER_MUTATIONS = [
    pytest.param(ASSIGN, PAULA, lambda u: {"s": PAULAS_POWER_BI, "u": [user(UNA), u]}, ["userIds", "1"], id="assign"),
    pytest.param(
        UNASSIGN, PAULA, lambda u: {"s": PAULAS_POWER_BI, "u": [user(LEE), u]}, ["userIds", "1"], id="unassign"
    ),
    pytest.param(REQUEST, NOAH, lambda u: {"p": POWER_BI_PRO, "u": [u]}, ["forUserIds", "0"], id="request"),
    pytest.param(DEPART, ALEX, lambda u: {"u": u}, ["userId"], id="depart"),
    pytest.param(REINSTATE, ALEX, lambda u: {"u": u}, ["userId"], id="reinstate"),
]


@pytest.mark.parametrize("unknown", NOT_USERS)
@pytest.mark.parametrize(("query", "sender", "variables", "field"), USER_MUTATIONS)
async def test_unknown_user_id_is_not_found(
    api: Api, query: str, sender: str, variables: Any, field: list[str], unknown: str
) -> None:
    payload = await mutate(api, query, sender, **variables(unknown))
    assert problems(payload) == [("NOT_FOUND", field)]
    assert payload["userErrors"][0]["message"] == "No such user."


async def test_an_unknown_user_id_changes_nothing_and_is_audited_as_sent(api: Api) -> None:
    before = holders(await read(api, PAULAS_POWER_BI))
    payload = await mutate(api, ASSIGN, PAULA, s=PAULAS_POWER_BI, u=[user(UNA), "not-an-id"])
    assert problems(payload) == [("NOT_FOUND", ["userIds", "1"])]
    assert holders(await read(api, PAULAS_POWER_BI)) == before
    audited = await api.conn.fetchrow(
        "SELECT tenant_id, target_type, outcome, error_codes FROM audit_events"
        " WHERE action = 'license.assign' AND target_id = 'not-an-id'"
    )
    assert dict(audited) == {
        "tenant_id": CONTOSO_ID,
        "target_type": "User",
        "outcome": "refused",
        "error_codes": ["NOT_FOUND"],
    }


async def test_a_user_of_another_tenant_or_of_none_is_still_not_in_the_tenant(api: Api) -> None:
    for outside in (user(OLGA, WOODGROVE_ID), str(uuid.uuid4())):
        payload = await mutate(api, ASSIGN, PAULA, s=PAULAS_POWER_BI, u=[outside])
        assert problems(payload) == [("USER_NOT_IN_TENANT", ["userIds", "0"])]


async def test_without_a_sign_in_an_unknown_id_is_unauthenticated(api: Api) -> None:
    data = await api.data(ASSIGN, variables={"s": "not-an-id", "u": ["not-an-id"]})
    assert problems(data["assignLicenses"]) == [("UNAUTHENTICATED", None)]


NOT_A_CARD = encode_id("Subscription", demo_id(f"payment_method:{PAULA}:current"), CONTOSO_ID)
START_TRIAL = f"mutation ($p: ID!, $pm: ID) {{ startTrial(productId: $p, paymentMethodId: $pm) {{ {ERRORS} }} }}"
UPDATE_CARD = (
    "mutation ($s: ID!, $pm: ID!) { updateSubscriptionPaymentMethod(subscriptionId: $s, paymentMethodId: $pm) {"
    f" {ERRORS} }} }}"
)
PAY = (
    'mutation ($i: ID!, $pm: ID) { payInvoice(invoiceId: $i, idempotencyKey: "k", paymentMethodId: $pm) {'
    f" {ERRORS} }} }}"
)
REMOVE_CARD = (
    "mutation ($pm: ID!, $r: ID) { removePaymentMethod(paymentMethodId: $pm, replacementPaymentMethodId: $r) {"
    f" {ERRORS} }} }}"
)
APPROVE = (
    "mutation ($r: ID!, $s: ID) { approveLicenseRequest(requestId: $r, assignFromSubscriptionId: $s) {"
    f" {ERRORS} }} }}"
)
PAULAS_CARD = encode_id("PaymentMethod", demo_id(f"payment_method:{PAULA}:current"), CONTOSO_ID)
AN_INVOICE = encode_id("Invoice", uuid.uuid4(), CONTOSO_ID)
A_REQUEST = encode_id("LicenseRequest", uuid.uuid4(), CONTOSO_ID)

# Ids beside the object acted on: the refusal names the argument they came in.
SECOND_IDS = [
    pytest.param(START_TRIAL, {"p": VISIO_PLAN_1}, "pm", "paymentMethodId", "payment method", id="start-trial"),
    pytest.param(UPDATE_CARD, {"s": PAULAS_POWER_BI}, "pm", "paymentMethodId", "payment method", id="update-card"),
    pytest.param(PAY, {"i": AN_INVOICE}, "pm", "paymentMethodId", "payment method", id="pay-invoice"),
    pytest.param(
        REMOVE_CARD, {"pm": PAULAS_CARD}, "r", "replacementPaymentMethodId", "payment method", id="remove-card"
    ),
]


@pytest.mark.parametrize(("query", "variables", "name", "field", "what"), SECOND_IDS)
@pytest.mark.parametrize("unknown", ["not-an-id", NOT_A_CARD])
async def test_an_unknown_card_id_is_not_found(
    api: Api, query: str, variables: dict[str, str], name: str, field: str, what: str, unknown: str
) -> None:
    payload = await mutate(api, query, PAULA, **variables, **{name: unknown})
    assert problems(payload) == [("NOT_FOUND", [field])]
    assert payload["userErrors"][0]["message"] == f"No such {what}."


@pytest.mark.parametrize("unknown", ["not-an-id", user(LEE)])
async def test_an_unknown_subscription_to_assign_from_is_not_found(api: Api, unknown: str) -> None:
    payload = await mutate(api, APPROVE, ALEX, r=A_REQUEST, s=unknown)
    assert problems(payload) == [("NOT_FOUND", ["assignFromSubscriptionId"])]


async def test_an_unknown_tenant_id_is_not_found(api: Api) -> None:
    query = (
        "mutation ($t: ID!, $p: ID!) { setSelfServicePolicy(tenantId: $t, productId: $p, value: DISABLED) {"
        f" {ERRORS} }} }}"
    )
    for unknown in ("contoso.example", encode_id("User", demo_user_id(ALEX), CONTOSO_ID)):
        assert problems(await mutate(api, query, ALEX, t=unknown, p=POWER_BI_PRO)) == [("NOT_FOUND", ["tenantId"])]
