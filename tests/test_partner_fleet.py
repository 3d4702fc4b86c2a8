"""The partner's fleet: ``accessibleTenants`` for users and applications, ``tenant(id:)``
by primary domain, the demo world's reader-only partner, and the fleet query's cost.

Expectations are written from the access rules (``policy`` docstrings), never read back from
the API: a user reaches their home tenant and each customer of a relationship of their tenant in
force (members only; guests act for no one); an application its home where its app roles see
something, and each customer of an in-force relationship where the least of its roles and the
grant sees something. Every read runs on both paths (resolvers and compiled) and must agree byte
for byte.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from graphql import OperationDefinitionNode, parse

from purchasegraph.compiled import run_compiled
from purchasegraph.db.pagination import MAX_PAGE_SIZE
from purchasegraph.demo.actors import (
    ADATUM,
    ALEX,
    AMANI,
    CONTOSO_DOMAIN,
    GUS,
    KINSHASA,
    LIA,
    LITWARE,
    OLGA,
    PAT,
    PAULA,
    PROSEWARE,
    ROSA,
    WOODGROVE,
    demo_id,
    demo_tenant_id,
    demo_user_id,
)
from purchasegraph.gateway.limits import check_cost, query_cost
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.identity import AppClaims, AppRole, mint_app_token
from purchasegraph.schema import schema
from purchasegraph.schema.ids import encode_id
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, QueryLimits
from tests.conftest import Api
from tests.settings import SECRET, gateway_settings
from tests.test_http import serving, token_for
from tests.test_mutation_matrix import ERRORS

CONTOSO_ID = demo_tenant_id(CONTOSO_DOMAIN)
ADATUM_ID = demo_tenant_id(ADATUM)
LITWARE_ID = demo_tenant_id(LITWARE)
WOODGROVE_ID = demo_tenant_id(WOODGROVE)
KINSHASA_ID = demo_tenant_id(KINSHASA)
PROSEWARE_ID = demo_tenant_id(PROSEWARE)

FLEET = """
query ($first: Int, $after: String, $last: Int, $before: String) {
  accessibleTenants(first: $first, after: $after, last: $last, before: $before) {
    __typename totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { access grantedRoles endsAt canAdminister tenant { tenantId primaryDomain } } }
    nodes { tenant { name } }
  }
}
"""
EXAMPLE = (Path(__file__).parent.parent / "examples" / "partner_fleet.graphql").read_text()
PAGE = {"first": None, "after": None, "last": None, "before": None}


# -- running a read on both paths -------------------------------------------------------------


async def both(
    api: Api,
    query: str,
    variables: dict[str, Any],
    *,
    user: str | None = None,
    app: AppClaims | None = None,
) -> dict[str, Any]:
    """The resolvers' data, after checking that the compiled path gives the very same bytes."""
    principal = app if app is not None else api.claims_of(user)
    document = parse(query)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    async with api.as_gateway(principal) as context:
        result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    async with api.as_gateway(principal) as context:
        compiled = await run_compiled(schema._schema, document, operation, variables, context)
    assert compiled is not None, "expected the compiler to take this read"
    assert json.dumps(compiled.data) == json.dumps(result.data)
    assert result.data is not None
    return result.data


def app(home: uuid.UUID, *roles: AppRole) -> AppClaims:
    return AppClaims(app_id=demo_id(f"test-app:fleet:{home}:{sorted(roles)}"), tenant_id=home, roles=frozenset(roles))


async def ends_at(api: Api, customer: uuid.UUID, partner: uuid.UUID) -> str:
    value: datetime.datetime = await api.conn.fetchval(
        "SELECT ends_at FROM partner_relationships WHERE tenant_id = $1 AND partner_tenant_id = $2", customer, partner
    )
    return value.astimezone(datetime.UTC).isoformat()


def home(tenant: uuid.UUID, access: str | None, *, administers: bool = False) -> tuple[Any, ...]:
    return (str(tenant), access, [], None, administers)


# -- accessibleTenants, role by role -----------------------------------------------------------

USERS: dict[str | None, Any] = {
    # The tenant's own people reach their home only, with what their directory role gives.
    ALEX: lambda ends: [home(CONTOSO_ID, "ADMIN", administers=True)],
    PAULA: lambda ends: [home(CONTOSO_ID, "MEMBER")],
    GUS: lambda ends: [home(CONTOSO_ID, "GUEST")],
    OLGA: lambda ends: [home(WOODGROVE_ID, "MEMBER")],
    # An active partner with a global-admin grant: home, then Contoso, administering it.
    PAT: lambda ends: [
        home(ADATUM_ID, "MEMBER"),
        (str(CONTOSO_ID), "PARTNER", ["GLOBAL_ADMIN"], ends[CONTOSO_ID, ADATUM_ID], True),
    ],
    # A reader-only partner: Kinshasa Traders, seen whole, administered not at all.
    ROSA: lambda ends: [
        home(PROSEWARE_ID, "MEMBER"),
        (str(KINSHASA_ID), "PARTNER", ["GLOBAL_READER"], ends[KINSHASA_ID, PROSEWARE_ID], False),
    ],
    # A lapsed partner: its relationship with Contoso expired, so only home.
    LIA: lambda ends: [home(LITWARE_ID, "MEMBER")],
    None: lambda ends: [],
}


async def relationship_ends(api: Api) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    pairs = [(CONTOSO_ID, ADATUM_ID), (KINSHASA_ID, PROSEWARE_ID)]
    return {pair: await ends_at(api, *pair) for pair in pairs}


def listed(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            e["node"]["tenant"]["tenantId"],
            e["node"]["access"],
            e["node"]["grantedRoles"],
            e["node"]["endsAt"],
            e["node"]["canAdminister"],
        )
        for e in data["accessibleTenants"]["edges"]
    ]


@pytest.mark.parametrize(
    "user",
    list(USERS),
    ids=["admin", "purchaser", "guest", "outsider", "partner_admin_grant", "partner_reader", "lapsed", "anonymous"],
)
async def test_accessible_tenants_lists_home_then_each_customer_in_force_with_its_grant(
    api: Api, user: str | None
) -> None:
    expected = USERS[user](await relationship_ends(api))
    data = await both(api, FLEET, PAGE, user=user)
    assert listed(data) == expected
    connection = data["accessibleTenants"]
    assert connection["totalCount"] == len(expected)
    assert connection["pageInfo"]["hasNextPage"] is False
    assert connection["pageInfo"]["hasPreviousPage"] is False


APPS = {
    # Adatum's reader: home, and Contoso through its relationship (global-admin grant), read only.
    "adatum_reader": (app(ADATUM_ID, AppRole.READ_ALL), [ADATUM_ID, CONTOSO_ID], "READER"),
    # A policy-only app: the tenants whose policies it reads, with no access level.
    "adatum_policies": (app(ADATUM_ID, AppRole.POLICY_READ_WRITE), [ADATUM_ID, CONTOSO_ID], None),
    "proseware_reader": (app(PROSEWARE_ID, AppRole.READ_ALL), [PROSEWARE_ID, KINSHASA_ID], "READER"),
    # Litware's relationship lapsed, Woodgrove has none: home only.
    "litware_reader": (app(LITWARE_ID, AppRole.READ_ALL), [LITWARE_ID], "READER"),
    "woodgrove_reader": (app(WOODGROVE_ID, AppRole.READ_ALL), [WOODGROVE_ID], "READER"),
    # No app role: it sees nothing, even at home, and reaches no customer.
    "no_roles": (app(ADATUM_ID), [], None),
}


@pytest.mark.parametrize("name", list(APPS))
async def test_an_application_lists_the_customers_it_reaches(api: Api, name: str) -> None:
    claims, tenants, access = APPS[name]
    ends = await relationship_ends(api)
    data = await both(api, FLEET, PAGE, app=claims)
    expected = []
    for tenant in tenants:
        grant = {CONTOSO_ID: ["GLOBAL_ADMIN"], KINSHASA_ID: ["GLOBAL_READER"]}.get(tenant, [])
        end = ends[tenant, claims.tenant_id] if grant else None
        expected.append((str(tenant), access, grant, end, False))  # an application administers nothing
    assert listed(data) == expected
    assert data["accessibleTenants"]["totalCount"] == len(tenants)


async def test_a_partners_fleet_pages_with_cursors_forward_and_back(api: Api) -> None:
    whole = listed(await both(api, FLEET, PAGE, user=PAT))
    first = await both(api, FLEET, PAGE | {"first": 1}, user=PAT)
    assert listed(first) == whole[:1]
    assert first["accessibleTenants"]["pageInfo"]["hasNextPage"] is True
    assert first["accessibleTenants"]["totalCount"] == 2
    after = first["accessibleTenants"]["pageInfo"]["endCursor"]
    second = await both(api, FLEET, PAGE | {"first": 1, "after": after}, user=PAT)
    assert listed(second) == whole[1:]
    assert second["accessibleTenants"]["pageInfo"]["hasNextPage"] is False
    assert second["accessibleTenants"]["pageInfo"]["hasPreviousPage"] is True
    before = second["accessibleTenants"]["pageInfo"]["startCursor"]
    back = await both(api, FLEET, PAGE | {"last": 5, "before": before}, user=PAT)
    assert listed(back) == whole[:1]
    assert back["accessibleTenants"]["pageInfo"] == first["accessibleTenants"]["pageInfo"] | {
        "hasNextPage": True,
        "hasPreviousPage": False,
    }
    empty = await both(api, FLEET, PAGE | {"first": 0}, user=PAT)
    assert listed(empty) == []
    assert empty["accessibleTenants"]["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"first": 1, "last": 1}, "first"), ({"first": 101}, "first"), ({"after": "not-a-cursor"}, "after")],
)
async def test_bad_paging_of_the_fleet_is_refused_as_the_other_connections_refuse_it(
    api: Api, arguments: dict[str, Any], field: str
) -> None:
    result = await api.execute(FLEET, as_user=PAT, variables=PAGE | arguments)
    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert await api.compiled(FLEET, as_user=PAT, variables=PAGE | arguments) is None  # the resolvers answer


async def test_a_relationship_that_ends_leaves_the_fleet_on_the_next_request(api: Api) -> None:
    await api.conn.execute(
        "UPDATE partner_relationships SET status = 'terminated' WHERE tenant_id = $1 AND partner_tenant_id = $2",
        KINSHASA_ID,
        PROSEWARE_ID,
    )
    assert listed(await both(api, FLEET, PAGE, user=ROSA)) == [home(PROSEWARE_ID, "MEMBER")]


async def test_several_relationships_with_one_customer_add_up_their_roles_and_reach_to_the_last_end(
    api: Api,
) -> None:
    later = await api.conn.fetchval("SELECT app_now() + interval '500 days'")
    await api.conn.execute(
        """INSERT INTO partner_relationships (tenant_id, id, partner_tenant_id, display_name, roles, status,
                                              starts_at, ends_at)
           VALUES ($1, $2, $3, 'Proseware billing', '{billing_admin}', 'active', app_now() - interval '1 day', $4)""",
        KINSHASA_ID,
        uuid.uuid4(),
        PROSEWARE_ID,
        later,
    )
    [_, kinshasa] = listed(await both(api, FLEET, PAGE, user=ROSA))
    assert kinshasa == (
        str(KINSHASA_ID),
        "PARTNER",
        ["BILLING_ADMIN", "GLOBAL_READER"],
        later.astimezone(datetime.UTC).isoformat(),
        True,
    )


# -- tenant(id:) by primary domain --------------------------------------------------------------

BY_DOMAIN = """
query ($id: ID!) {
  tenant(id: $id) {
    tenantId name primaryDomain
    subscriptions(first: 50) { totalCount nodes { id } }
    users(first: 3) { totalCount }
  }
}
"""
REACHES = {
    ALEX: {CONTOSO_DOMAIN},
    PAULA: {CONTOSO_DOMAIN},
    GUS: {CONTOSO_DOMAIN},
    OLGA: {WOODGROVE},
    PAT: {ADATUM, CONTOSO_DOMAIN},
    ROSA: {PROSEWARE, KINSHASA},
    LIA: {LITWARE},
    None: set(),
}
DOMAINS = [CONTOSO_DOMAIN, WOODGROVE, KINSHASA, LITWARE, "unknown.example", ""]


@pytest.mark.parametrize("user", list(REACHES), ids=lambda u: u or "anonymous")
async def test_a_tenant_by_domain_is_scoped_exactly_like_by_id(api: Api, user: str | None) -> None:
    unknown = await both(api, BY_DOMAIN, {"id": "unknown.example"}, user=user)
    assert unknown == {"tenant": None}
    for domain in DOMAINS:
        by_domain = await both(api, BY_DOMAIN, {"id": domain}, user=user)
        if domain not in REACHES[user]:
            assert by_domain == unknown, domain  # outside the reach looks exactly like unknown
            continue
        tenant_id = str(demo_tenant_id(domain))
        assert by_domain == await both(api, BY_DOMAIN, {"id": tenant_id}, user=user)
        assert by_domain["tenant"]["primaryDomain"] == domain
        # Domains compare as DNS does: case does not matter.
        assert await both(api, BY_DOMAIN, {"id": domain.upper()}, user=user) == by_domain


@pytest.mark.parametrize(
    ("claims", "reached"),
    [
        (app(ADATUM_ID, AppRole.READ_ALL), {ADATUM, CONTOSO_DOMAIN}),
        (app(PROSEWARE_ID, AppRole.READ_ALL), {PROSEWARE, KINSHASA}),
        (app(WOODGROVE_ID, AppRole.READ_ALL), {WOODGROVE}),
        (app(LITWARE_ID, AppRole.READ_ALL), {LITWARE}),
    ],
    ids=["adatum", "proseware", "woodgrove", "litware"],
)
async def test_an_application_finds_a_tenant_by_domain_only_within_its_reach(
    api: Api, claims: AppClaims, reached: Collection[str]
) -> None:
    for domain in DOMAINS:
        data = await both(api, BY_DOMAIN, {"id": domain}, app=claims)
        if domain in reached:
            assert data["tenant"]["tenantId"] == str(demo_tenant_id(domain))
        else:
            assert data == {"tenant": None}, domain


# -- the demo world's reader-only partner ---------------------------------------------------------

SET_POLICY = f"""
mutation ($tenantId: ID!, $productId: ID!, $value: SelfServicePolicyValue!) {{
  setSelfServicePolicy(tenantId: $tenantId, productId: $productId, value: $value) {{ policy {{ value }} {ERRORS} }}
}}
"""
MARK_DEPARTED = f"mutation ($userId: ID!) {{ markUserDeparted(userId: $userId) {{ user {{ id }} {ERRORS} }} }}"


async def audit_rows(api: Api) -> int:
    count: int = await api.conn.fetchval("SELECT count(*) FROM audit_events WHERE tenant_id = $1", KINSHASA_ID)
    return count


async def test_the_reader_only_partner_reads_its_customer(api: Api) -> None:
    data = await both(api, BY_DOMAIN, {"id": KINSHASA}, user=ROSA)
    assert data["tenant"]["users"]["totalCount"] == 2  # the whole directory: Kofi and Amani


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (
            SET_POLICY,
            {"tenantId": encode_id("Tenant", KINSHASA_ID), "productId": "CFQ7TTC0H9MP", "value": "DISABLED"},
            "setSelfServicePolicy",
        ),
        (MARK_DEPARTED, {"userId": encode_id("User", demo_user_id(AMANI), KINSHASA_ID)}, "markUserDeparted"),
    ],
    ids=["set_policy", "mark_departed"],
)
async def test_the_reader_only_partner_is_refused_every_admin_mutation_with_not_authorized(
    api: Api, document: str, variables: dict[str, Any], field: str
) -> None:
    before = await audit_rows(api)
    payload = (await api.data(document, as_user=ROSA, variables=variables))[field]
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_AUTHORIZED"]
    assert await audit_rows(api) == before + 1  # the refusal is audited in the customer's tenant
    policies = await api.conn.fetchval("SELECT count(*) FROM self_service_policies WHERE tenant_id = $1", KINSHASA_ID)
    departed = await api.conn.fetchval(
        "SELECT count(*) FROM users WHERE tenant_id = $1 AND departed_at IS NOT NULL", KINSHASA_ID
    )
    assert (policies, departed) == (0, 0)


async def test_the_demo_world_has_a_tenant_in_the_congo_where_project_and_visio_are_not_sold(api: Api) -> None:
    query = """query ($p: ID!) { viewer { homeTenant { country currency } eligibility(productId: $p) { reasons } } }"""
    kofi = "kofi.admin@kinshasa-traders.example"
    project = (await api.data(query, as_user=kofi, variables={"p": "CFQ7TTC0HDB0"}))["viewer"]
    assert project["homeTenant"] == {"country": "CD", "currency": "USD"}
    assert "PRODUCT_NOT_AVAILABLE_IN_MARKET" in project["eligibility"]["reasons"]
    power_bi = (await api.data(query, as_user=kofi, variables={"p": "CFQ7TTC0H9MP"}))["viewer"]
    assert "PRODUCT_NOT_AVAILABLE_IN_MARKET" not in power_bi["eligibility"]["reasons"]


# -- the fleet query: examples/partner_fleet.graphql ---------------------------------------------


async def test_the_fleet_example_reads_each_customers_capacity_and_expiring_subscriptions(api: Api) -> None:
    data = await both(api, EXAMPLE, {}, user=PAT)
    edges = data["accessibleTenants"]["edges"]
    assert [e["node"]["tenant"]["primaryDomain"] for e in edges] == [ADATUM, CONTOSO_DOMAIN]
    contoso = edges[1]["node"]
    assert contoso["grantedRoles"] == ["GLOBAL_ADMIN"]
    assert contoso["endsAt"] == await ends_at(api, CONTOSO_ID, ADATUM_ID)
    assert contoso["tenant"]["capacity"], "Contoso has licenses bought"
    expiring = contoso["tenant"]["expiringSoon"]["nodes"]
    assert expiring
    assert all(s["status"] in ("ACTIVE", "TRIAL") for s in expiring)
    assert [s["expiresAt"] for s in expiring] == sorted(s["expiresAt"] for s in expiring)
    # The reader-only partner's fleet, and an application's, run as written too.
    rosa = await both(api, EXAMPLE, {}, user=ROSA)
    assert [e["node"]["canAdminister"] for e in rosa["accessibleTenants"]["edges"]] == [False, False]
    adatum_app = await both(api, EXAMPLE, {}, app=app(ADATUM_ID, AppRole.READ_ALL))
    assert [e["node"]["tenant"]["primaryDomain"] for e in adatum_app["accessibleTenants"]["edges"]] == [
        ADATUM,
        CONTOSO_DOMAIN,
    ]


def test_the_fleet_query_is_cost_counted_like_any_list() -> None:
    """GitHub's node count: the page of tenants, times what each tenant asks for (capacity, a plain
    list, counts as the largest page; the expiring subscriptions as their page of 5)."""
    document = parse(EXAMPLE)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    per_tenant = MAX_PAGE_SIZE + 5
    assert query_cost(schema._schema, document, operation, {}) == 1 + 20 + 20 * per_tenant
    assert query_cost(schema._schema, document, operation, {"first": 3}) == 1 + 3 + 3 * per_tenant


def test_a_fleet_query_that_could_return_too_much_is_refused_before_it_runs() -> None:
    """100 tenants, each with 100 subscriptions of 100 assignments: a million nodes asked for."""
    limits = QueryLimits()
    document = parse(
        """query Wide { accessibleTenants(first: 100) { nodes { tenant {
             subscriptions(first: 100) { nodes { assignments(first: 100) { nodes { id } } } } } } } }"""
    )
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    cost = query_cost(schema._schema, document, operation, {})
    assert cost == 1 + 100 + 100 * (100 + 100 * 100)
    with pytest.raises(RequestError) as refused:
        check_cost(cost, limits)
    assert refused.value.code is RequestCode.QUERY_COST_EXCEEDED


async def test_a_grants_end_date_reads_the_same_in_any_session_time_zone(api: Api) -> None:
    """The grant's end travels as JSON text, rendered in the session's zone: it is read back as the
    UTC instant, as every other DateTime is."""
    expected = await ends_at(api, CONTOSO_ID, ADATUM_ID)
    await api.conn.execute("SET LOCAL TimeZone = 'Asia/Kolkata'")
    [_, contoso] = listed(await both(api, FLEET, PAGE, user=PAT))
    assert contoso[3] == expected


# -- over HTTP, as the gateway signs principals in (one statement: sign_in_user, sign_in_app) ----


async def test_over_http_a_partners_user_and_its_application_list_the_same_customers(
    database_url: str, pool: asyncpg.Pool
) -> None:
    query = (
        "{ viewer { user { id } } accessibleTenants { nodes { access grantedRoles endsAt tenant { primaryDomain } } } }"
    )
    end = (
        (
            await pool.fetchval(
                "SELECT ends_at FROM partner_relationships WHERE tenant_id = $1 AND partner_tenant_id = $2",
                KINSHASA_ID,
                PROSEWARE_ID,
            )
        )
        .astimezone(datetime.UTC)
        .isoformat()
    )
    app_token = mint_app_token(
        secret=SECRET,
        app_id=demo_id("test-app:fleet-over-http"),
        tenant_id=PROSEWARE_ID,
        roles=[AppRole.READ_ALL],
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
    )
    async with serving(gateway_settings(database_url)) as http:
        as_app = await http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {app_token}"})
        as_rosa = await http.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token_for(ROSA, PROSEWARE)}"}
        )
    assert as_app.status_code == as_rosa.status_code == 200
    app_data, rosa_data = as_app.json()["data"], as_rosa.json()["data"]
    assert app_data["viewer"] is None  # an application is no user, and still lists its customers
    customer = {"grantedRoles": ["GLOBAL_READER"], "endsAt": end, "tenant": {"primaryDomain": KINSHASA}}
    assert app_data["accessibleTenants"]["nodes"] == [
        {"access": "READER", "grantedRoles": [], "endsAt": None, "tenant": {"primaryDomain": PROSEWARE}},
        {"access": "READER", **customer},
    ]
    assert rosa_data["accessibleTenants"]["nodes"] == [
        {"access": "MEMBER", "grantedRoles": [], "endsAt": None, "tenant": {"primaryDomain": PROSEWARE}},
        {"access": "PARTNER", **customer},
    ]
