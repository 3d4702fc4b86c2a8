"""Applications as principals: app-only tokens (no user) with app roles, by actor and operation
(the issue "Partner tools as applications"; the docstrings of ``purchasegraph.policy``).

Each expectation is written down from those rules, never read back from the API:

- ``SelfServicePurchase.Read.All`` reads Contoso exactly as its global reader (Rita) does;
- ``Policy.ReadWrite.AllowSelfServicePurchase`` sees Contoso and its policies, nothing else, and
  changes the policies;
- a partner's application (Adatum, active relationship granting global admin) acts on Contoso with
  the least of its roles and the grant: the grant rewritten to billing admin or global reader still
  reads, but no longer changes a policy;
- Litware's relationship expired and Woodgrove has none: their applications get nothing, and
  "nothing" looks exactly like "does not exist";
- no application buys, assigns, pays, takes over, cancels or administers: refused with
  ``NOT_AUTHORIZED`` where it sees the target, ``NOT_FOUND`` where it does not (an app in a
  customer's tenant is never its buyer, like a partner's users);
- ``viewer`` is null: there is no user.

Every mutation, accepted or refused, writes one audit event naming the application (actor_app_id),
never a user, in the tenant acted on; a refusal changes nothing else.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from graphql import OperationDefinitionNode, parse

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.cli import main
from purchasegraph.compiled import run_compiled
from purchasegraph.context import build_context
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import ADATUM, CONTOSO_DOMAIN, LITWARE, RITA, WOODGROVE, demo_id, demo_tenant_id
from purchasegraph.identity import AppClaims, AppRole, InvalidToken, TokenVerifier, mint_app_token, principal_from
from purchasegraph.principals import load_app
from purchasegraph.schema import schema
from purchasegraph.schema.ids import encode_id
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings
from tests.conftest import ACT_FOR_TENANT, ENTER_GATEWAY_ROLE, LEAVE_GATEWAY_ROLE, Api
from tests.settings import SECRET, gateway_settings
from tests.test_authorization_matrix import CONTOSO_POLICIES, CONTOSO_VIEW, NODE_SAMPLES
from tests.test_http import serving, token_for
from tests.test_mutation_matrix import (
    ACCEPTED,
    CENTRAL,
    DISABLE_POWER_BI_IN_CONTOSO,
    MARK_UNA_DEPARTED,
    NOT_AUTHORIZED,
    NOT_FOUND,
    PAY_PAULAS_OPEN_INVOICE,
    PURCHASE_IN_CONTOSO,
    SELF_SERVICE,
    TAKE_OVER_PAULAS_POWER_BI,
    Scenario,
    add_licenses,
    assign_licenses,
    cancel_subscription,
    row_counts,
    start_trial,
)

CONTOSO_ID = demo_tenant_id(CONTOSO_DOMAIN)
ADATUM_ID = demo_tenant_id(ADATUM)
LITWARE_ID = demo_tenant_id(LITWARE)
WOODGROVE_ID = demo_tenant_id(WOODGROVE)
CONTOSO_GID = encode_id("Tenant", CONTOSO_ID)

WORKLOAD = (Path(__file__).parent.parent / "bench" / "workloads" / "purchase_graph.graphql").read_text()
READ = AppRole.READ_ALL
WRITE = AppRole.POLICY_READ_WRITE
SET_ADATUM_GRANT = "UPDATE partner_relationships SET roles = $3 WHERE tenant_id = $1 AND partner_tenant_id = $2"

# ---------------------------------------------------------------------------------------------
# The application actors


@dataclass(frozen=True)
class AppActor:
    """An application of a demo tenant with its app roles; ``grant`` rewrites the Adatum -> Contoso
    relationship's roles first (the seed grants global_admin)."""

    name: str
    home: uuid.UUID
    roles: frozenset[AppRole]
    grant: tuple[str, ...] | None = None

    @property
    def app_id(self) -> uuid.UUID:
        return demo_id(f"test-app:{self.name}")


ACTORS = {
    a.name: a
    for a in (
        AppActor("contoso_reader", CONTOSO_ID, frozenset({READ})),
        AppActor("contoso_policy_writer", CONTOSO_ID, frozenset({WRITE})),
        AppActor("contoso_reader_and_policy_writer", CONTOSO_ID, frozenset({READ, WRITE})),
        AppActor("adatum_reader", ADATUM_ID, frozenset({READ})),
        AppActor("adatum_policy_writer", ADATUM_ID, frozenset({WRITE})),
        AppActor("adatum_reader_through_reader_grant", ADATUM_ID, frozenset({READ}), ("global_reader",)),
        AppActor("adatum_policy_writer_through_billing_grant", ADATUM_ID, frozenset({WRITE}), ("billing_admin",)),
        AppActor("adatum_policy_writer_through_reader_grant", ADATUM_ID, frozenset({WRITE}), ("global_reader",)),
        AppActor("litware_expired_partner", LITWARE_ID, frozenset({READ, WRITE})),
        AppActor("woodgrove_unrelated", WOODGROVE_ID, frozenset({READ, WRITE})),
    )
}

# What each sees of Contoso.
WHOLE = "whole tenant, as its global reader"
POLICIES = "the tenant and its policies"
NOTHING = "nothing"
VIEW_OF_CONTOSO = {
    "contoso_reader": WHOLE,
    "contoso_policy_writer": POLICIES,
    "contoso_reader_and_policy_writer": WHOLE,
    "adatum_reader": WHOLE,
    "adatum_policy_writer": POLICIES,
    "adatum_reader_through_reader_grant": WHOLE,
    "adatum_policy_writer_through_billing_grant": POLICIES,
    "adatum_policy_writer_through_reader_grant": POLICIES,
    "litware_expired_partner": NOTHING,
    "woodgrove_unrelated": NOTHING,
}


def by_actor(table: dict[str, str]) -> list[Any]:
    assert set(table) == set(ACTORS)
    return [pytest.param(ACTORS[name], table[name], id=f"{name}-{table[name]}") for name in ACTORS]


async def as_app(api: Api, actor: AppActor, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    if actor.grant is not None:
        await api.conn.execute(SET_ADATUM_GRANT, CONTOSO_ID, ADATUM_ID, list(actor.grant))
    result = await api.execute_as_app(
        query, app_id=actor.app_id, tenant_id=actor.home, roles=actor.roles, variables=variables
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


# ---------------------------------------------------------------------------------------------
# Reads


@pytest.mark.parametrize(("actor", "view"), by_actor(VIEW_OF_CONTOSO))
async def test_an_application_has_no_viewer_and_reaches_contoso_only_with_a_role_that_sees_it(
    api: Api, actor: AppActor, view: str
) -> None:
    data = await as_app(
        api,
        actor,
        "query($t: ID!) { viewer { user { id } } tenant(id: $t) { id name } node(id: $t) { id } }",
        {"t": CONTOSO_GID},
    )
    assert data["viewer"] is None
    if view == NOTHING:
        assert data["tenant"] is None
        assert data["node"] is None
    else:
        assert data["tenant"] == {"id": CONTOSO_GID, "name": "Contoso"}
        assert data["node"] == {"id": CONTOSO_GID}


@pytest.mark.parametrize(("actor", "view"), by_actor(VIEW_OF_CONTOSO))
async def test_subscriptions_assignments_and_policies_of_contoso_by_application(
    api: Api, actor: AppActor, view: str
) -> None:
    variables = {"tenant": CONTOSO_GID, "first": 100}
    data = await as_app(api, actor, CONTOSO_VIEW, variables)
    tenant = data["tenant"]
    if view == NOTHING:
        assert tenant is None
        return
    policies = {p["product"]["productId"]: p["value"] for p in tenant["policies"]}
    if view == WHOLE:
        # Exactly the global reader's view: every subscription, purchase, license, user, capacity.
        assert data == await api.data(CONTOSO_VIEW, as_user=RITA, variables=variables)
        assert tenant["subscriptions"]["totalCount"] == 11
        assert tenant["assignments"]["totalCount"] == 23
        assert tenant["users"]["totalCount"] == 15
    else:
        # The policies and nothing else: no subscription, purchase, license, user or capacity.
        for connection in ("subscriptions", "purchases", "assignments", "users"):
            assert tenant[connection] == {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "nodes": []}
        assert tenant["capacity"] == []
    assert policies == CONTOSO_POLICIES


@pytest.mark.parametrize(("actor", "view"), by_actor(VIEW_OF_CONTOSO))
@pytest.mark.parametrize("type_name", [t for t in NODE_SAMPLES if t not in {"Tenant", "Product"}])
async def test_node_refetches_contoso_objects_for_a_reading_application_but_never_a_card(
    api: Api, actor: AppActor, view: str, type_name: str
) -> None:
    data = await as_app(api, actor, "query($id: ID!) { node(id: $id) { id } }", {"id": NODE_SAMPLES[type_name]})
    # A card is its owner's only, and an application owns none.
    expected = {"id": NODE_SAMPLES[type_name]} if view == WHOLE and type_name != "PaymentMethod" else None
    assert data["node"] == expected


@pytest.mark.parametrize(("actor", "view"), by_actor(VIEW_OF_CONTOSO))
async def test_an_application_reads_no_audit_trail_and_a_partners_sees_only_its_own_relationship(
    api: Api, actor: AppActor, view: str
) -> None:
    data = await as_app(
        api,
        actor,
        """query($t: ID!) { tenant(id: $t) {
             auditEvents(first: 10) { totalCount }
             partnerRelationships { partnerTenantId } } }""",
        {"t": CONTOSO_GID},
    )
    if view == NOTHING:
        assert data["tenant"] is None
        return
    # Like a global reader: no audit trail (that is the admins' and the partners' users').
    assert data["tenant"]["auditEvents"]["totalCount"] == 0
    partners = {uuid.UUID(p["partnerTenantId"]) for p in data["tenant"]["partnerRelationships"]}
    if view == POLICIES:
        assert partners == set()
    elif actor.home == CONTOSO_ID:
        assert partners == {ADATUM_ID, LITWARE_ID}
    else:
        assert partners == {ADATUM_ID}


async def compiled_as_app(api: Api, actor: AppActor, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
    """The compiled read path's data, run as ``Api.execute_as_app`` runs the resolvers."""
    db = ConnectionExecutor(api.conn)
    await api.conn.execute(ENTER_GATEWAY_ROLE)
    await api.conn.execute(ACT_FOR_TENANT, str(actor.home))
    try:
        app = await load_app(db, AppClaims(actor.app_id, actor.home, actor.roles))
        document = parse(query)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        result = await run_compiled(schema._schema, document, operation, variables, build_context(viewer=app, db=db))
    finally:
        await api.conn.execute(LEAVE_GATEWAY_ROLE)
    return result.data if result is not None else None


@pytest.mark.parametrize(("actor", "view"), by_actor(VIEW_OF_CONTOSO))
async def test_the_compiled_read_path_agrees_with_the_resolvers_for_an_application(
    api: Api, actor: AppActor, view: str
) -> None:
    """The compiled path takes the policy module's scope as it is, an application's included."""
    variables = {"tenantId": str(CONTOSO_ID)}
    resolved = await as_app(api, actor, WORKLOAD, variables)
    compiled = await compiled_as_app(api, actor, WORKLOAD, variables)
    assert compiled is not None, "expected the compiler to take the workload query"
    assert json.dumps(compiled) == json.dumps(resolved)
    if view == NOTHING:
        assert resolved == {"tenant": None}
    else:
        expected = 11 if view == WHOLE else 0
        assert resolved["tenant"]["subscriptions"]["totalCount"] == expected


async def test_a_partner_application_loses_contoso_on_the_next_request_once_the_relationship_ends(api: Api) -> None:
    actor = ACTORS["adatum_reader"]
    query = "query($t: ID!) { tenant(id: $t) { subscriptions { totalCount } } }"
    assert (await as_app(api, actor, query, {"t": CONTOSO_GID}))["tenant"] == {"subscriptions": {"totalCount": 11}}
    await api.conn.execute(
        "UPDATE partner_relationships SET status = 'terminated' WHERE tenant_id = $1 AND partner_tenant_id = $2",
        CONTOSO_ID,
        ADATUM_ID,
    )
    assert (await as_app(api, actor, query, {"t": CONTOSO_GID}))["tenant"] is None


async def test_an_application_reads_its_own_tenant_with_its_roles(api: Api) -> None:
    """Adatum's reader application at home: Adatum is its own tenant, no relationship needed."""
    query = "query($t: ID!) { tenant(id: $t) { name users(first: 100) { totalCount } } }"
    data = await as_app(api, ACTORS["adatum_reader"], query, {"t": str(ADATUM_ID)})
    assert data["tenant"] == {"name": "Adatum Partners", "users": {"totalCount": 1}}


# ---------------------------------------------------------------------------------------------
# Mutations

LATEST_AUDIT_EVENT = "SELECT COALESCE(max(id), 0) FROM audit_events"
AUDIT_EVENTS_SINCE = """
SELECT action, outcome, error_codes, actor_user_id, actor_app_id, actor_tenant_id, tenant_id, on_behalf_of_tenant_id
  FROM audit_events WHERE id > $1 ORDER BY id
"""


async def attempt(api: Api, scenario: Scenario, actor: AppActor, expected: str) -> None:
    """One cell: the mutation as the application, its payload, the audit event, what changed."""
    if actor.grant is not None:
        await api.conn.execute(SET_ADATUM_GRANT, CONTOSO_ID, ADATUM_ID, list(actor.grant))
    variables = await scenario.variables(api, None)
    before = await scenario.state(api, None)
    counts = await row_counts(api)
    last_event = await api.conn.fetchval(LATEST_AUDIT_EVENT)

    payload = (await as_app(api, actor, scenario.document, variables))[scenario.field]

    rows = await api.conn.fetch(AUDIT_EVENTS_SINCE, last_event)
    # An application with no reach into Contoso is recorded at home, whether its target exists or not.
    reaches_contoso = VIEW_OF_CONTOSO[actor.name] != NOTHING
    tenant = actor.home if scenario.at_home or not reaches_contoso else CONTOSO_ID
    # Named as the application of its tenant, never as a user; acting on another tenant, on its behalf.
    assert [
        (r["actor_user_id"], r["actor_app_id"], r["actor_tenant_id"], r["tenant_id"], r["on_behalf_of_tenant_id"])
        for r in rows
    ] == [(None, actor.app_id, actor.home, tenant, None if tenant == actor.home else tenant)]
    events = [(r["action"], r["outcome"], list(r["error_codes"])) for r in rows]
    if expected == ACCEPTED:
        assert payload["userErrors"] == []
        assert payload[scenario.returns] is not None
        assert await scenario.state(api, None) == scenario.after(before, None)
        assert events == [(scenario.action, "accepted", [])]
        return
    assert [e["code"] for e in payload["userErrors"]] == [expected], payload["userErrors"]
    assert payload[scenario.returns] is None
    assert await scenario.state(api, None) == before
    assert events == [(scenario.action, "refused", [expected])]
    assert await row_counts(api) == counts | {"audit_events": counts["audit_events"] + 1}
    if expected == NOT_FOUND and scenario.nonexistent is not None:
        # Hidden and absent look alike: same code, same field, same message.
        absent = (await as_app(api, actor, scenario.document, scenario.nonexistent(variables)))[scenario.field]
        assert absent == payload


def table(*, whole: str, policies: str, nothing: str = NOT_FOUND, **cells: str) -> dict[str, str]:
    """Expected answers by what each application sees of Contoso, with exceptions by name."""
    by_view = {WHOLE: whole, POLICIES: policies, NOTHING: nothing}
    return {name: cells.get(name, by_view[view]) for name, view in VIEW_OF_CONTOSO.items()}


# Changing a policy: Policy.ReadWrite here, or through a global-admin grant; whoever else sees the
# tenant is refused, everyone else finds nothing.
SET_POLICY = table(
    whole=NOT_AUTHORIZED,
    policies=NOT_AUTHORIZED,
    contoso_policy_writer=ACCEPTED,
    contoso_reader_and_policy_writer=ACCEPTED,
    adatum_policy_writer=ACCEPTED,
)
# Buying in Contoso: never. Contoso's own applications see the tenant; a partner's never buys for it.
BUY_IN_CONTOSO = table(
    whole=NOT_FOUND,
    policies=NOT_FOUND,
    contoso_reader=NOT_AUTHORIZED,
    contoso_policy_writer=NOT_AUTHORIZED,
    contoso_reader_and_policy_writer=NOT_AUTHORIZED,
)
# startTrial names no tenant: the application's own, which it sees; still nobody's trial.
AT_HOME = dict.fromkeys(ACTORS, NOT_AUTHORIZED)
# Changing a subscription (licenses, life, its bill): the readers see it and may not; the policy
# applications do not see it.
ON_A_SUBSCRIPTION = table(whole=NOT_AUTHORIZED, policies=NOT_FOUND)
# Admin actions and take-over check the role before the target: refused to anyone who sees Contoso.
ROLE_FIRST = table(whole=NOT_AUTHORIZED, policies=NOT_AUTHORIZED)


@pytest.mark.parametrize(("actor", "expected"), by_actor(SET_POLICY))
async def test_a_self_service_policy_is_set_by_an_application_holding_policy_read_write(
    api: Api, actor: AppActor, expected: str
) -> None:
    await attempt(api, DISABLE_POWER_BI_IN_CONTOSO, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(BUY_IN_CONTOSO))
async def test_an_application_never_buys(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, PURCHASE_IN_CONTOSO, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(AT_HOME))
async def test_an_application_never_starts_a_trial(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, start_trial(api), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(ON_A_SUBSCRIPTION))
async def test_an_application_never_assigns_a_central_subscription(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, assign_licenses(CENTRAL), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(ON_A_SUBSCRIPTION))
async def test_an_application_never_assigns_a_purchasers_subscription(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, assign_licenses(SELF_SERVICE), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(ON_A_SUBSCRIPTION))
async def test_an_application_never_adds_licenses(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, add_licenses(CENTRAL), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(ON_A_SUBSCRIPTION))
async def test_an_application_never_cancels(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, cancel_subscription(CENTRAL), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(ON_A_SUBSCRIPTION))
async def test_an_application_never_pays_a_bill(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, PAY_PAULAS_OPEN_INVOICE, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(ROLE_FIRST))
async def test_an_application_never_takes_over(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, TAKE_OVER_PAULAS_POWER_BI, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), by_actor(ROLE_FIRST))
async def test_an_application_never_administers_the_directory(api: Api, actor: AppActor, expected: str) -> None:
    await attempt(api, MARK_UNA_DEPARTED, actor, expected)


async def test_a_policy_set_by_an_application_names_no_user_as_its_author(api: Api) -> None:
    await attempt(api, DISABLE_POWER_BI_IN_CONTOSO, ACTORS["adatum_policy_writer"], ACCEPTED)
    updated_by = await api.conn.fetchval(
        "SELECT updated_by FROM self_service_policies WHERE tenant_id = $1 AND product_id = $2",
        CONTOSO_ID,
        POWER_BI_PRO,
    )
    assert updated_by is None


async def test_an_audit_event_names_a_user_or_an_application_never_both(api: Api) -> None:
    with pytest.raises(Exception, match="audit_events_one_actor"):
        await api.conn.execute(
            """INSERT INTO audit_events (tenant_id, actor_user_id, actor_app_id, actor_tenant_id, action,
                                         target_type, target_id)
               VALUES ($1, $2, $3, $1, 'test', 'Tenant', 'x')""",
            CONTOSO_ID,
            uuid.uuid4(),
            uuid.uuid4(),
        )


# ---------------------------------------------------------------------------------------------
# Tokens

NOW = int(time.time())


def app_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "idtyp": "app",
        "appid": str(ACTORS["contoso_reader"].app_id),
        "tid": str(CONTOSO_ID),
        "roles": [READ.value],
        "iss": DEV_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "iat": NOW,
        "exp": NOW + 600,
    } | overrides
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_an_app_token_names_the_application_its_tenant_and_its_roles() -> None:
    app_id = ACTORS["contoso_reader"].app_id
    assert principal_from(app_claims()) == AppClaims(app_id, CONTOSO_ID, frozenset({READ}))
    # v2 tokens name the client `azp`; both names present must agree.
    v2 = app_claims(appid=None, azp=str(app_id), roles=[READ.value, WRITE.value])
    assert principal_from(v2) == AppClaims(app_id, CONTOSO_ID, frozenset({READ, WRITE}))
    assert principal_from(app_claims(azp=str(app_id))) == AppClaims(app_id, CONTOSO_ID, frozenset({READ}))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"roles": ["SelfServicePurchase.ReadWrite.All"]}, id="unknown-role"),
        pytest.param({"roles": [READ.value, "Directory.ReadWrite.All"]}, id="a-known-and-an-unknown-role"),
        pytest.param({"roles": []}, id="no-role"),
        pytest.param({"roles": None}, id="no-roles-claim"),
        pytest.param({"roles": READ.value}, id="roles-not-a-list"),
        pytest.param({"oid": str(demo_id("user:alex.admin@contoso.example"))}, id="claims-a-user"),
        pytest.param({"scp": "user_impersonation"}, id="claims-delegated-scopes"),
        pytest.param({"appid": None}, id="no-application"),
        pytest.param({"appid": "purchase-tool"}, id="application-not-a-guid"),
        pytest.param({"azp": str(uuid.uuid4())}, id="appid-and-azp-disagree"),
        pytest.param({"tid": None}, id="no-tenant"),
        pytest.param({"idtyp": "device"}, id="unknown-token-type"),
    ],
)
def test_an_app_token_that_is_not_exactly_an_applications_is_invalid(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        principal_from(app_claims(**overrides))


async def test_verify_stays_a_users_verification_and_refuses_an_app_token() -> None:
    """Callers of ``verify`` (the websocket transport) act for a user; ``verify_principal`` takes both."""
    verifier = TokenVerifier(Settings(jwt_secret=SECRET), secret=SECRET)
    token = sign(app_claims())
    assert isinstance(await verifier.verify_principal(token), AppClaims)
    with pytest.raises(InvalidToken, match="application token"):
        await verifier.verify(token)
    user = await verifier.verify(token_for(RITA, CONTOSO_DOMAIN))
    assert user.user_id == demo_id(f"user:{RITA}")


# ---------------------------------------------------------------------------------------------
# Over HTTP


@pytest.fixture(scope="module")
async def client(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url)) as http:
        yield http


async def post(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_an_app_token_is_accepted_end_to_end_and_pays_from_its_own_bucket(
    client: httpx.AsyncClient, pool: Any
) -> None:
    app_id = uuid.uuid4()
    token = mint_app_token(
        secret=SECRET,
        app_id=app_id,
        tenant_id=ADATUM_ID,
        roles=[READ],
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
    )
    response = await post(
        client,
        token,
        "query($t: ID!) { viewer { user { id } } tenant(id: $t) { name subscriptions { totalCount } } }",
        {"t": CONTOSO_GID},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == {"viewer": None, "tenant": {"name": "Contoso", "subscriptions": {"totalCount": 11}}}
    # The throttle's bucket is the application's of its tenant, apart from every user's.
    assert (
        await pool.fetchval("SELECT count(*) FROM throttle_buckets WHERE principal = $1", f"app:{ADATUM_ID}:{app_id}")
        == 1
    )


async def test_a_refusal_over_http_is_audited_naming_the_application(client: httpx.AsyncClient, pool: Any) -> None:
    """Woodgrove's reader application may read Woodgrove's policies, not change them. (A refusal,
    so the committed request leaves nothing behind but its audit event.)"""
    app_id = uuid.uuid4()
    token = mint_app_token(
        secret=SECRET, app_id=app_id, tenant_id=WOODGROVE_ID, roles=[READ], issuer=DEV_ISSUER, audience=DEFAULT_AUDIENCE
    )
    mutation = """mutation($t: ID!) {
      setSelfServicePolicy(tenantId: $t, productId: "CFQ7TTC0H9MP", value: DISABLED) {
        policy { value } userErrors { code } } }"""
    response = await post(client, token, mutation, {"t": str(WOODGROVE_ID)})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["setSelfServicePolicy"] == {"policy": None, "userErrors": [{"code": NOT_AUTHORIZED}]}
    events = await pool.fetch(
        "SELECT tenant_id, actor_user_id, actor_tenant_id, action, outcome FROM audit_events WHERE actor_app_id = $1",
        app_id,
    )
    assert [dict(e) for e in events] == [
        {
            "tenant_id": WOODGROVE_ID,
            "actor_user_id": None,
            "actor_tenant_id": WOODGROVE_ID,
            "action": "self_service_policy.update",
            "outcome": "refused",
        }
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"roles": ["SelfServicePurchase.ReadWrite.All"]}, id="unknown-role"),
        pytest.param({"oid": str(demo_id(f"user:{RITA}"))}, id="app-token-claiming-a-user"),
        pytest.param({"tid": str(uuid.uuid4())}, id="tenant-this-service-does-not-have"),
    ],
)
async def test_a_bad_app_token_is_refused_with_401_and_no_data(
    client: httpx.AsyncClient, overrides: dict[str, Any]
) -> None:
    response = await post(client, sign(app_claims(**overrides)), "{ products { productId } }")
    assert response.status_code == 401
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------------------------------------
# The token command


@pytest.fixture
def cli_env(database_url: str, pool: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI against the session's database and secret (`pool`: migrated and seeded first)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PURCHASEGRAPH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PURCHASEGRAPH_SEED_DEMO", "off")
    monkeypatch.delenv("PURCHASEGRAPH_JWKS_URL", raising=False)
    monkeypatch.delenv("PURCHASEGRAPH_JWT_ISSUER", raising=False)
    monkeypatch.delenv("PURCHASEGRAPH_JWT_AUDIENCE", raising=False)


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("tenant", [CONTOSO_DOMAIN, str(CONTOSO_ID)], ids=["by-domain", "by-id"])
def test_the_token_command_mints_an_app_token(capsys: pytest.CaptureFixture[str], tenant: str) -> None:
    app_id = uuid.uuid4()
    argv = ["token", "--app", str(app_id), "--tenant", tenant, "--role", READ.value, "--role", WRITE.value]
    assert main(argv) == 0
    payload = jwt.decode(capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"], audience=DEFAULT_AUDIENCE)
    assert principal_from(payload) == AppClaims(app_id, CONTOSO_ID, frozenset({READ, WRITE}))
    assert payload["iss"] == DEV_ISSUER
    # Entra-shaped: the service principal in `oid`, equal to `sub`; no delegated scopes.
    assert payload["oid"] == payload["sub"]
    assert "scp" not in payload


@pytest.mark.usefixtures("cli_env")
def test_the_token_command_knows_no_such_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--app", str(uuid.uuid4()), "--tenant", "nowhere.example", "--role", READ.value]) == 3
    assert "nowhere.example" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["token", "--app", str(uuid.uuid4()), "--role", READ.value], id="no-tenant"),
        pytest.param(["token", "--app", str(uuid.uuid4()), "--tenant", CONTOSO_DOMAIN], id="no-role"),
        pytest.param(
            ["token", "--app", "purchase-tool", "--tenant", CONTOSO_DOMAIN, "--role", READ.value], id="not-a-guid"
        ),
        pytest.param(["token", RITA, "--role", READ.value], id="user-with-a-role"),
        pytest.param(["token"], id="nobody"),
    ],
)
def test_the_token_command_refuses_a_half_given_principal(argv: list[str]) -> None:
    assert main(argv) == 2


def test_the_token_command_refuses_an_unknown_role() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "--app", str(uuid.uuid4()), "--tenant", CONTOSO_DOMAIN, "--role", "Directory.ReadWrite.All"])
    assert exit_.value.code == 2


async def test_the_admins_audit_trail_names_the_application_that_acted(api: Api) -> None:
    writer = ACTORS["contoso_policy_writer"]
    await as_app(
        api,
        writer,
        f'mutation {{ setSelfServicePolicy(tenantId: "{CONTOSO_ID}", productId: "CFQ7TTC0H9MP", value: DISABLED)'
        " { userErrors { code } } }",
    )
    data = await api.data(
        f'{{ tenant(id: "{CONTOSO_ID}") {{ auditEvents(first: 1) '
        "{ nodes { action outcome actorUserId actorAppId } } } }",
        as_user="alex.admin@contoso.example",
    )
    assert data["tenant"]["auditEvents"]["nodes"] == [
        {
            "action": "self_service_policy.update",
            "outcome": "accepted",
            "actorUserId": None,
            "actorAppId": str(writer.app_id),
        }
    ]
