"""Authorization at the seams: who keeps the directory, what a disabled account reaches, what the
audit trail tells a partner and an outsider, and one visibility rule per object on every path.

Each test is named as the rule it guards; the rules live in ``purchasegraph.policy``.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.context import build_context
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.demo.actors import (
    ADATUM,
    ALEX,
    BEA,
    CONTOSO,
    CONTOSO_ID,
    GUS,
    LEE,
    LIA,
    LITWARE,
    PAT,
    PAULA,
    SAM,
    UNA,
    WILL,
    WOODGROVE_ID,
    demo_id,
    demo_tenant_id,
    demo_user_id,
)
from purchasegraph.demo.global_ids import (
    GOOD_CARD,
    PAULAS_POWER_BI,
    PAULAS_POWER_BI_UUID,
    SAMS_VISIO_DISABLED,
    subscription,
    user,
)
from purchasegraph.gateway.authentication import signed_in
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.identity import Claims
from purchasegraph.payments import SandboxProcessor
from purchasegraph.policy import HIDDEN_ACTOR_NAME
from purchasegraph.schema import schema
from purchasegraph.schema.ids import decode_id, encode_id
from tests.conftest import Api
from tests.factories import INSERT_ROLE, create_tenant
from tests.mutations import add, assign, holders, mutate, problems, read, remove, travel_to, unassign

ADATUM_ID = demo_tenant_id(ADATUM)
LITWARE_ID = demo_tenant_id(LITWARE)
PAULAS_POWER_APPS = subscription("paula-power-apps")
SAMS_VISIO_DISABLED_UUID = demo_id("subscription:sam-visio-plan-2-disabled")
LEES_REQUEST = encode_id("LicenseRequest", demo_id("license_request:lee-project-plan-3"), CONTOSO_ID)

USER_FIELDS = "user { userPrincipalName accountEnabled departedAt } userErrors { code field message }"
MARK_DEPARTED = f"""
mutation ($u: ID!, $on: Date) {{ markUserDeparted(userId: $u, departedOn: $on) {{ {USER_FIELDS} }} }}
"""
REINSTATE = f"mutation ($u: ID!) {{ reinstateUser(userId: $u) {{ {USER_FIELDS} }} }}"
SET_GRANT = "UPDATE partner_relationships SET roles = $3 WHERE tenant_id = $1 AND partner_tenant_id = $2"
STANDING = "SELECT account_enabled, departed_at FROM users WHERE tenant_id = $1 AND id = $2"
AUDIT_SINCE = "SELECT tenant_id, action, outcome FROM audit_events WHERE id > $1 AND actor_user_id = $2 ORDER BY id"
LATEST_AUDIT_EVENT = "SELECT COALESCE(max(id), 0) FROM audit_events"


async def standing(api: Api, upn: str) -> tuple[bool, datetime.date | None]:
    row = await api.conn.fetchrow(STANDING, api.ids[upn].tenant_id, api.ids[upn].user_id)
    return row["account_enabled"], row["departed_at"]


async def refused_at_sign_in(api: Api, query: str, as_user: str, variables: dict[str, Any] | None = None) -> None:
    with pytest.raises(RequestError) as refused:
        await api.execute(query, as_user=as_user, variables=variables)
    assert (refused.value.code, refused.value.status) == (RequestCode.UNAUTHENTICATED, 401)


# ---------------------------------------------------------------------------------------------
# Admin lock-out: who marks whom departed, and how a mistake is undone


async def test_a_billing_admin_cannot_mark_a_user_departed(api: Api) -> None:
    payload = await mutate(api, MARK_DEPARTED, BEA, u=user(ALEX))
    assert problems(payload) == [("NOT_AUTHORIZED", ["userId"])]
    assert await standing(api, ALEX) == (True, None)


async def test_a_partner_without_a_global_admin_grant_cannot_mark_a_user_departed(api: Api) -> None:
    await api.conn.execute(SET_GRANT, CONTOSO_ID, ADATUM_ID, ["billing_admin"])
    payload = await mutate(api, MARK_DEPARTED, PAT, u=user(UNA))
    assert problems(payload) == [("NOT_AUTHORIZED", ["userId"])]
    assert await standing(api, UNA) == (True, None)


async def test_nobody_marks_their_own_account_departed(api: Api) -> None:
    payload = await mutate(api, MARK_DEPARTED, ALEX, u=user(ALEX))
    assert problems(payload) == [("CANNOT_MARK_SELF", ["userId"])]
    assert await standing(api, ALEX) == (True, None)


async def test_the_last_enabled_global_admin_cannot_be_marked_departed(api: Api) -> None:
    # Alex is Contoso's only global admin: not even a partner with a global-admin grant removes him.
    assert problems(await mutate(api, MARK_DEPARTED, PAT, u=user(ALEX))) == [("LAST_GLOBAL_ADMIN", ["userId"])]
    assert await standing(api, ALEX) == (True, None)
    # With a second one, either may go, but not both.
    await api.conn.execute(INSERT_ROLE, CONTOSO_ID, demo_user_id(UNA), "global_admin")
    assert (await mutate(api, MARK_DEPARTED, PAT, u=user(ALEX)))["userErrors"] == []
    assert problems(await mutate(api, MARK_DEPARTED, PAT, u=user(UNA))) == [("LAST_GLOBAL_ADMIN", ["userId"])]
    assert await standing(api, UNA) == (True, None)


async def test_a_guest_holding_the_global_admin_role_does_not_keep_the_tenant_administered(api: Api) -> None:
    """A guest gets a guest's scope whatever its roles (policy): Alex stays the last global admin."""
    await api.conn.execute(INSERT_ROLE, CONTOSO_ID, demo_user_id(GUS), "global_admin")
    assert problems(await mutate(api, MARK_DEPARTED, PAT, u=user(ALEX))) == [("LAST_GLOBAL_ADMIN", ["userId"])]
    assert await standing(api, ALEX) == (True, None)


async def test_a_guest_holding_an_admin_role_is_told_nothing_of_license_requests(api: Api) -> None:
    """A guest sees nothing of the tenant's directory: no "Una asks for Project" notification either."""
    await api.conn.execute(INSERT_ROLE, CONTOSO_ID, demo_user_id(GUS), "billing_admin")
    notified = "{ viewer { notifications(first: 100) { nodes { kind subjectId } } } }"
    requested = await api.data(
        'mutation { requestLicense(productId: "CFQ7TTC0HDB0") { licenseRequest { id } userErrors { code } } }',
        as_user=UNA,
    )
    assert requested["requestLicense"]["userErrors"] == []
    gid = decode_id(requested["requestLicense"]["licenseRequest"]["id"])
    assert gid is not None
    request_id = gid.key
    for viewer, told in ((ALEX, True), (BEA, True), (GUS, False)):
        notifications = (await api.data(notified, as_user=viewer))["viewer"]["notifications"]["nodes"]
        assert ({"kind": "license_requested", "subjectId": request_id} in notifications) is told, viewer


async def test_a_departure_is_never_dated_after_today_by_the_app_clock(api: Api) -> None:
    """The account is disabled at once: a last day still to come would say something untrue."""
    await travel_to(api, datetime.datetime(2031, 2, 28, 12, tzinfo=datetime.UTC))
    payload = await mutate(api, MARK_DEPARTED, ALEX, u=user(UNA), on="2031-03-01")
    assert problems(payload) == [("INVALID_INPUT", ["departedOn"])]
    assert await standing(api, UNA) == (True, None)
    assert (await mutate(api, MARK_DEPARTED, ALEX, u=user(UNA), on="2031-02-28"))["user"]["departedAt"] == "2031-02-28"


async def test_two_concurrent_departures_never_remove_both_of_two_global_admins(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    """Committed rows, two connections: each of two global admins marks the other at the same time."""
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=1)
        first, second = tenant.admin_id, tenant.user_ids[0]
        await conn.execute(INSERT_ROLE, tenant.tenant_id, second, "global_admin")
    processor = SandboxProcessor()
    # Both signed in before either marks: otherwise the later one may simply be refused at sign-in.
    executors = [RequestExecutor(gateway_pool, tenant_id=tenant.tenant_id) for _ in range(2)]
    try:
        viewers = [
            await signed_in(db, Claims(user_id=actor, tenant_id=tenant.tenant_id))
            for db, actor in zip(executors, (first, second), strict=True)
        ]

        async def mark(index: int, target: uuid.UUID) -> list[str]:
            variables = {"u": encode_id("User", target, tenant.tenant_id), "on": None}
            context = build_context(viewer=viewers[index], db=executors[index], processor=processor)
            result = await schema.execute(MARK_DEPARTED, variable_values=variables, context_value=context)
            assert result.errors is None, result.errors
            assert result.data is not None
            return [e["code"] for e in result.data["markUserDeparted"]["userErrors"]]

        outcomes = await asyncio.gather(mark(0, second), mark(1, first))
    finally:
        for db in executors:
            await db.close()
    assert sorted(outcomes) == [[], ["LAST_GLOBAL_ADMIN"]]
    enabled = await pool.fetchval(
        "SELECT count(*) FROM users WHERE tenant_id = $1 AND account_enabled AND departed_at IS NULL",
        tenant.tenant_id,
    )
    assert enabled == 1


async def test_a_user_marked_departed_by_mistake_is_reinstated_and_both_are_audited(api: Api) -> None:
    last_event = await api.conn.fetchval(LATEST_AUDIT_EVENT)
    marked = await mutate(api, MARK_DEPARTED, ALEX, u=user(UNA), on="2026-11-20")
    assert marked["user"] == {"userPrincipalName": UNA, "accountEnabled": False, "departedAt": "2026-11-20"}
    await refused_at_sign_in(api, "{ viewer { user { id } } }", UNA)

    reinstated = await mutate(api, REINSTATE, ALEX, u=user(UNA))
    assert reinstated == {
        "user": {"userPrincipalName": UNA, "accountEnabled": True, "departedAt": None},
        "userErrors": [],
    }
    assert (await api.data("{ viewer { user { userPrincipalName } } }", as_user=UNA))["viewer"] == {
        "user": {"userPrincipalName": UNA}
    }
    events = await api.conn.fetch(AUDIT_SINCE, last_event, demo_user_id(ALEX))
    assert [(r["tenant_id"], r["action"], r["outcome"]) for r in events] == [
        (CONTOSO_ID, "user.mark_departed", "accepted"),
        (CONTOSO_ID, "user.reinstate", "accepted"),
    ]


async def test_reinstating_a_user_who_has_not_left_is_refused(api: Api) -> None:
    assert problems(await mutate(api, REINSTATE, ALEX, u=user(LEE))) == [("USER_NOT_DEPARTED", ["userId"])]


async def test_only_global_admins_reinstate_a_user(api: Api) -> None:
    dana = "dana.departed@contoso.example"
    assert problems(await mutate(api, REINSTATE, BEA, u=user(dana))) == [("NOT_AUTHORIZED", ["userId"])]
    assert (await standing(api, dana))[1] is not None


async def test_a_departure_without_a_date_is_dated_by_the_app_clock(api: Api) -> None:
    await travel_to(api, datetime.datetime(2031, 2, 28, 12, tzinfo=datetime.UTC))
    payload = await mutate(api, MARK_DEPARTED, ALEX, u=user(UNA))
    assert payload["user"]["departedAt"] == "2031-02-28"


# ---------------------------------------------------------------------------------------------
# A departed account keeps none of its powers: it signs in to nothing


async def test_a_departed_users_token_assigns_unassigns_removes_adds_cards_and_reads_nothing(api: Api) -> None:
    assert (await mutate(api, MARK_DEPARTED, ALEX, u=user(PAULA)))["userErrors"] == []
    before = holders(await read(api, PAULAS_POWER_BI))
    attempts = [
        assign(api, PAULA, PAULAS_POWER_BI, [user(UNA)]),
        unassign(api, PAULA, PAULAS_POWER_BI, [user(LEE)]),
        remove(api, PAULA, PAULAS_POWER_APPS, 1),
        add(api, PAULA, PAULAS_POWER_BI, 1),
        api.execute(
            "mutation ($c: CardInput!) { addPaymentMethod(card: $c) { userErrors { code } } }",
            as_user=PAULA,
            variables={"c": GOOD_CARD},
        ),
        api.execute(
            "query ($t: ID!) { tenant(id: $t) { users { totalCount } } }", as_user=PAULA, variables={"t": CONTOSO}
        ),
    ]
    for attempt in attempts:
        with pytest.raises(RequestError) as refused:
            await attempt
        assert (refused.value.code, refused.value.status) == (RequestCode.UNAUTHENTICATED, 401)
    # What she bought runs on for its users: that rule is about the subscription, not the person.
    paulas = await read(api, PAULAS_POWER_BI)
    assert (paulas["status"], holders(paulas)) == ("ACTIVE", before)
    assert (await read(api, PAULAS_POWER_APPS))["quantity"] == 5
    assert api.processor.settled() == []


# ---------------------------------------------------------------------------------------------
# The audit trail: another partner is "another organization"

AUDIT_EVENTS = """
query ($t: ID!) { tenant(id: $t) { auditEvents(first: 100) { nodes {
  action targetId actorUserId actorTenantId actorAppId actorName
} } } }
"""
REQUEST_CANCELLATION = (
    'mutation ($s: ID!) { requestCancellation(subscriptionId: $s, message: "m") { userErrors { code } } }'
)
MAKE_LITWARE_ACTIVE = """
UPDATE partner_relationships SET status = 'active', starts_at = app_now() - interval '1 day',
       ends_at = app_now() + interval '30 days'
 WHERE tenant_id = $1 AND partner_tenant_id = $2
"""


async def test_a_partner_sees_another_partners_actions_as_another_organization(api: Api) -> None:
    """Only the audit rows this test writes are compared: tests that serve HTTP commit their own
    rows to the same tenant, in whatever order the suite runs them."""
    await api.conn.execute(MAKE_LITWARE_ACTIVE, CONTOSO_ID, LITWARE_ID)
    litwares_target, adatums_target = str(PAULAS_POWER_BI_UUID), str(demo_id("subscription:paula-power-apps"))

    async def cancellation_requests_seen_by(actor: str) -> Counter[tuple[Any, ...]]:
        data = await api.data(AUDIT_EVENTS, as_user=actor, variables={"t": CONTOSO})
        return Counter(
            (e["targetId"], e["actorUserId"], e["actorTenantId"], e["actorAppId"], e["actorName"])
            for e in data["tenant"]["auditEvents"]["nodes"]
            if e["action"] == "subscription.request_cancellation"
        )

    before = {actor: await cancellation_requests_seen_by(actor) for actor in (PAT, ALEX, LIA)}
    assert (await mutate(api, REQUEST_CANCELLATION, LIA, s=PAULAS_POWER_BI))["userErrors"] == []
    assert (await mutate(api, REQUEST_CANCELLATION, PAT, s=PAULAS_POWER_APPS))["userErrors"] == []
    new = {actor: await cancellation_requests_seen_by(actor) - before[actor] for actor in before}

    hidden = (None, None, None, HIDDEN_ACTOR_NAME)
    assert new[PAT] == Counter(
        {(litwares_target, *hidden): 1, (adatums_target, str(demo_user_id(PAT)), str(ADATUM_ID), None, None): 1}
    )
    # The customer's own admins know all their partners.
    assert new[ALEX] == Counter(
        {
            (litwares_target, str(demo_user_id(LIA)), str(LITWARE_ID), None, None): 1,
            (adatums_target, str(demo_user_id(PAT)), str(ADATUM_ID), None, None): 1,
        }
    )
    # And Lia, in turn, sees Adatum's row as another organization's.
    assert new[LIA] == Counter(
        {(litwares_target, str(demo_user_id(LIA)), str(LITWARE_ID), None, None): 1, (adatums_target, *hidden): 1}
    )


ORDER_ACTORS = """
query ($id: ID!) { node(id: $id) { ... on Subscription { orders(first: 100) { nodes {
  kind actor { userPrincipalName }
} } } } }
"""
MAKE_PARTNER = """
INSERT INTO partner_relationships (tenant_id, id, partner_tenant_id, display_name, roles, status, starts_at, ends_at)
VALUES ($1, gen_random_uuid(), $2, 'test', $3, 'active', app_now() - interval '1 day', app_now() + interval '30 days')
"""


async def test_a_partner_never_learns_another_partner_as_the_actor_of_an_order(api: Api) -> None:
    """Litware takes over Paula's subscription. Adatum (Contoso's partner) and Paula's own Contoso
    (each also a partner of Litware, so their scope would reach Lia) still see no actor for that
    order line, as the audit trail withholds it; Contoso's admins, who know its partners, see her."""
    await api.conn.execute(MAKE_LITWARE_ACTIVE, CONTOSO_ID, LITWARE_ID)
    await api.conn.execute(SET_GRANT, CONTOSO_ID, LITWARE_ID, ["global_admin"])
    await api.conn.execute(MAKE_PARTNER, LITWARE_ID, ADATUM_ID, ["global_reader"])
    await api.conn.execute(MAKE_PARTNER, LITWARE_ID, CONTOSO_ID, ["global_reader"])
    taken = await mutate(
        api,
        "mutation ($s: ID!) { takeControlOfSubscription(subscriptionId: $s) { userErrors { code } } }",
        LIA,
        s=PAULAS_POWER_BI,
    )
    assert taken["userErrors"] == []

    async def take_over_actors(viewer: str) -> list[Any]:
        data = await api.data(ORDER_ACTORS, as_user=viewer, variables={"id": PAULAS_POWER_BI})
        return [o["actor"] for o in data["node"]["orders"]["nodes"] if o["kind"] == "TAKE_OVER"]

    assert await take_over_actors(PAT) == [None]
    assert await take_over_actors(PAULA) == [None]
    assert await take_over_actors(ALEX) == [{"userPrincipalName": LIA}]
    assert await take_over_actors(LIA) == [{"userPrincipalName": LIA}]


# ---------------------------------------------------------------------------------------------
# No tenant-existence oracle: where a refusal is audited never depends on what exists

ERRORS = "userErrors { code field message }"
# The id a mutation names, from a tenant and a key (None: the seed's object).
Naming = Callable[[uuid.UUID, uuid.UUID | None], str]
NAMING_A_TENANT_OR_OBJECT: dict[str, tuple[str, Naming]] = {
    "setSelfServicePolicy": (
        f'mutation ($x: ID!) {{ setSelfServicePolicy(tenantId: $x, productId: "{POWER_BI_PRO}", value: DISABLED)'
        f" {{ {ERRORS} }} }}",
        lambda tenant, key: str(tenant),
    ),
    "purchaseSubscription": (
        f'mutation ($x: ID!) {{ purchaseSubscription(input: {{tenantId: $x, productId: "{POWER_BI_PRO}",'
        f' quantity: 1, idempotencyKey: "oracle", card: {{number: "4242424242424242", expMonth: 12,'
        f' expYear: 2030, cvc: "123"}}}}) {{ {ERRORS} }} }}',
        lambda tenant, key: str(tenant),
    ),
    "cancelSubscription": (
        f"mutation ($x: ID!) {{ cancelSubscription(subscriptionId: $x) {{ {ERRORS} }} }}",
        lambda tenant, key: encode_id("Subscription", key or PAULAS_POWER_BI_UUID, tenant),
    ),
    "markUserDeparted": (
        f"mutation ($x: ID!) {{ markUserDeparted(userId: $x) {{ {ERRORS} }} }}",
        lambda tenant, key: encode_id("User", key or demo_user_id(UNA), tenant),
    ),
    "reinstateUser": (
        f"mutation ($x: ID!) {{ reinstateUser(userId: $x) {{ {ERRORS} }} }}",
        lambda tenant, key: encode_id("User", key or demo_user_id("dana.departed@contoso.example"), tenant),
    ),
    "payInvoice": (
        f'mutation ($x: ID!) {{ payInvoice(invoiceId: $x, idempotencyKey: "oracle") {{ {ERRORS} }} }}',
        lambda tenant, key: encode_id("Invoice", key or demo_id("invoice:paula-power-bi-pro:0"), tenant),
    ),
    "approveLicenseRequest": (
        f"mutation ($x: ID!) {{ approveLicenseRequest(requestId: $x) {{ {ERRORS} }} }}",
        lambda tenant, key: encode_id("LicenseRequest", key or demo_id("license_request:lee-project-plan-3"), tenant),
    ),
}


@pytest.mark.parametrize("mutation", list(NAMING_A_TENANT_OR_OBJECT))
async def test_a_refusal_out_of_reach_is_audited_at_home_whether_its_target_exists_or_not(
    api: Api, mutation: str
) -> None:
    """Will, admin of Woodgrove, names Contoso (which exists), an object of Contoso that does not,
    and a tenant that does not: the same answer, and every refusal recorded in Woodgrove."""
    document, target = NAMING_A_TENANT_OR_OBJECT[mutation]
    variants = [target(CONTOSO_ID, None), target(CONTOSO_ID, uuid.uuid4()), target(uuid.uuid4(), uuid.uuid4())]
    last_event = await api.conn.fetchval(LATEST_AUDIT_EVENT)
    payloads = [(await api.data(document, as_user=WILL, variables={"x": x}))[mutation] for x in variants]
    assert payloads[0]["userErrors"][0]["code"] == "NOT_FOUND"
    assert payloads[1:] == payloads[:-1]
    events = await api.conn.fetch(AUDIT_SINCE, last_event, demo_user_id(WILL))
    assert [(r["tenant_id"], r["outcome"]) for r in events] == [(WOODGROVE_ID, "refused")] * len(variants)


# ---------------------------------------------------------------------------------------------
# One visibility rule per object, on every path

DISABLED_BILLING_RECORD = """
query ($t: ID!) { tenant(id: $t) {
  subscriptions(first: 100) { nodes { id status orders { totalCount } assignments { totalCount } } }
} }
"""
BY_ID = """
query ($id: ID!) { node(id: $id) { id ... on Subscription {
  status orders { totalCount nodes { id } } invoices { totalCount nodes { id } } assignments { totalCount nodes { id } }
} } }
"""
NODE = "query ($id: ID!) { node(id: $id) { id } }"
ASSIGNMENTS = "query ($t: ID!) { tenant(id: $t) { assignments(first: 100) { nodes { id } } } }"
SAMS_ASSIGNMENT = encode_id("Assignment", demo_id(f"assignment:sam-visio-plan-2-disabled:{SAM}"), CONTOSO_ID)


async def test_a_purchaser_keeps_the_billing_record_of_a_disabled_subscription_on_every_path(api: Api) -> None:
    """DOMAIN: the purchaser still sees a DISABLED subscription's status, orders and invoices."""
    listed = await api.data(DISABLED_BILLING_RECORD, as_user=SAM, variables={"t": CONTOSO})
    [sams] = [s for s in listed["tenant"]["subscriptions"]["nodes"] if s["id"] == SAMS_VISIO_DISABLED]
    assert sams["status"] == "DISABLED"
    assert sams["orders"]["totalCount"] > 0
    assert sams["assignments"]["totalCount"] == 0  # its service data is the admins'
    # The compiled read path answers the very same.
    assert await api.compiled(DISABLED_BILLING_RECORD, as_user=SAM, variables={"t": CONTOSO}) == listed

    node = (await api.data(BY_ID, as_user=SAM, variables={"id": SAMS_VISIO_DISABLED}))["node"]
    assert node["status"] == "DISABLED"
    invoices = await api.conn.fetchval(
        "SELECT count(*) FROM invoices WHERE tenant_id = $1 AND subscription_id = $2",
        CONTOSO_ID,
        SAMS_VISIO_DISABLED_UUID,
    )
    assert (node["orders"]["totalCount"], node["invoices"]["totalCount"]) == (sams["orders"]["totalCount"], invoices)
    for order in node["orders"]["nodes"]:
        assert (await api.data(NODE, as_user=SAM, variables={"id": order["id"]}))["node"] == {"id": order["id"]}
    for invoice in node["invoices"]["nodes"]:
        assert (await api.data(NODE, as_user=SAM, variables={"id": invoice["id"]}))["node"] == {"id": invoice["id"]}
    assert node["assignments"] == {"totalCount": 0, "nodes": []}


async def test_the_licenses_of_a_disabled_subscription_are_for_admins_only_on_every_path(api: Api) -> None:
    """Sam bought it and holds its one license: neither makes its assignments his to see or change."""
    listed = await api.data(ASSIGNMENTS, as_user=SAM, variables={"t": CONTOSO})
    assert SAMS_ASSIGNMENT not in {a["id"] for a in listed["tenant"]["assignments"]["nodes"]}
    assert (await api.data(NODE, as_user=SAM, variables={"id": SAMS_ASSIGNMENT}))["node"] is None
    payload = await unassign(api, SAM, SAMS_VISIO_DISABLED, [user(SAM)])
    assert problems(payload) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]
    # The admins reach them, by list, by id and nested.
    as_alex = await api.data(ASSIGNMENTS, as_user=ALEX, variables={"t": CONTOSO})
    assert SAMS_ASSIGNMENT in {a["id"] for a in as_alex["tenant"]["assignments"]["nodes"]}
    assert (await api.data(NODE, as_user=ALEX, variables={"id": SAMS_ASSIGNMENT}))["node"] == {"id": SAMS_ASSIGNMENT}
    nested = (await api.data(BY_ID, as_user=ALEX, variables={"id": SAMS_VISIO_DISABLED}))["node"]["assignments"]
    assert nested == {"totalCount": 1, "nodes": [{"id": SAMS_ASSIGNMENT}]}


LICENSE_REQUESTS = "query ($t: ID!) { tenant(id: $t) { licenseRequests(first: 100) { nodes { id } } } }"
APPROVE = f"mutation ($r: ID!) {{ approveLicenseRequest(requestId: $r) {{ licenseRequest {{ id }} {ERRORS} }} }}"
DENY = f"mutation ($r: ID!) {{ denyLicenseRequest(requestId: $r) {{ licenseRequest {{ id }} {ERRORS} }} }}"


async def test_a_license_request_past_its_12_months_is_gone_on_every_path(api: Api) -> None:
    await api.conn.execute(
        "UPDATE license_requests SET created_at = app_now() - interval '13 months' WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_id("license_request:lee-project-plan-3"),
    )
    listed = await api.data(LICENSE_REQUESTS, as_user=ALEX, variables={"t": CONTOSO})
    assert LEES_REQUEST not in {r["id"] for r in listed["tenant"]["licenseRequests"]["nodes"]}
    for viewer in (ALEX, LEE):
        assert (await api.data(NODE, as_user=viewer, variables={"id": LEES_REQUEST}))["node"] is None
    nowhere = encode_id("LicenseRequest", uuid.uuid4(), CONTOSO_ID)
    for decision in (APPROVE, DENY):
        payload = await mutate(api, decision, ALEX, r=LEES_REQUEST)
        assert problems(payload) == [("NOT_FOUND", ["requestId"])]
        assert payload == await mutate(api, decision, ALEX, r=nowhere)  # gone and absent look alike
    status = await api.conn.fetchval(
        "SELECT status FROM license_requests WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_id("license_request:lee-project-plan-3"),
    )
    assert status == "pending"
