"""Attacks on the refactor that moved who acts on roles and grants out of SQL and into the policy.

``principal_user`` now returns a user's tenant's relationships in force whoever the user is, and
``policy.customer_grants`` withholds them from a guest and from a disabled account. These tests
give a partner tenant (Adatum, whose relationship with Contoso grants global admin) a guest and a
disabled account holding global admin, and check that neither reaches Contoso on any path that
reads the principal: the sign-in itself, the fleet, by id, on the compiled path, in a mutation,
and for a tenant's live events (which ask the same policy before every event).

They also race a license request against its requester's departure: asking for a license takes no
lock that a departure then waits on while it holds the admins the request tells.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from graphql import OperationDefinitionNode, parse

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.commerce.governance import LOCK_GLOBAL_ADMINS, MARK_DEPARTED
from purchasegraph.compiled import run_compiled
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import (
    ADATUM,
    ALEX,
    CONTOSO,
    CONTOSO_ID,
    PAT,
    PAULA,
    PETRA,
    WOODGROVE,
    demo_id,
    demo_tenant_id,
    demo_user_id,
)
from purchasegraph.gateway.authentication import signed_in
from purchasegraph.gateway.refusals import RequestError
from purchasegraph.identity import Claims
from purchasegraph.payments import SandboxProcessor
from purchasegraph.policy import USER_ADMIN_ROLES, Decision, may_follow_events, scope_for
from purchasegraph.principals import SignedInUser, load_signed_in_user
from purchasegraph.schema import schema
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api
from tests.factories import INSERT_ROLE, INSERT_USER, create_tenant
from tests.mutations import execute_as
from tests.test_purchase_events import PURCHASE_EVENTS, Served, connected, event_of, purchased, served

ADATUM_ID = demo_tenant_id(ADATUM)
PAULAS_POWER_BI = encode_id("Subscription", demo_id("subscription:paula-power-bi-pro"), CONTOSO_ID)

REACH = """
query ($t: ID!, $s: ID!) {
  accessibleTenants(first: 10) { totalCount nodes { access tenant { tenantId } } }
  tenant(id: $t) { tenantId }
  byDomain: tenant(id: "contoso.example") { tenantId }
  node(id: $s) { id }
}
"""
SET_POLICY = """
mutation ($t: ID!) {
  setSelfServicePolicy(tenantId: $t, productId: "CFQ7TTC0H9MP", value: DISABLED) { userErrors { code field } }
}
"""


async def adatum_admin(api: Api, *, guest: bool, enabled: bool) -> Claims:
    """A user of Adatum holding global admin: a guest, or a member whose account is disabled."""
    user_id = uuid.uuid4()
    upn = f"attack-{user_id.hex[:8]}@adatum-partners.example"
    await api.conn.execute(
        INSERT_USER, ADATUM_ID, user_id, "Attacker", upn, "guest" if guest else "member", "cloud", enabled
    )
    await api.conn.execute(INSERT_ROLE, ADATUM_ID, user_id, "global_admin")
    return Claims(user_id=user_id, tenant_id=ADATUM_ID)


async def read_as(api: Api, claims: Claims, query: str, variables: dict[str, str]) -> dict[str, object]:
    """The resolvers' data, after checking that the compiled path answers the very same."""
    document = parse(query)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    async with api.as_gateway(claims) as context:
        result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    async with api.as_gateway(claims) as context:
        compiled = await run_compiled(schema._schema, document, operation, variables, context)
    assert compiled is not None, "expected the compiler to take this read"
    assert json.dumps(compiled.data) == json.dumps(result.data)
    return result.data


async def test_a_guest_of_a_partner_tenant_reaches_no_customer_on_any_read_or_write_path(api: Api) -> None:
    """A guest holding global admin in Adatum: their home as a guest, and Contoso (Adatum's
    customer through a global-admin grant) nowhere: not in the fleet, not by id, not in a
    mutation, whose refusal is recorded in Adatum."""
    guest = await adatum_admin(api, guest=True, enabled=True)
    viewer = await load_signed_in_user(ConnectionExecutor(api.conn), guest)
    assert viewer is not None
    assert viewer.partner_grants, "principal_user lists the tenant's grants; the policy withholds them"
    data = await read_as(api, guest, REACH, {"t": CONTOSO, "s": PAULAS_POWER_BI})
    assert data == {
        "accessibleTenants": {"totalCount": 1, "nodes": [{"access": "GUEST", "tenant": {"tenantId": str(ADATUM_ID)}}]},
        "tenant": None,
        "byDomain": None,
        "node": None,
    }
    async with api.as_gateway(guest) as context:
        result = await schema.execute(SET_POLICY, variable_values={"t": CONTOSO}, context_value=context)
    assert result.data == {"setSelfServicePolicy": {"userErrors": [{"code": "NOT_FOUND", "field": ["tenantId"]}]}}
    recorded = await api.conn.fetchval(
        "SELECT tenant_id FROM audit_events WHERE actor_user_id = $1 ORDER BY occurred_at DESC LIMIT 1", guest.user_id
    )
    assert recorded == ADATUM_ID


async def test_a_disabled_partner_admin_signs_in_to_nothing_and_would_reach_no_customer(api: Api) -> None:
    """Refused at sign-in (the HTTP request, the websocket's connect, each event all sign in the
    same way); and the principal as the database reads it, were it used anyway, acts for no
    customer and is no admin at home."""
    disabled = await adatum_admin(api, guest=False, enabled=False)
    with pytest.raises(RequestError):
        await signed_in(ConnectionExecutor(api.conn), disabled)
    viewer = await load_signed_in_user(ConnectionExecutor(api.conn), disabled)
    assert isinstance(viewer, SignedInUser)
    assert viewer.partner_grants
    assert not scope_for(viewer, CONTOSO_ID).sees_anything
    assert not scope_for(viewer, ADATUM_ID).can_administer


@pytest.mark.parametrize("guest", [True, False], ids=["guest", "disabled"])
async def test_a_tenants_live_events_are_not_followed_through_a_grant_by_a_guest_or_disabled_account(
    api: Api, guest: bool
) -> None:
    """The check a stream makes when it starts and before every event (``may_follow_events`` on
    the principal read again): a partner's admin is allowed, a guest or disabled one finds no such
    tenant, as if the relationship did not exist."""
    claims = await adatum_admin(api, guest=guest, enabled=guest)
    viewer = await load_signed_in_user(ConnectionExecutor(api.conn), claims)
    assert viewer is not None
    assert may_follow_events(scope_for(viewer, CONTOSO_ID)) is Decision.NOT_FOUND
    member = await adatum_admin(api, guest=False, enabled=True)
    partner = await load_signed_in_user(ConnectionExecutor(api.conn), member)
    assert partner is not None
    assert may_follow_events(scope_for(partner, CONTOSO_ID)) is Decision.ALLOWED


SET_USER_TYPE = "UPDATE users SET user_type = $3 WHERE tenant_id = $1 AND id = $2"


@pytest.fixture(scope="module")
def events_app(own_database: str) -> Iterator[Served]:
    with served(own_database) as one:
        yield one


@pytest.mark.live_server
async def test_a_partners_user_made_a_guest_mid_stream_ends_the_customers_stream(
    events_app: Served, own_database: str
) -> None:
    """Pat (Adatum, Contoso's partner) follows Contoso's events; Adatum's directory turns Pat into a
    guest. The next event is read with Pat signed in again (a guest still signs in), and the policy
    that withholds a guest's grants ends the stream."""
    owner = await asyncpg.connect(own_database)
    pat_id = demo_user_id(PAT)
    try:
        async with httpx.AsyncClient(base_url=events_app.url, timeout=30) as http, connected(events_app, PAT) as pat:
            await pat.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
            await events_app.wait_for_subscribers(1)
            await purchased(http, PAULA)
            event_of(await pat.receive())  # a member of Adatum: Contoso's partner
            await owner.execute(SET_USER_TYPE, ADATUM_ID, pat_id, "guest")
            try:
                await purchased(http, PAULA)
                ended = await pat.receive()
            finally:
                await owner.execute(SET_USER_TYPE, ADATUM_ID, pat_id, "member")
    finally:
        await owner.close()
    assert ended["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["ACCESS_ENDED"]


# ---------------------------------------------------------------------------------------------
# Global IDs spliced: the caller's own tenant around another tenant's key

PETRAS_POWER_BI = demo_id("subscription:woodgrove-petra-power-bi-pro")
SPLICED_READ = "query ($s: ID!, $u: ID!) { node(id: $s) { id } user: node(id: $u) { id } }"
SPLICED_WRITES = """
mutation ($s: ID!, $u: ID!) {
  cancelSubscription(subscriptionId: $s) { userErrors { code field } }
  markUserDeparted(userId: $u) { userErrors { code field } }
}
"""


async def test_a_global_id_of_the_callers_tenant_around_another_tenants_key_names_nothing(api: Api) -> None:
    """Alex, admin of Contoso, sends ids that say Contoso but carry Woodgrove's keys (Petra's
    subscription, Petra herself): nothing on either read path, NOT_FOUND in a mutation, and
    nothing of Woodgrove's changes."""
    alex = api.claims_of(ALEX)
    assert alex is not None
    spliced = {
        "s": encode_id("Subscription", PETRAS_POWER_BI, CONTOSO_ID),
        "u": encode_id("User", demo_user_id(PETRA), CONTOSO_ID),
    }
    assert await read_as(api, alex, SPLICED_READ, spliced) == {"node": None, "user": None}
    data = await api.data(SPLICED_WRITES, as_user=ALEX, variables=spliced)
    assert data == {
        "cancelSubscription": {"userErrors": [{"code": "NOT_FOUND", "field": ["subscriptionId"]}]},
        "markUserDeparted": {"userErrors": [{"code": "NOT_FOUND", "field": ["userId"]}]},
    }
    woodgrove = demo_tenant_id(WOODGROVE)
    status = await api.conn.fetchval(
        "SELECT status FROM subscriptions WHERE tenant_id = $1 AND id = $2", woodgrove, PETRAS_POWER_BI
    )
    assert status != "deleted"
    enabled = await api.conn.fetchval(
        "SELECT account_enabled FROM users WHERE tenant_id = $1 AND id = $2", woodgrove, demo_user_id(PETRA)
    )
    assert enabled is True


# ---------------------------------------------------------------------------------------------
# A license request racing its requester's departure

REQUEST_LICENSE = """
mutation ($p: ID!) { requestLicense(productId: $p) { licenseRequest { id } userErrors { code } } }
"""


@pytest.fixture
async def blocked_tenant(pool: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    """A committed tenant (its global admin and a member) whose policy blocks Power BI Pro."""
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=1)
        await conn.execute(
            "INSERT INTO self_service_policies (tenant_id, product_id, value) VALUES ($1, $2, 'disabled')",
            tenant.tenant_id,
            POWER_BI_PRO,
        )
    return tenant.tenant_id, tenant.user_ids[0]


async def test_a_license_request_and_its_requesters_departure_take_turns_without_a_deadlock(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool, blocked_tenant: tuple[uuid.UUID, uuid.UUID]
) -> None:
    """The departure locks the tenant's global admins, then updates the user; the request tells
    the admins (its notifications reference their rows, so it waits for the departure). Asking
    for a license locks nothing the departure then waits on: the departure commits, then the
    request does. Had the request locked its requester's row, each would wait on the other."""
    tenant_id, requester = blocked_tenant
    async with pool.acquire() as departure:
        transaction = departure.transaction()
        await transaction.start()
        try:
            await departure.fetch(LOCK_GLOBAL_ADMINS, tenant_id, sorted(USER_ADMIN_ROLES))
            request = asyncio.ensure_future(
                execute_as(gateway_pool, requester, tenant_id, REQUEST_LICENSE, {"p": POWER_BI_PRO}, SandboxProcessor())
            )
            await _waiting_on_a_lock(pool, tenant_id)
            await departure.fetchval(MARK_DEPARTED, tenant_id, requester, None)
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()
    result = await request
    assert result.errors is None, result.errors
    assert result.data is not None
    assert result.data["requestLicense"]["userErrors"] == []


async def _waiting_on_a_lock(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> None:
    """Until some other backend waits on a lock (the request, on the admins' rows)."""
    for _ in range(200):
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the license request in {tenant_id} never waited on the departure's locks")
