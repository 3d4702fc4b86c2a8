"""Scope at the edges, from a second reading of the compiled path, app principals and events.

A purchaser's live events follow what their queries may see (a DISABLED subscription is for
admins only, so are its events); a member turned guest keeps what they bought and loses the
directory; and the compiled read path agrees with the resolvers for every principal (every demo
user, applications of every kind), every spelling of a tenant id and dates that move statuses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import ALEX, CONTOSO, CONTOSO_ID, DEMO_USERS, PAULA, SAM, demo_tenant_id, demo_user_id
from purchasegraph.demo.global_ids import SAMS_VISIO_DISABLED, user
from purchasegraph.gateway.refusals import RequestError
from purchasegraph.identity import Claims
from purchasegraph.policy import scope_for
from purchasegraph.principals import load_signed_in_user
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api
from tests.test_app_principals import ACTORS, ADATUM_ID, SET_ADATUM_GRANT, compiled_as_app
from tests.test_compiled_reads import FRAGMENTS, selection
from tests.test_purchase_events import Served, bearer, connected, event_of, purchased, served

# ---------------------------------------------------------------------------------------------
# Event streams: the app served for real on a PostgreSQL of this module's own (its changes commit)


@pytest.fixture(scope="module")
def events_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_embedded_server(Path(tmp_path_factory.mktemp("review-events")))
    yield server.database_url
    server.stop()


@pytest.fixture(scope="module")
def events_app(events_database: str) -> Iterator[Served]:
    with served(events_database) as one:
        yield one


@pytest.fixture
async def events_http(events_app: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=events_app.url, timeout=30) as client:
        yield client


async def graphql(http: httpx.AsyncClient, upn: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": bearer(upn)}
    )
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


TAKE_CONTROL = "mutation ($s: ID!) { takeControlOfSubscription(subscriptionId: $s) { userErrors { code } } }"
UNASSIGN = (
    "mutation ($s: ID!, $u: [ID!]!) { unassignLicenses(subscriptionId: $s, userIds: $u) { userErrors { code } } }"
)
MY_EVENTS_IN_FULL = """subscription { mySubscriptionEvents {
  eventId action subscription { id } product { productId } actor { userPrincipalName } } }"""


@pytest.mark.live_server
async def test_a_purchaser_receives_no_event_about_the_licenses_of_a_disabled_subscription(
    events_app: Served, events_http: httpx.AsyncClient
) -> None:
    """A DISABLED subscription keeps its billing record for its purchaser, but its licenses are for
    admins only (policy.ASSIGNMENT_VISIBLE), and so are the events about them. mySubscriptionEvents
    loads each event's subscription under the viewer's scope before delivering it (schema/events.py)."""
    sams = await graphql(
        events_http,
        SAM,
        "query($id: ID!) { node(id: $id) { ... on Subscription { status } } }",
        {"id": SAMS_VISIO_DISABLED},
    )
    assert sams["node"] == {"status": "DISABLED"}
    taken = await graphql(events_http, ALEX, TAKE_CONTROL, {"s": SAMS_VISIO_DISABLED})
    assert taken["takeControlOfSubscription"]["userErrors"] == []
    async with connected(events_app, SAM) as sam:
        await sam.subscribe("1", MY_EVENTS_IN_FULL)
        await events_app.wait_for_subscribers(1)
        # The admins, in control now, take Sam's license back: still DISABLED, its licenses not his to see.
        unassigned = await graphql(events_http, ALEX, UNASSIGN, {"s": SAMS_VISIO_DISABLED, "u": [user(SAM)]})
        assert unassigned["unassignLicenses"]["userErrors"] == []
        mine = await purchased(events_http, SAM)  # then a subscription Sam does see
        first = event_of(await sam.receive())
    # Events go out in commit order: the first one Sam may receive is his own purchase.
    assert first["subscription"] == {"id": mine}, json.dumps(first)


# ---------------------------------------------------------------------------------------------
# Guests

GUEST_VIEW = """query($t: ID!) { tenant(id: $t) {
  subscriptions(first: 100) { totalCount }
  purchases(first: 100) { totalCount }
  capacity { selfServiceLicenses }
} }"""


async def test_a_purchaser_who_becomes_a_guest_keeps_what_they_bought_and_loses_the_directory(api: Api) -> None:
    """Decided (README, Authorization): guests cannot buy, but a member who bought something and
    was later turned into a guest (B2B conversion, directory sync) still pays for it with their own
    card, so they keep seeing their own purchases; the directory and everyone else's purchases are
    gone. The state comes from the directory, done here as the owner."""
    variables = {"t": CONTOSO}
    as_member = await api.data(GUEST_VIEW, as_user=PAULA, variables=variables)
    await api.conn.execute(
        "UPDATE users SET user_type = 'guest' WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, demo_user_id(PAULA)
    )
    as_guest = await api.data(GUEST_VIEW, as_user=PAULA, variables=variables)
    assert as_guest == as_member
    assert as_guest["tenant"]["subscriptions"]["totalCount"] >= 1
    directory = await api.data(
        "query($t: ID!) { tenant(id: $t) { users { totalCount } } }", as_user=PAULA, variables=variables
    )
    assert directory["tenant"]["users"]["totalCount"] == 1  # herself only
    compiled = await api.compiled(
        "query($t: ID!) { tenant(id: $t) { subscriptions(first: 100) { totalCount } } }",
        as_user=PAULA,
        variables=variables,
    )
    assert compiled == {"tenant": {"subscriptions": {"totalCount": as_member["tenant"]["subscriptions"]["totalCount"]}}}


# ---------------------------------------------------------------------------------------------
# The compiled read path (passes: coverage the suite lacked)

EVERY_USER = [u.user_principal_name for u in DEMO_USERS] + [None]
# The statuses the dates put subscriptions in move with the clock: trial/active into expired,
# expired into DISABLED (admins only), disabled into DELETED.
DATES = [None, "2025-01-01", "2027-06-01", "2028-06-01"]
SPELLINGS = [
    CONTOSO,
    CONTOSO.upper(),
    "{" + CONTOSO + "}",
    "urn:uuid:" + CONTOSO,
    CONTOSO.replace("-", ""),
    encode_id("Tenant", CONTOSO_ID),
    encode_id("Tenant", CONTOSO_ID, ADATUM_ID),  # a Tenant ID carrying another tenant: the key decides
]


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tenant_selection=selection("Tenant"),
    principal=st.sampled_from(EVERY_USER + list(ACTORS)),
    tenant_id=st.sampled_from(SPELLINGS),
    now=st.sampled_from(DATES),
)
async def test_the_compiled_path_returns_what_the_resolvers_return_to_every_principal_at_every_date(
    api: Api, tenant_selection: str, principal: str | None, tenant_id: str, now: str | None
) -> None:
    used = [f for name, f in FRAGMENTS.items() if f"...{name}Bits" in tenant_selection]
    query = "query($t: ID!) { tenant(id: $t) { " + tenant_selection + " } } " + " ".join(used)
    variables = {"t": tenant_id}
    await api.conn.execute("SELECT set_config('purchasegraph.now', $1, true)", now or "")
    if principal in ACTORS:
        actor = ACTORS[principal]
        await api.conn.execute(SET_ADATUM_GRANT, CONTOSO_ID, ADATUM_ID, list(actor.grant or ("global_admin",)))
        result = await api.execute_as_app(
            query, app_id=actor.app_id, tenant_id=actor.home, roles=actor.roles, variables=variables
        )
        if result.errors:  # a selection the schema refuses
            return
        compiled = await compiled_as_app(api, actor, query, variables)
    else:
        try:
            result = await api.execute(query, as_user=principal, variables=variables)
        except RequestError:  # a disabled account (Dana, departed) signs in to nothing: no read to compare
            return
        if result.errors:
            return
        compiled = await api.compiled(query, as_user=principal, variables=variables)
    assert compiled is not None, query  # every drawn selection compiles
    assert json.dumps(compiled) == json.dumps(result.data), (principal, tenant_id, now, query)


async def test_two_active_relationships_with_one_customer_add_up_their_grants(api: Api) -> None:
    """GDAP allows several relationships between a partner and a customer; the partner acts with
    the roles of all of them together, never with whichever the database returns first."""
    adatum = demo_tenant_id("adatum-partners.example")
    await api.conn.execute(
        "UPDATE partner_relationships SET roles = '{global_reader}' WHERE tenant_id = $1 AND partner_tenant_id = $2",
        CONTOSO_ID,
        adatum,
    )
    await api.conn.execute(
        """INSERT INTO partner_relationships
               (tenant_id, id, partner_tenant_id, display_name, roles, status, starts_at, ends_at)
           VALUES ($1, gen_random_uuid(), $2, 'Adatum billing', '{billing_admin}', 'active',
                   app_now() - interval '1 day', app_now() + interval '30 days')""",
        CONTOSO_ID,
        adatum,
    )
    viewer = await load_signed_in_user(
        ConnectionExecutor(api.conn),
        Claims(user_id=demo_user_id("pat.partner@adatum-partners.example"), tenant_id=adatum),
    )
    assert viewer is not None
    [grant] = [g for g in viewer.partner_grants if g.customer_tenant_id == CONTOSO_ID]
    assert grant.roles == {"global_reader", "billing_admin"}
    scope = scope_for(viewer, CONTOSO_ID)
    assert scope.whole_tenant
    assert scope.can_administer  # from the billing grant, although the reader grant came first
