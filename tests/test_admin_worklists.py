"""The admin's worklists: date filters on subscriptions and purchases, a purchase's channel, and
cancellation requests as first-class objects (the tenant's list, a subscription's request, node
refetch, the purchaser's answer, closing on take-over and cancel).

Every read here is held to the compiled path by ``agree``: both paths, byte-identical data. Dates
are taken from the app clock (``app_now()``), never from the machine's."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from purchasegraph.demo.actors import (
    ALEX,
    BEA,
    CONTOSO,
    CONTOSO_ID,
    GUS,
    LEE,
    LIA,
    MIA,
    OLGA,
    PAT,
    PAULA,
    PETE,
    RITA,
    WILL,
    demo_id,
    demo_tenant_id,
)
from purchasegraph.demo.global_ids import PAULAS_POWER_BI, PAULAS_POWER_BI_UUID
from purchasegraph.identity import AppRole
from purchasegraph.schema.ids import decode_id, encode_id
from tests.conftest import Api
from tests.mutations import mutate, problems
from tests.test_compiled_reads import agree

ADATUM_ID = demo_tenant_id("adatum-partners.example")
SET_ADATUM_GRANT = "UPDATE partner_relationships SET roles = $3 WHERE tenant_id = $1 AND partner_tenant_id = $2"
# The demo world's open request: Alex asked Dana (who has left) to cancel her Power BI Premium.
DANAS_REQUEST = encode_id("CancellationRequest", demo_id("cancellation_request:dana-power-bi-premium"), CONTOSO_ID)


async def app_now(api: Api) -> datetime.datetime:
    now: datetime.datetime = await api.conn.fetchval("SELECT app_now()")
    return now


def iso(when: datetime.datetime) -> str:
    return when.isoformat()


# ---------------------------------------------------------------------------------------------
# Date filters on subscriptions and purchases

SUBSCRIPTIONS_EXPIRING = """query ($t: ID!, $before: DateTime, $since: DateTime) {
  tenant(id: $t) {
    subscriptions(first: 100, expiresBefore: $before, purchasedSince: $since) {
      totalCount nodes { id expiresAt createdAt }
    }
  }
}"""
PURCHASES_SINCE = """query ($t: ID!, $since: DateTime, $before: DateTime, $channel: ChannelFilter!) {
  tenant(id: $t) {
    purchases(first: 100, purchasedSince: $since, expiresBefore: $before, channel: $channel) {
      totalCount nodes { id channel purchasedAt subscription { id channel expiresAt } }
    }
  }
}"""


async def expected_subscriptions(api: Api, sql_filter: str, *args: Any) -> set[str]:
    rows = await api.conn.fetch(
        f"SELECT id FROM subscriptions WHERE tenant_id = $1 AND {sql_filter}", CONTOSO_ID, *args
    )
    return {encode_id("Subscription", r["id"], CONTOSO_ID) for r in rows}


async def test_expires_before_lists_only_subscriptions_whose_term_ends_before_the_date(api: Api) -> None:
    cutoff = await app_now(api) + datetime.timedelta(days=30)
    data = await agree(api, SUBSCRIPTIONS_EXPIRING, ALEX, {"t": CONTOSO, "before": iso(cutoff)})
    found = {n["id"] for n in data["tenant"]["subscriptions"]["nodes"]}
    assert found == await expected_subscriptions(api, "expires_at < $2", cutoff)
    assert found
    assert data["tenant"]["subscriptions"]["totalCount"] == len(found)
    everything = await expected_subscriptions(api, "true")
    assert found < everything  # the filter keeps some and drops some


async def test_purchased_since_lists_only_subscriptions_bought_at_or_after_the_date(api: Api) -> None:
    cutoff = await app_now(api) - datetime.timedelta(days=60)
    data = await agree(api, SUBSCRIPTIONS_EXPIRING, ALEX, {"t": CONTOSO, "since": iso(cutoff)})
    found = {n["id"] for n in data["tenant"]["subscriptions"]["nodes"]}
    assert found == await expected_subscriptions(api, "created_at >= $2", cutoff)
    assert found < await expected_subscriptions(api, "true")


async def test_date_filters_combine_and_a_purchaser_sees_only_their_own(api: Api) -> None:
    now = await app_now(api)
    variables = {
        "t": CONTOSO,
        "before": iso(now + datetime.timedelta(days=400)),
        "since": iso(now - datetime.timedelta(days=400)),
    }
    data = await agree(api, SUBSCRIPTIONS_EXPIRING, PAULA, variables)
    paulas = await expected_subscriptions(
        api,
        "purchaser_user_id = $2 AND expires_at < $3 AND created_at >= $4",
        api.ids[PAULA].user_id,
        now + datetime.timedelta(days=400),
        now - datetime.timedelta(days=400),
    )
    assert {n["id"] for n in data["tenant"]["subscriptions"]["nodes"]} == paulas


async def test_purchased_since_lists_only_purchases_made_at_or_after_the_date(api: Api) -> None:
    cutoff = await app_now(api) - datetime.timedelta(days=60)
    variables = {"t": CONTOSO, "since": iso(cutoff), "channel": "INCLUDE_SELF_SERVICE"}
    data = await agree(api, PURCHASES_SINCE, ALEX, variables)
    nodes = data["tenant"]["purchases"]["nodes"]
    expected = await api.conn.fetch(
        "SELECT id FROM orders WHERE tenant_id = $1 AND kind IN ('purchase', 'add_licenses', 'renew')"
        " AND created_at >= $2",
        CONTOSO_ID,
        cutoff,
    )
    assert {n["id"] for n in nodes} == {encode_id("Purchase", r["id"], CONTOSO_ID) for r in expected}
    assert nodes
    assert all(datetime.datetime.fromisoformat(n["purchasedAt"]) >= cutoff for n in nodes)


async def test_expires_before_on_purchases_reads_the_subscription_s_term(api: Api) -> None:
    cutoff = await app_now(api) + datetime.timedelta(days=30)
    variables = {"t": CONTOSO, "before": iso(cutoff), "channel": "INCLUDE_SELF_SERVICE"}
    data = await agree(api, PURCHASES_SINCE, ALEX, variables)
    nodes = data["tenant"]["purchases"]["nodes"]
    assert nodes
    assert all(datetime.datetime.fromisoformat(n["subscription"]["expiresAt"]) < cutoff for n in nodes)


@pytest.mark.parametrize(("channel", "stored"), [("SELF_SERVICE_ONLY", "SELF_SERVICE"), ("CENTRAL_ONLY", "CENTRAL")])
async def test_a_purchase_shows_its_channel_and_the_channel_filter_keeps_only_that_channel(
    api: Api, channel: str, stored: str
) -> None:
    data = await agree(api, PURCHASES_SINCE, ALEX, {"t": CONTOSO, "channel": channel})
    nodes = data["tenant"]["purchases"]["nodes"]
    assert nodes
    assert {n["channel"] for n in nodes} == {stored}
    assert all(n["subscription"]["channel"] == stored for n in nodes)
    everything = await agree(api, PURCHASES_SINCE, ALEX, {"t": CONTOSO, "channel": "INCLUDE_SELF_SERVICE"})
    assert len(nodes) < everything["tenant"]["purchases"]["totalCount"]


async def test_date_filters_written_as_literals_compile_like_variables(api: Api) -> None:
    cutoff = (await app_now(api) + datetime.timedelta(days=30)).isoformat()
    literal = (
        '{ tenant(id: "' + CONTOSO + '") { subscriptions(expiresBefore: "' + cutoff + '") { totalCount } '
        'purchases(purchasedSince: "' + cutoff + '", channel: CENTRAL_ONLY) { totalCount } } }'
    )
    data = await agree(api, literal, ALEX)
    variables = await agree(api, SUBSCRIPTIONS_EXPIRING, ALEX, {"t": CONTOSO, "before": cutoff})
    assert data["tenant"]["subscriptions"]["totalCount"] == variables["tenant"]["subscriptions"]["totalCount"]


# ---------------------------------------------------------------------------------------------
# Cancellation requests: who reads them

REQUESTS = """query ($t: ID!, $status: [CancellationRequestStatus!]) {
  tenant(id: $t) {
    cancellationRequests(status: $status) {
      totalCount
      nodes { id status message responseMessage createdAt resolvedAt
              subscription { id } requestedBy { displayName } }
    }
  }
}"""
REQUEST_OF_SUBSCRIPTION = """query ($s: ID!) {
  node(id: $s) { ... on Subscription { id cancellationRequest { id status message requestedBy { displayName } } } }
}"""
NODE = "query ($id: ID!) { node(id: $id) { __typename id ... on CancellationRequest { status message } } }"
REQUEST_CANCELLATION = """mutation ($s: ID!, $m: String!) {
  requestCancellation(subscriptionId: $s, message: $m) { userErrors { code field message } }
}"""
ANSWER = """mutation ($r: ID!, $accept: Boolean!, $m: String!) {
  answerCancellationRequest(requestId: $r, accept: $accept, message: $m) {
    cancellationRequest { id status responseMessage resolvedAt }
    subscription { id status }
    order { kind }
    userErrors { code field message }
  }
}"""
TAKE_CONTROL = "mutation ($s: ID!) { takeControlOfSubscription(subscriptionId: $s) { userErrors { code } } }"
CANCEL = 'mutation ($s: ID!) { cancelSubscription(subscriptionId: $s, reason: "done") { userErrors { code } } }'


async def ask_paula(api: Api, message: str = "We bought Power BI centrally.") -> str:
    """Alex asks Paula to cancel her Power BI Pro; the new request's ID."""
    assert (await mutate(api, REQUEST_CANCELLATION, ALEX, s=PAULAS_POWER_BI, m=message))["userErrors"] == []
    request_id = await api.conn.fetchval(
        "SELECT id FROM cancellation_requests WHERE tenant_id = $1 AND subscription_id = $2 AND status = 'pending'",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    return encode_id("CancellationRequest", request_id, CONTOSO_ID)


async def request_ids(api: Api, as_user: str | None) -> set[str] | None:
    data = await agree(api, REQUESTS, as_user, {"t": CONTOSO})
    if data["tenant"] is None:
        return None
    return {n["id"] for n in data["tenant"]["cancellationRequests"]["nodes"]}


@pytest.mark.parametrize(
    ("upn", "sees"),
    [
        pytest.param(ALEX, "all", id="global_admin"),
        pytest.param(BEA, "all", id="billing_admin"),
        pytest.param(RITA, "all", id="global_reader"),
        pytest.param(PAT, "all", id="partner_with_admin_grant"),
        pytest.param(PAULA, "own", id="purchaser_asked"),
        pytest.param(PETE, "none", id="other_purchaser"),
        pytest.param(MIA, "none", id="licensed_member"),
        pytest.param(GUS, "none", id="guest"),
        pytest.param(OLGA, "no_tenant", id="outsider"),
        pytest.param(WILL, "no_tenant", id="admin_of_another_tenant"),
        pytest.param(LIA, "no_tenant", id="expired_partner"),
        pytest.param(None, "no_tenant", id="anonymous"),
    ],
)
async def test_cancellation_requests_are_listed_for_whole_tenant_viewers_and_the_purchaser_asked(
    api: Api, upn: str | None, sees: str
) -> None:
    paulas = await ask_paula(api)
    expected = {"all": {paulas, DANAS_REQUEST}, "own": {paulas}, "none": set(), "no_tenant": None}[sees]
    assert await request_ids(api, upn) == expected


async def test_a_partner_with_a_reader_grant_reads_cancellation_requests(api: Api) -> None:
    await api.conn.execute(SET_ADATUM_GRANT, CONTOSO_ID, ADATUM_ID, ["global_reader"])
    assert await request_ids(api, PAT) == {DANAS_REQUEST}


@pytest.mark.parametrize(
    ("roles", "sees"),
    [
        pytest.param({AppRole.READ_ALL}, {DANAS_REQUEST}, id="app_reader-sees-all"),
        pytest.param({AppRole.POLICY_READ_WRITE}, set(), id="app_policy_writer-sees-none"),
    ],
)
async def test_an_application_reads_cancellation_requests_only_with_the_read_role(
    api: Api, roles: set[AppRole], sees: set[str]
) -> None:
    result = await api.execute_as_app(
        REQUESTS, app_id=uuid.uuid4(), tenant_id=CONTOSO_ID, roles=roles, variables={"t": CONTOSO}
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    assert {n["id"] for n in result.data["tenant"]["cancellationRequests"]["nodes"]} == sees


async def test_the_status_filter_keeps_only_requests_in_those_statuses(api: Api) -> None:
    paulas = await ask_paula(api)
    assert (await mutate(api, ANSWER, PAULA, r=paulas, accept=False, m="We still need it."))["userErrors"] == []
    for status, expected in [("OPEN", {DANAS_REQUEST}), ("DECLINED", {paulas}), ("ACCEPTED", set())]:
        data = await agree(api, REQUESTS, ALEX, {"t": CONTOSO, "status": [status]})
        assert {n["id"] for n in data["tenant"]["cancellationRequests"]["nodes"]} == expected, status
    both = await agree(api, REQUESTS, ALEX, {"t": CONTOSO, "status": ["OPEN", "DECLINED"]})
    assert both["tenant"]["cancellationRequests"]["totalCount"] == 2


@pytest.mark.parametrize(
    ("upn", "sees"),
    [
        pytest.param(ALEX, True, id="global_admin"),
        pytest.param(RITA, True, id="global_reader"),
        pytest.param(PAT, True, id="partner_with_admin_grant"),
        pytest.param(PAULA, True, id="purchaser_asked"),
        pytest.param(PETE, False, id="other_purchaser"),
        pytest.param(LEE, False, id="licensed_user"),
        pytest.param(GUS, False, id="guest"),
        pytest.param(OLGA, False, id="outsider"),
        pytest.param(None, False, id="anonymous"),
    ],
)
async def test_a_subscription_shows_its_cancellation_request_to_those_who_see_the_request(
    api: Api, upn: str | None, sees: bool
) -> None:
    paulas = await ask_paula(api, "Please cancel.")
    data = await agree(api, REQUEST_OF_SUBSCRIPTION, upn, {"s": PAULAS_POWER_BI})
    subscription = data["node"]
    if not sees:
        assert subscription is None  # the subscription itself is out of reach for them
        refetched = await agree(api, NODE, upn, {"id": paulas})
        assert refetched == {"node": None}
        return
    assert subscription["cancellationRequest"] == {
        "id": paulas,
        "status": "OPEN",
        "message": "Please cancel.",
        "requestedBy": {"displayName": "Alex Admin"},
    }
    refetched = await agree(api, NODE, upn, {"id": paulas})
    assert refetched == {
        "node": {"__typename": "CancellationRequest", "id": paulas, "status": "OPEN", "message": "Please cancel."}
    }


async def test_a_subscription_shows_its_open_request_else_its_latest(api: Api) -> None:
    assert (await agree(api, REQUEST_OF_SUBSCRIPTION, ALEX, {"s": PAULAS_POWER_BI}))["node"][
        "cancellationRequest"
    ] is None
    first = await ask_paula(api, "First.")
    assert (await mutate(api, ANSWER, PAULA, r=first, accept=False, m="No."))["userErrors"] == []
    shown = (await agree(api, REQUEST_OF_SUBSCRIPTION, ALEX, {"s": PAULAS_POWER_BI}))["node"]["cancellationRequest"]
    assert (shown["id"], shown["status"]) == (first, "DECLINED")
    second = await ask_paula(api, "Second.")
    shown = (await agree(api, REQUEST_OF_SUBSCRIPTION, ALEX, {"s": PAULAS_POWER_BI}))["node"]["cancellationRequest"]
    assert (shown["id"], shown["status"]) == (second, "OPEN")


# ---------------------------------------------------------------------------------------------
# One open request per subscription; answering; closing


async def test_only_one_cancellation_request_is_open_per_subscription(api: Api) -> None:
    await ask_paula(api)
    again = await mutate(api, REQUEST_CANCELLATION, ALEX, s=PAULAS_POWER_BI, m="Again.")
    assert problems(again) == [("CANCELLATION_ALREADY_REQUESTED", ["subscriptionId"])]
    duplicate = (
        "INSERT INTO cancellation_requests (tenant_id, id, subscription_id, requested_by_tenant_id, status)"
        " VALUES ($1, $2, $3, $1, 'pending')"
    )
    with pytest.raises(Exception, match="cancellation_requests_one_pending"):
        async with api.conn.transaction():
            await api.conn.execute(duplicate, CONTOSO_ID, uuid.uuid4(), PAULAS_POWER_BI_UUID)


async def test_a_declined_request_lets_the_admins_ask_again(api: Api) -> None:
    first = await ask_paula(api)
    assert (await mutate(api, ANSWER, PAULA, r=first, accept=False, m="Not yet."))["userErrors"] == []
    assert (await mutate(api, REQUEST_CANCELLATION, ALEX, s=PAULAS_POWER_BI, m="Now?"))["userErrors"] == []


async def test_the_purchaser_accepting_cancels_the_subscription_in_the_same_transaction(api: Api) -> None:
    paulas = await ask_paula(api)
    answered = await mutate(api, ANSWER, PAULA, r=paulas, accept=True, m="Fine, cancel it.")
    assert answered["userErrors"] == []
    assert answered["cancellationRequest"]["id"] == paulas
    assert answered["cancellationRequest"]["status"] == "ACCEPTED"
    assert answered["cancellationRequest"]["responseMessage"] == "Fine, cancel it."
    assert answered["cancellationRequest"]["resolvedAt"] is not None
    assert answered["subscription"] == {"id": PAULAS_POWER_BI, "status": "DELETED"}
    assert answered["order"] == {"kind": "CANCEL"}
    reason = await api.conn.fetchval(
        "SELECT cancel_reason FROM subscriptions WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, PAULAS_POWER_BI_UUID
    )
    assert reason == "Fine, cancel it."
    audit = await api.conn.fetch(
        "SELECT action, outcome, target_type FROM audit_events"
        " WHERE tenant_id = $1 AND action LIKE 'cancellation_request.%' AND target_id = $2",
        CONTOSO_ID,
        str(decode_id(paulas).uuid),  # type: ignore[union-attr]
    )
    assert [tuple(r) for r in audit] == [("cancellation_request.accept", "accepted", "CancellationRequest")]


async def test_the_purchaser_declining_keeps_the_subscription_and_tells_the_admin(api: Api) -> None:
    paulas = await ask_paula(api)
    answered = await mutate(api, ANSWER, PAULA, r=paulas, accept=False, m="My team still uses it.")
    assert answered["userErrors"] == []
    assert answered["cancellationRequest"]["status"] == "DECLINED"
    assert answered["subscription"] == {"id": PAULAS_POWER_BI, "status": "ACTIVE"}
    assert answered["order"] is None
    told = await api.conn.fetch(
        "SELECT kind, message FROM notifications"
        " WHERE tenant_id = $1 AND user_id = $2 AND kind = 'cancellation_declined'",
        CONTOSO_ID,
        api.ids[ALEX].user_id,
    )
    assert len(told) == 1
    assert "My team still uses it." in told[0]["message"]
    audit = await api.conn.fetchval(
        "SELECT outcome FROM audit_events WHERE tenant_id = $1 AND action = 'cancellation_request.decline'",
        CONTOSO_ID,
    )
    assert audit == "accepted"


async def test_a_request_is_answered_once(api: Api) -> None:
    paulas = await ask_paula(api)
    assert (await mutate(api, ANSWER, PAULA, r=paulas, accept=False, m=""))["userErrors"] == []
    again = await mutate(api, ANSWER, PAULA, r=paulas, accept=True, m="")
    assert problems(again) == [("ALREADY_DECIDED", ["requestId"])]


@pytest.mark.parametrize(
    ("upn", "code"),
    [
        pytest.param(ALEX, "NOT_AUTHORIZED", id="global_admin"),
        pytest.param(BEA, "NOT_AUTHORIZED", id="billing_admin"),
        pytest.param(RITA, "NOT_AUTHORIZED", id="global_reader"),
        pytest.param(PAT, "NOT_AUTHORIZED", id="partner_with_admin_grant"),
        pytest.param(PETE, "NOT_FOUND", id="other_purchaser"),
        pytest.param(MIA, "NOT_FOUND", id="licensed_member"),
        pytest.param(GUS, "NOT_FOUND", id="guest"),
        pytest.param(OLGA, "NOT_FOUND", id="outsider"),
        pytest.param(LIA, "NOT_FOUND", id="expired_partner"),
    ],
)
async def test_only_the_purchaser_asked_answers_a_cancellation_request(api: Api, upn: str, code: str) -> None:
    paulas = await ask_paula(api)
    for accept in (True, False):
        answered = await mutate(api, ANSWER, upn, r=paulas, accept=accept, m="")
        assert problems(answered) == [(code, ["requestId"])]
        assert answered["cancellationRequest"] is None
    status = await api.conn.fetchval(
        "SELECT effective_status(s) FROM subscriptions s WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert status == "active"


async def test_a_partner_with_a_reader_grant_cannot_answer_a_cancellation_request(api: Api) -> None:
    paulas = await ask_paula(api)
    await api.conn.execute(SET_ADATUM_GRANT, CONTOSO_ID, ADATUM_ID, ["global_reader"])
    assert problems(await mutate(api, ANSWER, PAT, r=paulas, accept=True, m="")) == [("NOT_AUTHORIZED", ["requestId"])]


async def test_anonymous_and_applications_cannot_answer_a_cancellation_request(api: Api) -> None:
    paulas = await ask_paula(api)
    anonymous = await api.execute(ANSWER, variables={"r": paulas, "accept": True, "m": ""})
    assert anonymous.errors is None, anonymous.errors
    assert anonymous.data is not None
    assert problems(anonymous.data["answerCancellationRequest"]) == [("UNAUTHENTICATED", None)]
    app = await api.execute_as_app(
        ANSWER,
        app_id=uuid.uuid4(),
        tenant_id=CONTOSO_ID,
        roles={AppRole.READ_ALL, AppRole.POLICY_READ_WRITE},
        variables={"r": paulas, "accept": True, "m": ""},
    )
    assert app.errors is None, app.errors
    assert app.data is not None
    assert problems(app.data["answerCancellationRequest"]) == [("NOT_AUTHORIZED", ["requestId"])]
    status = await api.conn.fetchval(
        "SELECT status FROM cancellation_requests WHERE tenant_id = $1 AND subscription_id = $2",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert status == "pending"


async def test_a_malformed_or_foreign_request_id_is_not_found(api: Api) -> None:
    for request_id in ("not-an-id", PAULAS_POWER_BI, encode_id("CancellationRequest", uuid.uuid4(), CONTOSO_ID)):
        answered = await mutate(api, ANSWER, PAULA, r=request_id, accept=True, m="")
        assert problems(answered) == [("NOT_FOUND", ["requestId"])]


Step = Callable[[Api], Awaitable[None]]


async def _take_control(api: Api) -> None:
    assert (await mutate(api, TAKE_CONTROL, ALEX, s=PAULAS_POWER_BI))["userErrors"] == []


async def _purchaser_cancels(api: Api) -> None:
    assert (await mutate(api, CANCEL, PAULA, s=PAULAS_POWER_BI))["userErrors"] == []


@pytest.mark.parametrize(
    ("step", "status"),
    [
        pytest.param(_take_control, "CLOSED", id="admins_take_control-closed"),
        pytest.param(_purchaser_cancels, "ACCEPTED", id="purchaser_cancels-accepted"),
    ],
)
async def test_an_open_request_closes_when_the_admins_take_control_or_the_subscription_is_canceled(
    api: Api, step: Step, status: str
) -> None:
    paulas = await ask_paula(api)
    await step(api)
    shown = await agree(api, NODE.replace("status message", "status message resolvedAt"), ALEX, {"id": paulas})
    assert shown["node"]["status"] == status
    assert shown["node"]["resolvedAt"] is not None
    assert problems(await mutate(api, ANSWER, PAULA, r=paulas, accept=False, m="")) == [
        ("ALREADY_DECIDED", ["requestId"])
    ]


# ---------------------------------------------------------------------------------------------
# The README's worklist example (examples/admin_worklist.graphql)

WORKLIST = (Path(__file__).resolve().parent.parent / "examples" / "admin_worklist.graphql").read_text()


async def test_the_admin_worklist_example_lists_what_expires_what_was_bought_and_what_waits_for_an_answer(
    api: Api,
) -> None:
    now = await app_now(api)
    before, since = now + datetime.timedelta(days=45), now - datetime.timedelta(days=90)
    variables = {"tenant": CONTOSO, "expiresBefore": iso(before), "purchasedSince": iso(since)}
    tenant = (await agree(api, WORKLIST, ALEX, variables))["tenant"]
    expiring = tenant["expiring"]["nodes"]
    assert expiring
    assert all(datetime.datetime.fromisoformat(s["expiresAt"]) < before for s in expiring)
    assert all(s["status"] in {"ACTIVE", "TRIAL"} for s in expiring)
    assert [s["expiresAt"] for s in expiring] == sorted(s["expiresAt"] for s in expiring)
    bought = tenant["newPurchases"]["nodes"]
    assert bought
    assert all(p["channel"] == "SELF_SERVICE" for p in bought)
    assert all(datetime.datetime.fromisoformat(p["purchasedAt"]) >= since for p in bought)
    assert [r["id"] for r in tenant["openCancellationRequests"]["nodes"]] == [DANAS_REQUEST]


# ---------------------------------------------------------------------------------------------
# The tenant's bills, with a due-date filter

INVOICES = """query ($t: ID!, $due: Date, $status: [InvoiceStatus!]) {
  tenant(id: $t) { invoices(first: 100, dueBefore: $due, status: $status) { totalCount nodes { id dueDate status } } }
}"""


async def expected_invoices(api: Api, sql_filter: str, *args: Any) -> set[str]:
    rows = await api.conn.fetch(f"SELECT id FROM invoices WHERE tenant_id = $1 AND {sql_filter}", CONTOSO_ID, *args)
    return {encode_id("Invoice", r["id"], CONTOSO_ID) for r in rows}


async def invoice_ids(api: Api, as_user: str | None, variables: dict[str, Any]) -> set[str] | None:
    data = await agree(api, INVOICES, as_user, {"t": CONTOSO} | variables)
    if data["tenant"] is None:
        return None
    return {n["id"] for n in data["tenant"]["invoices"]["nodes"]}


async def test_due_before_lists_only_bills_due_before_the_day(api: Api) -> None:
    day = (await app_now(api)).date() - datetime.timedelta(days=20)
    found = await invoice_ids(api, ALEX, {"due": day.isoformat()})
    assert found == await expected_invoices(api, "due_date < $2", day)
    assert found
    assert found < await expected_invoices(api, "true")


async def test_the_invoice_status_filter_keeps_only_bills_in_those_statuses(api: Api) -> None:
    found = await invoice_ids(api, ALEX, {"status": ["OPEN", "PAST_DUE"]})
    assert found == await expected_invoices(api, "status IN ('open', 'past_due')")
    assert found


@pytest.mark.parametrize(
    ("upn", "sees"),
    [
        pytest.param(ALEX, "all", id="global_admin"),
        pytest.param(BEA, "all", id="billing_admin"),
        pytest.param(RITA, "all", id="global_reader"),
        pytest.param(PAT, "all", id="partner_with_admin_grant"),
        pytest.param(PAULA, "own", id="purchaser"),
        pytest.param(PETE, "own", id="other_purchaser"),
        pytest.param(LEE, "own", id="licensed_user"),
        pytest.param(GUS, "own", id="guest"),
        pytest.param(OLGA, "no_tenant", id="outsider"),
        pytest.param(LIA, "no_tenant", id="expired_partner"),
        pytest.param(None, "no_tenant", id="anonymous"),
    ],
)
async def test_the_tenant_s_bills_are_listed_for_whole_tenant_viewers_and_each_purchaser_sees_their_own(
    api: Api, upn: str | None, sees: str
) -> None:
    found = await invoice_ids(api, upn, {})
    if sees == "no_tenant":
        assert found is None
        return
    if sees == "all":
        assert found == await expected_invoices(api, "true")
        return
    assert upn is not None
    assert found == await expected_invoices(api, "billed_user_id = $2", api.ids[upn].user_id)


@pytest.mark.parametrize(
    ("roles", "sees_all"),
    [
        pytest.param({AppRole.READ_ALL}, True, id="app_reader-sees-all"),
        pytest.param({AppRole.POLICY_READ_WRITE}, False, id="app_policy_writer-sees-none"),
    ],
)
async def test_an_application_reads_the_tenant_s_bills_only_with_the_read_role(
    api: Api, roles: set[AppRole], sees_all: bool
) -> None:
    result = await api.execute_as_app(
        INVOICES, app_id=uuid.uuid4(), tenant_id=CONTOSO_ID, roles=roles, variables={"t": CONTOSO}
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    found = {n["id"] for n in result.data["tenant"]["invoices"]["nodes"]}
    assert found == (await expected_invoices(api, "true") if sees_all else set())


# ---------------------------------------------------------------------------------------------
# Migration 0020 on a database that already holds requests

MIGRATION_0020 = next(
    (Path(__file__).resolve().parent.parent / "purchasegraph" / "db" / "migrations").glob("0020_*.sql")
).read_text()


async def test_migration_0020_applies_to_an_existing_database_and_closes_withdrawn_requests(api: Api) -> None:
    """As before 0020: the status check of migration 0001, and a request in its old 'withdrawn' state."""
    await api.conn.execute(
        "ALTER TABLE cancellation_requests DROP CONSTRAINT cancellation_requests_status_check;"
        " ALTER TABLE cancellation_requests ADD CONSTRAINT cancellation_requests_status_check"
        " CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn'));"
        " DROP INDEX subscriptions_by_expiry; DROP INDEX cancellation_requests_by_tenant; DROP INDEX invoices_by_tenant"
    )
    withdrawn = uuid.uuid4()
    await api.conn.execute(
        "INSERT INTO cancellation_requests (tenant_id, id, subscription_id, requested_by_tenant_id, status, created_at)"
        " VALUES ($1, $2, $3, $1, 'withdrawn', app_now() - interval '3 days')",
        CONTOSO_ID,
        withdrawn,
        PAULAS_POWER_BI_UUID,
    )
    await api.conn.execute(MIGRATION_0020)
    row = await api.conn.fetchrow(
        "SELECT status, resolved_at = created_at AS resolved FROM cancellation_requests"
        " WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        withdrawn,
    )
    assert tuple(row) == ("closed", True)
    with pytest.raises(Exception, match="cancellation_requests_status_check"):
        async with api.conn.transaction():
            await api.conn.execute("UPDATE cancellation_requests SET status = 'withdrawn' WHERE id = $1", withdrawn)
