"""License requests as a workflow (one pending per user and product, approve-and-assign in one
transaction, the named colleagues told and able to see it), notifications with read state, and
one product's self-service policy with MSCommerce's rule for trials without a payment method."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from purchasegraph.catalogue import POWER_BI_PRO, PROJECT_PLAN_3, VISIO_PLAN_1
from purchasegraph.demo.actors import (
    ALEX,
    BEA,
    CONTOSO,
    CONTOSO_ID,
    GUS,
    LEE,
    LIA,
    MIA,
    NOAH,
    OLGA,
    PAT,
    PAULA,
    RITA,
    TESS,
    UNA,
    WILL,
    demo_id,
)
from purchasegraph.demo.global_ids import CENTRAL_POWER_APPS, CENTRAL_POWER_BI, PAULAS_POWER_BI, user
from purchasegraph.identity import AppRole
from purchasegraph.schema.ids import decode_id, encode_id
from tests.conftest import Api
from tests.mutations import mutate, problems

CENTRAL_POWER_BI_UUID = demo_id("subscription:contoso-central-power-bi-pro")
LEES_REQUEST = encode_id("LicenseRequest", demo_id("license_request:lee-project-plan-3"), CONTOSO_ID)

ERRORS = "userErrors { code field message }"
REQUEST_LICENSE = f"""
mutation ($p: ID!, $for: [ID!]) {{
  requestLicense(productId: $p, forUserIds: $for) {{ licenseRequest {{ id status }} {ERRORS} }}
}}
"""
APPROVE = f"""
mutation ($r: ID!, $from: ID) {{
  approveLicenseRequest(requestId: $r, assignFromSubscriptionId: $from) {{
    licenseRequest {{ id status decidedAt forUsers {{ userPrincipalName }} }}
    {ERRORS}
  }}
}}
"""
DENY = f"mutation ($r: ID!) {{ denyLicenseRequest(requestId: $r) {{ licenseRequest {{ status }} {ERRORS} }} }}"
NOTIFICATIONS = """
query ($unread: Boolean! = false) {
  viewer { notifications(first: 100, unreadOnly: $unread) { nodes { id kind subjectId readAt createdAt } } }
}
"""
MARK_READ = f"mutation ($ids: [ID!]) {{ markNotificationsRead(ids: $ids) {{ markedCount {ERRORS} }} }}"
REQUEST_BY_ID = (
    "query ($id: ID!) { node(id: $id) { ... on LicenseRequest { id status requester { userPrincipalName } } } }"
)
REQUESTS_OF_CONTOSO = f'{{ tenant(id: "{CONTOSO}") {{ licenseRequests(first: 100) {{ nodes {{ id status }} }} }} }}'
POLICY = """
query ($t: ID!, $p: ID!) { tenant(id: $t) { policy(productId: $p) { value updatedAt product { productId } } } }
"""
SET_POLICY = f"""
mutation ($p: ID!, $v: SelfServicePolicyValue!) {{
  setSelfServicePolicy(tenantId: "{CONTOSO}", productId: $p, value: $v) {{ policy {{ value }} {ERRORS} }}
}}
"""
LIVE_HOLDERS = """
SELECT u.user_principal_name FROM license_assignments a JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.user_id
 WHERE a.tenant_id = $1 AND a.subscription_id = $2 AND a.removed_at IS NULL
"""


async def request_license(api: Api, as_user: str, product: str, colleagues: list[str]) -> dict[str, Any]:
    return await mutate(api, REQUEST_LICENSE, as_user, p=product, **{"for": colleagues})


async def notifications(api: Api, as_user: str, *, unread: bool = False) -> list[dict[str, Any]]:
    data = await api.data(NOTIFICATIONS, as_user=as_user, variables={"unread": unread})
    found: list[dict[str, Any]] = data["viewer"]["notifications"]["nodes"]
    return found


async def holders(api: Api, subscription_id: uuid.UUID) -> set[str]:
    return {r[0] for r in await api.conn.fetch(LIVE_HOLDERS, CONTOSO_ID, subscription_id)}


async def block_power_bi(api: Api) -> None:
    """Contoso's admins turn Power BI Pro off for self-service, so its users ask instead of buying."""
    assert problems(await mutate(api, SET_POLICY, ALEX, p=POWER_BI_PRO, v="DISABLED")) == []


def request_uuid(global_id: str) -> str:
    gid = decode_id(global_id)
    assert gid is not None
    return gid.key


# -- one pending request per user and product ---------------------------------------------------


async def test_a_user_has_one_pending_request_per_product(api: Api) -> None:
    first = await request_license(api, UNA, PROJECT_PLAN_3, [])
    assert first["userErrors"] == []
    assert first["licenseRequest"]["status"] == "PENDING"
    again = await request_license(api, UNA, PROJECT_PLAN_3, [user(TESS)])
    assert problems(again) == [("LICENSE_ALREADY_REQUESTED", ["productId"])]
    assert again["licenseRequest"] is None
    # Another user asks for the same product, and once decided the first may ask again.
    assert (await request_license(api, NOAH, PROJECT_PLAN_3, []))["userErrors"] == []
    assert (await mutate(api, DENY, ALEX, r=first["licenseRequest"]["id"]))["userErrors"] == []
    assert (await request_license(api, UNA, PROJECT_PLAN_3, []))["userErrors"] == []


async def test_the_database_holds_one_pending_request_per_user_and_product(api: Api) -> None:
    lee = api.ids[LEE].user_id
    with pytest.raises(asyncpg.UniqueViolationError):
        async with api.conn.transaction():
            await api.conn.execute(
                "INSERT INTO license_requests (tenant_id, id, product_id, requester_user_id, for_user_ids, status)"
                " VALUES ($1, $2, $3, $4, ARRAY[$4::uuid], 'pending')",
                CONTOSO_ID,
                uuid.uuid4(),
                PROJECT_PLAN_3,
                lee,
            )


async def test_a_refused_second_request_is_audited_and_tells_no_admin(api: Api) -> None:
    assert (await request_license(api, UNA, PROJECT_PLAN_3, []))["userErrors"] == []
    told = len(await notifications(api, ALEX))
    assert problems(await request_license(api, UNA, PROJECT_PLAN_3, [])) == [
        ("LICENSE_ALREADY_REQUESTED", ["productId"])
    ]
    assert len(await notifications(api, ALEX)) == told
    row = await api.conn.fetchrow(
        "SELECT outcome, error_codes FROM audit_events WHERE tenant_id = $1 AND action = 'license_request.create'"
        " ORDER BY tenant_seq DESC LIMIT 1",
        CONTOSO_ID,
    )
    assert (row["outcome"], list(row["error_codes"])) == ("refused", ["LICENSE_ALREADY_REQUESTED"])


# -- the named colleagues -----------------------------------------------------------------------


async def test_named_colleagues_are_notified_and_see_the_request(api: Api) -> None:
    request = (await request_license(api, UNA, PROJECT_PLAN_3, [user(TESS)]))["licenseRequest"]
    (told,) = [n for n in await notifications(api, TESS) if n["kind"] == "license_requested_for_you"]
    assert told["subjectId"] == request_uuid(request["id"])
    seen = await api.data(REQUEST_BY_ID, as_user=TESS, variables={"id": request["id"]})
    assert seen["node"] == {"id": request["id"], "status": "PENDING", "requester": {"userPrincipalName": UNA}}
    listed = await api.data(REQUESTS_OF_CONTOSO, as_user=TESS)
    assert request["id"] in {n["id"] for n in listed["tenant"]["licenseRequests"]["nodes"]}


async def test_a_colleague_not_named_neither_sees_nor_hears_of_the_request(api: Api) -> None:
    request = (await request_license(api, UNA, PROJECT_PLAN_3, [user(TESS)]))["licenseRequest"]
    assert (await api.data(REQUEST_BY_ID, as_user=MIA, variables={"id": request["id"]}))["node"] is None
    listed = await api.data(REQUESTS_OF_CONTOSO, as_user=MIA)
    assert request["id"] not in {n["id"] for n in listed["tenant"]["licenseRequests"]["nodes"]}
    assert request_uuid(request["id"]) not in {n["subjectId"] for n in await notifications(api, MIA)}


# -- the admins' worklist -------------------------------------------------------------------------

PENDING_OF_CONTOSO = (
    f'{{ tenant(id: "{CONTOSO}") {{ licenseRequests(first: 100, status: PENDING) {{ nodes {{ id status }} }} }} }}'
)


async def test_the_worklist_filters_requests_by_status(api: Api) -> None:
    request = (await request_license(api, UNA, PROJECT_PLAN_3, []))["licenseRequest"]
    pending = (await api.data(PENDING_OF_CONTOSO, as_user=ALEX))["tenant"]["licenseRequests"]["nodes"]
    assert {n["status"] for n in pending} == {"PENDING"}
    assert {request["id"], LEES_REQUEST} <= {n["id"] for n in pending}
    everything = (await api.data(REQUESTS_OF_CONTOSO, as_user=ALEX))["tenant"]["licenseRequests"]["nodes"]
    assert {n["status"] for n in everything} >= {"PENDING", "DENIED"}
    denied = await api.data(PENDING_OF_CONTOSO.replace("PENDING", "DENIED"), as_user=ALEX)
    assert {n["status"] for n in denied["tenant"]["licenseRequests"]["nodes"]} == {"DENIED"}
    # A member's worklist is their own requests and those naming them, filtered the same way.
    assert [
        n["id"] for n in (await api.data(PENDING_OF_CONTOSO, as_user=UNA))["tenant"]["licenseRequests"]["nodes"]
    ] == [request["id"]]


# -- approve and assign ---------------------------------------------------------------------------


async def test_approving_with_a_central_subscription_assigns_everyone_the_request_is_for(api: Api) -> None:
    await block_power_bi(api)
    request = (await request_license(api, UNA, POWER_BI_PRO, [user(TESS)]))["licenseRequest"]
    before = await holders(api, CENTRAL_POWER_BI_UUID)
    approved = await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": CENTRAL_POWER_BI})
    assert approved["userErrors"] == []
    assert approved["licenseRequest"]["status"] == "APPROVED"
    assert await holders(api, CENTRAL_POWER_BI_UUID) == before | {UNA, TESS}
    # Told within the test's one transaction, at one app_now(): found by kind, not by place.
    for someone in (UNA, TESS):
        assert "license_request_approved" in {n["kind"] for n in await notifications(api, someone)}
    stored = await api.conn.fetchval(
        "SELECT assigned_from_subscription_id FROM license_requests WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        uuid.UUID(request_uuid(request["id"])),
    )
    assert stored == CENTRAL_POWER_BI_UUID


ASSIGNED_FROM = "query ($id: ID!) { node(id: $id) { ... on LicenseRequest { status assignedFrom { id } } } }"


async def test_a_request_tells_whom_it_was_assigned_from_to_those_who_see_that_subscription(api: Api) -> None:
    await block_power_bi(api)
    request = (await request_license(api, UNA, POWER_BI_PRO, [user(TESS)]))["licenseRequest"]
    pending = await api.data(ASSIGNED_FROM, as_user=ALEX, variables={"id": request["id"]})
    assert pending["node"] == {"status": "PENDING", "assignedFrom": None}
    await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": CENTRAL_POWER_BI})
    for actor, seen in ((ALEX, {"id": CENTRAL_POWER_BI}), (PAT, {"id": CENTRAL_POWER_BI}), (UNA, None), (TESS, None)):
        # The admins and the admin partner see the central subscription; the requester and the
        # colleague see the request but not a subscription they did not buy.
        expected = {"node": {"status": "APPROVED", "assignedFrom": seen}}
        assert await api.data(ASSIGNED_FROM, as_user=actor, variables={"id": request["id"]}) == expected, actor
        assert await api.compiled(ASSIGNED_FROM, as_user=actor, variables={"id": request["id"]}) == expected, actor


async def test_approving_without_a_subscription_approves_only(api: Api) -> None:
    await block_power_bi(api)
    request = (await request_license(api, UNA, POWER_BI_PRO, [user(TESS)]))["licenseRequest"]
    before = await holders(api, CENTRAL_POWER_BI_UUID)
    approved = await mutate(api, APPROVE, ALEX, r=request["id"])
    assert (approved["userErrors"], approved["licenseRequest"]["status"]) == ([], "APPROVED")
    assert await holders(api, CENTRAL_POWER_BI_UUID) == before
    assert "license_request_approved" in {n["kind"] for n in await notifications(api, TESS)}


async def test_a_user_who_already_holds_a_license_of_it_is_not_assigned_twice(api: Api) -> None:
    await block_power_bi(api)
    # Rita holds a central Power BI license (seeded); Una asks for herself and for Rita.
    request = (await request_license(api, UNA, POWER_BI_PRO, [user(RITA)]))["licenseRequest"]
    before = await holders(api, CENTRAL_POWER_BI_UUID)
    assert RITA in before
    approved = await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": CENTRAL_POWER_BI})
    assert approved["userErrors"] == []
    assert await holders(api, CENTRAL_POWER_BI_UUID) == before | {UNA}


async def test_an_approval_with_too_few_free_licenses_is_refused_and_writes_nothing(api: Api) -> None:
    await block_power_bi(api)
    request = (await request_license(api, UNA, POWER_BI_PRO, [user(TESS)]))["licenseRequest"]
    # One free license left for the two users the request is for.
    await api.conn.execute(
        "UPDATE subscriptions SET quantity = (SELECT count(*) + 1 FROM license_assignments"
        " WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL) WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        CENTRAL_POWER_BI_UUID,
    )
    before = await holders(api, CENTRAL_POWER_BI_UUID)
    told = [n["id"] for n in await notifications(api, TESS)]
    refused = await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": CENTRAL_POWER_BI})
    assert problems(refused) == [("NO_LICENSES_LEFT", ["assignFromSubscriptionId"])]
    assert refused["licenseRequest"] is None
    assert await holders(api, CENTRAL_POWER_BI_UUID) == before
    assert [n["id"] for n in await notifications(api, TESS)] == told
    seen = await api.data(REQUEST_BY_ID, as_user=ALEX, variables={"id": request["id"]})
    assert seen["node"]["status"] == "PENDING"
    audited = await api.conn.fetchrow(
        "SELECT target_type, target_id, outcome, error_codes FROM audit_events WHERE tenant_id = $1"
        " AND action = 'license_request.approve' ORDER BY tenant_seq DESC LIMIT 1",
        CONTOSO_ID,
    )
    assert dict(audited) == {
        "target_type": "LicenseRequest",
        "target_id": request_uuid(request["id"]),
        "outcome": "refused",
        "error_codes": ["NO_LICENSES_LEFT"],
    }


async def test_licenses_are_assigned_only_from_a_subscription_the_admins_control_of_that_product(
    api: Api,
) -> None:
    await block_power_bi(api)
    request = (await request_license(api, UNA, POWER_BI_PRO, []))["licenseRequest"]
    # Paula's Power BI Pro is hers to assign (she controls it); Power Apps is another product.
    assert problems(await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": PAULAS_POWER_BI})) == [
        ("NOT_IN_CONTROL", ["assignFromSubscriptionId"])
    ]
    assert problems(await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": CENTRAL_POWER_APPS})) == [
        ("PRODUCT_MISMATCH", ["assignFromSubscriptionId"])
    ]
    nowhere = encode_id("Subscription", uuid.uuid4(), CONTOSO_ID)
    assert problems(await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": nowhere})) == [
        ("NOT_FOUND", ["assignFromSubscriptionId"])
    ]
    # Another tenant's subscription is not found either, whatever its id names.
    elsewhere = encode_id("Subscription", CENTRAL_POWER_BI_UUID, uuid.uuid4())
    assert problems(await mutate(api, APPROVE, ALEX, r=request["id"], **{"from": elsewhere})) == [
        ("NOT_FOUND", ["assignFromSubscriptionId"])
    ]


# Role x operation: approving Lee's pending request (Project Plan 3) with licenses from the
# central Power BI subscription is refused for its product; the order of checks is the matrix's:
# who may decide first, then the subscription. Approving without one is in test_mutation_matrix.
APPROVE_AND_ASSIGN_BY_ROLE = [
    (ALEX, "PRODUCT_MISMATCH"),
    (BEA, "PRODUCT_MISMATCH"),
    (PAT, "PRODUCT_MISMATCH"),
    (RITA, "NOT_AUTHORIZED"),
    (PAULA, "NOT_AUTHORIZED"),
    (LEE, "NOT_AUTHORIZED"),
    (GUS, "NOT_AUTHORIZED"),
    (LIA, "NOT_FOUND"),
    (OLGA, "NOT_FOUND"),
    (WILL, "NOT_FOUND"),
]


@pytest.mark.parametrize(("actor", "code"), APPROVE_AND_ASSIGN_BY_ROLE)
async def test_only_admins_and_admin_partners_approve_and_assign(api: Api, actor: str, code: str) -> None:
    payload = await mutate(api, APPROVE, actor, r=LEES_REQUEST, **{"from": CENTRAL_POWER_BI})
    field = "assignFromSubscriptionId" if code == "PRODUCT_MISMATCH" else "requestId"
    assert problems(payload) == [(code, [field])]


async def test_an_anonymous_caller_approves_nothing(api: Api) -> None:
    result = await api.execute(APPROVE, variables={"r": LEES_REQUEST, "from": CENTRAL_POWER_BI})
    assert result.data is not None
    assert [e["code"] for e in result.data["approveLicenseRequest"]["userErrors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("admin", [ALEX, BEA, PAT])
async def test_admins_and_admin_partners_approve_and_assign_a_request(api: Api, admin: str) -> None:
    await block_power_bi(api)
    request = (await request_license(api, UNA, POWER_BI_PRO, []))["licenseRequest"]
    approved = await mutate(api, APPROVE, admin, r=request["id"], **{"from": CENTRAL_POWER_BI})
    assert approved["userErrors"] == []
    assert UNA in await holders(api, CENTRAL_POWER_BI_UUID)


# -- notifications ----------------------------------------------------------------------------------


async def test_a_notification_is_unread_until_its_user_marks_it_read(api: Api) -> None:
    request = (await request_license(api, UNA, PROJECT_PLAN_3, []))["licenseRequest"]
    newest = (await notifications(api, ALEX))[0]
    assert (newest["kind"], newest["subjectId"], newest["readAt"]) == (
        "license_requested",
        request_uuid(request["id"]),
        None,
    )
    assert newest["id"] in {n["id"] for n in await notifications(api, ALEX, unread=True)}
    assert await mutate(api, MARK_READ, ALEX, ids=[newest["id"]]) == {"markedCount": 1, "userErrors": []}
    (read,) = [n for n in await notifications(api, ALEX) if n["id"] == newest["id"]]
    assert read["readAt"] is not None
    assert newest["id"] not in {n["id"] for n in await notifications(api, ALEX, unread=True)}
    # Marking it again changes nothing: it keeps the time it was first read.
    assert await mutate(api, MARK_READ, ALEX, ids=[newest["id"]]) == {"markedCount": 0, "userErrors": []}
    (again,) = [n for n in await notifications(api, ALEX) if n["id"] == newest["id"]]
    assert again["readAt"] == read["readAt"]


async def test_marking_all_read_marks_only_the_viewers_own(api: Api) -> None:
    await request_license(api, UNA, PROJECT_PLAN_3, [])  # Alex and Bea are both told
    bea_unread = len(await notifications(api, BEA, unread=True))
    assert bea_unread > 0
    marked = await mutate(api, MARK_READ, ALEX, ids=None)
    assert marked["userErrors"] == []
    assert marked["markedCount"] > 0
    assert await notifications(api, ALEX, unread=True) == []
    assert len(await notifications(api, BEA, unread=True)) == bea_unread


async def test_someone_elses_notification_cannot_be_marked_read(api: Api) -> None:
    await request_license(api, UNA, PROJECT_PLAN_3, [])
    alexs = (await notifications(api, ALEX, unread=True))[0]["id"]
    not_a_notification = encode_id("Subscription", uuid.uuid4(), CONTOSO_ID)
    for someone in (BEA, PAT, OLGA):
        refused = await mutate(api, MARK_READ, someone, ids=[alexs, not_a_notification])
        assert problems(refused) == [("NOT_FOUND", ["ids", "0"]), ("NOT_FOUND", ["ids", "1"])]
        assert refused["markedCount"] == 0
    assert alexs in {n["id"] for n in await notifications(api, ALEX, unread=True)}


async def test_a_refused_mark_marks_none_of_the_named_ones(api: Api) -> None:
    await request_license(api, UNA, PROJECT_PLAN_3, [])
    mine = (await notifications(api, BEA, unread=True))[0]["id"]
    alexs = (await notifications(api, ALEX, unread=True))[0]["id"]
    assert problems(await mutate(api, MARK_READ, BEA, ids=[mine, alexs])) == [("NOT_FOUND", ["ids", "1"])]
    assert mine in {n["id"] for n in await notifications(api, BEA, unread=True)}


@pytest.mark.parametrize("actor", [ALEX, BEA, RITA, PAULA, LEE, GUS, PAT, LIA, OLGA, WILL])
async def test_every_signed_in_user_marks_their_own_notifications_read(api: Api, actor: str) -> None:
    marked = await mutate(api, MARK_READ, actor, ids=None)
    assert marked["userErrors"] == []
    assert await notifications(api, actor, unread=True) == []
    event = await api.conn.fetchrow(
        "SELECT action, outcome, actor_user_id FROM audit_events WHERE tenant_id = $1 ORDER BY tenant_seq DESC LIMIT 1",
        api.ids[actor].tenant_id,
    )
    assert (event["action"], event["outcome"], event["actor_user_id"]) == (
        "notification.mark_read",
        "accepted",
        api.ids[actor].user_id,
    )


async def test_an_anonymous_caller_or_an_application_marks_nothing_read(api: Api) -> None:
    anonymous = await api.execute(MARK_READ, variables={"ids": None})
    assert anonymous.data is not None
    assert [e["code"] for e in anonymous.data["markNotificationsRead"]["userErrors"]] == ["UNAUTHENTICATED"]
    app = await api.execute_as_app(
        MARK_READ, app_id=uuid.uuid4(), tenant_id=CONTOSO_ID, roles=[AppRole.READ_ALL], variables={"ids": None}
    )
    assert app.data is not None
    assert [e["code"] for e in app.data["markNotificationsRead"]["userErrors"]] == ["NOT_AUTHORIZED"]


# -- one product's policy ---------------------------------------------------------------------------

POLICY_READERS = [ALEX, BEA, RITA, PAT]
POLICY_NON_READERS = [PAULA, LEE, GUS, LIA, OLGA, WILL]


@pytest.mark.parametrize("actor", POLICY_READERS)
async def test_admins_readers_and_partners_read_one_products_policy(api: Api, actor: str) -> None:
    data = await api.data(POLICY, as_user=actor, variables={"t": CONTOSO, "p": PROJECT_PLAN_3})
    policy = data["tenant"]["policy"]
    assert (policy["value"], policy["product"]) == ("DISABLED", {"productId": PROJECT_PLAN_3})
    # A product with no row is ENABLED, never set.
    data = await api.data(POLICY, as_user=actor, variables={"t": CONTOSO, "p": "CFQ7TTC0LH2H"})
    assert data["tenant"]["policy"] == {"value": "ENABLED", "updatedAt": None, "product": {"productId": "CFQ7TTC0LH2H"}}


@pytest.mark.parametrize("actor", POLICY_NON_READERS)
async def test_nobody_else_reads_a_policy(api: Api, actor: str) -> None:
    data = await api.data(POLICY, as_user=actor, variables={"t": CONTOSO, "p": PROJECT_PLAN_3})
    assert data["tenant"] is None or data["tenant"]["policy"] is None


async def test_an_application_allowed_the_policies_reads_one(api: Api) -> None:
    result = await api.execute_as_app(
        POLICY,
        app_id=uuid.uuid4(),
        tenant_id=CONTOSO_ID,
        roles=[AppRole.POLICY_READ_WRITE],
        variables={"t": CONTOSO, "p": encode_id("Product", PROJECT_PLAN_3)},
    )
    assert result.errors is None
    assert result.data is not None
    assert result.data["tenant"]["policy"]["value"] == "DISABLED"


async def test_a_product_not_sold_self_service_or_unknown_has_no_policy(api: Api) -> None:
    for product in ("CFQ7TTC0XXXX", "no such product"):
        data = await api.data(POLICY, as_user=ALEX, variables={"t": CONTOSO, "p": product})
        assert data["tenant"]["policy"] is None


POLICY_CHANGES = f"""
{{ tenant(id: "{CONTOSO}") {{
    auditEvents(first: 100) {{ nodes {{ action outcome targetId previousValue newValue }} }} }} }}
"""


async def test_a_policy_change_is_audited_with_its_value_before_and_after(api: Api) -> None:
    for value in ("DISABLED", "ENABLED"):
        changed = await mutate(api, SET_POLICY, ALEX, p=PROJECT_PLAN_3, v=value)
        assert changed["userErrors"] == []
    events = (await api.data(POLICY_CHANGES, as_user=ALEX))["tenant"]["auditEvents"]["nodes"]
    changes = [
        (e["previousValue"], e["newValue"])
        for e in events
        if e["action"] == "self_service_policy.update" and e["outcome"] == "accepted"
    ]
    assert ("disabled", "enabled") in changes
    assert any(new == "disabled" for _old, new in changes)
    # Every other event carries neither, and both read paths say the same.
    assert all(e["previousValue"] is None for e in events if e["action"] == "license.request")
    assert await api.compiled(POLICY_CHANGES, as_user=ALEX) == await api.data(POLICY_CHANGES, as_user=ALEX)


async def test_trials_only_is_refused_for_a_product_whose_trial_needs_a_card(api: Api) -> None:
    refused = await mutate(api, SET_POLICY, ALEX, p=POWER_BI_PRO, v="ONLY_TRIALS_WITHOUT_PAYMENT_METHOD")
    assert problems(refused) == [("TRIAL_REQUIRES_PAYMENT_METHOD", ["value"])]
    assert refused["policy"] is None
    data = await api.data(POLICY, as_user=ALEX, variables={"t": CONTOSO, "p": POWER_BI_PRO})
    assert data["tenant"]["policy"]["value"] == "ENABLED"
    row = await api.conn.fetchrow(
        "SELECT outcome, error_codes FROM audit_events WHERE tenant_id = $1 AND action = 'self_service_policy.update'"
        " ORDER BY tenant_seq DESC LIMIT 1",
        CONTOSO_ID,
    )
    assert (row["outcome"], list(row["error_codes"])) == ("refused", ["TRIAL_REQUIRES_PAYMENT_METHOD"])


async def test_trials_only_is_refused_for_a_product_without_a_trial(api: Api) -> None:
    no_trial = await api.conn.fetchval("SELECT id FROM products WHERE self_service AND NOT trial_available ORDER BY id")
    assert no_trial is not None
    refused = await mutate(api, SET_POLICY, ALEX, p=no_trial, v="ONLY_TRIALS_WITHOUT_PAYMENT_METHOD")
    assert problems(refused) == [("TRIAL_REQUIRES_PAYMENT_METHOD", ["value"])]


async def test_trials_only_is_accepted_for_a_product_whose_trial_needs_no_card(api: Api) -> None:
    assert problems(await mutate(api, SET_POLICY, ALEX, p=VISIO_PLAN_1, v="ENABLED")) == []
    accepted = await mutate(api, SET_POLICY, ALEX, p=VISIO_PLAN_1, v="ONLY_TRIALS_WITHOUT_PAYMENT_METHOD")
    assert (accepted["userErrors"], accepted["policy"]) == ([], {"value": "ONLY_TRIALS_WITHOUT_PAYMENT_METHOD"})
    details = await api.conn.fetchval(
        "SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'self_service_policy.update'"
        " ORDER BY tenant_seq DESC LIMIT 1",
        CONTOSO_ID,
    )
    assert (details["old_value"], details["new_value"]) == ("enabled", "only_trials_without_payment_method")


# -- both read paths -----------------------------------------------------------------------------------

COMPILED_READS = [
    (ALEX, POLICY, {"t": CONTOSO, "p": PROJECT_PLAN_3}),
    (ALEX, POLICY, {"t": CONTOSO, "p": encode_id("Product", VISIO_PLAN_1)}),
    (LEE, POLICY, {"t": CONTOSO, "p": PROJECT_PLAN_3}),
    (ALEX, NOTIFICATIONS, {"unread": True}),
    (ALEX, NOTIFICATIONS, {"unread": False}),
    (TESS, REQUESTS_OF_CONTOSO, {}),
    (ALEX, PENDING_OF_CONTOSO, {}),
    (
        ALEX,
        "query ($s: LicenseRequestStatus, $t: ID!) { tenant(id: $t) { licenseRequests(status: $s) { nodes { id } } } }",
        {"s": "APPROVED", "t": CONTOSO},
    ),
    (UNA, PENDING_OF_CONTOSO, {}),
    (ALEX, PENDING_OF_CONTOSO.replace("PENDING", "DENIED"), {}),
    (ALEX, REQUESTS_OF_CONTOSO, {}),
]


@pytest.mark.parametrize(("actor", "query", "variables"), COMPILED_READS)
async def test_the_new_reads_compile_to_what_the_resolvers_answer(
    api: Api, actor: str, query: str, variables: dict[str, Any]
) -> None:
    await request_license(api, UNA, PROJECT_PLAN_3, [user(TESS)])
    alexs = (await notifications(api, ALEX))[0]["id"]
    await mutate(api, MARK_READ, ALEX, ids=[alexs])
    expected = await api.data(query, as_user=actor, variables=variables)
    assert await api.compiled(query, as_user=actor, variables=variables) == expected


def readme_block(operation: str) -> str:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```graphql\n(.*?)```", text, re.S)
    (block,) = [b for b in blocks if f"mutation {operation}(" in b]
    return block


async def test_the_readmes_approve_and_assign_runs_as_written(api: Api) -> None:
    await block_power_bi(api)
    request = (await request_license(api, UNA, POWER_BI_PRO, [user(TESS)]))["licenseRequest"]
    payload = await mutate(
        api, readme_block("ApproveAndAssign"), ALEX, request=request["id"], **{"from": CENTRAL_POWER_BI}
    )
    assert payload["userErrors"] == []
    assert payload["licenseRequest"]["status"] == "APPROVED"
    assert {u["displayName"] for u in payload["licenseRequest"]["forUsers"]} == {"Una Unlicensed", "Tess Tan"}
    assert {UNA, TESS} <= await holders(api, CENTRAL_POWER_BI_UUID)


# -- the migration on a database that has requests already -----------------------------------------

MIGRATION = Path(__file__).resolve().parent.parent / "purchasegraph/db/migrations/0021_license_request_workflow.sql"


async def test_the_migration_keeps_the_oldest_of_duplicate_pending_requests_pending(api: Api) -> None:
    """Written before the rule, a user's duplicate pending requests: the migration closes all but
    the oldest, so its unique index can be built on an existing database."""
    lines = MIGRATION.read_text(encoding="utf-8").splitlines()
    code = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    statements = [s.strip() for s in code.split(";") if s.strip()]
    backfill, index = (
        next(s for s in statements if s.startswith(kind)) for kind in ("UPDATE license_requests", "CREATE UNIQUE INDEX")
    )
    await api.conn.execute("DROP INDEX license_requests_one_pending")
    lee = api.ids[LEE].user_id
    later = [uuid.uuid4(), uuid.uuid4()]
    for offset, request_id in enumerate(later, start=1):
        await api.conn.execute(
            "INSERT INTO license_requests (tenant_id, id, product_id, requester_user_id, for_user_ids, status,"
            " created_at) VALUES ($1, $2, $3, $4, ARRAY[$4::uuid], 'pending', app_now() + $5 * interval '1 hour')",
            CONTOSO_ID,
            request_id,
            PROJECT_PLAN_3,
            lee,
            offset,
        )
    await api.conn.execute(backfill)
    await api.conn.execute(index)
    rows = await api.conn.fetch(
        "SELECT id, status FROM license_requests WHERE tenant_id = $1 AND requester_user_id = $2 AND product_id = $3",
        CONTOSO_ID,
        lee,
        PROJECT_PLAN_3,
    )
    assert {r["id"]: r["status"] for r in rows} == {
        demo_id("license_request:lee-project-plan-3"): "pending",
        later[0]: "denied",
        later[1]: "denied",
    }
