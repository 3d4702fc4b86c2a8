"""Every root of the read schema compiles — ``viewer``, ``node``, ``products`` beside ``tenant`` —
and the tenant's plain lists with them; the compiled data is the resolvers' to the byte.

The resolvers are the reference: each case runs a query both ways, for every demo viewer and for
applications, and asserts the two paths agree (key order included) and that the read counted as
compiled. An object outside the viewer's scope, asked for by id, must look exactly like an id
that does not exist.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from purchasegraph.catalogue import POWER_BI_PRO, VISIO_PLAN_1
from purchasegraph.demo.actors import (
    ALEX,
    CONTOSO,
    CONTOSO_ID,
    DANA,
    DEMO_USERS,
    GUS,
    LEE,
    OLGA,
    PAULA,
    demo_id,
    demo_user_id,
)
from purchasegraph.demo.global_ids import PAULAS_POWER_BI
from purchasegraph.schema.ids import decode_id, encode_id
from tests.conftest import Api
from tests.test_app_principals import ACTORS, AppActor, as_app, compiled_as_app
from tests.test_authorization_matrix import NODE_SAMPLES
from tests.test_compiled_reads import VIEWERS, reads

PRODUCT = """
  __typename id productId name family selfService trialAvailable trialDays trialRequiresPaymentMethod
  prices(market: $market) { market channel unitPrice { amount currency } }
"""
USER = "__typename id userId displayName userPrincipalName mail userType source accountEnabled departedAt"
SUBSCRIPTION = """
  __typename id channel controlledBy quantity status isTrial termStart expiresAt autoRenew billingFrequency
  createdAt canceledAt cancelReason unitPrice { amount currency } product { id name } purchaser { id }
  paymentMethod { __typename id kind brand last4 expMonth expYear }
"""
TENANT_LISTS = """
  __typename id name
  policies { __typename value updatedAt product { productId name } }
  capacity {
    __typename selfServiceLicenses centralLicenses assignedLicenses selfServiceSubscriptions
    centralSubscriptions freeLicenses product { id }
  }
  partnerRelationships { __typename id displayName partnerTenantId roles status startsAt endsAt inForce }
"""

PRODUCTS = "query($market: String) { products(market: $market) { " + PRODUCT + " } }"
TENANT = "query($t: ID!) { tenant(id: $t) { " + TENANT_LISTS + " subscriptions { nodes { " + SUBSCRIPTION + " } } } }"
VIEWER = (
    """
query($product: ID!, $n: Int!) {
  viewer {
    __typename
    user { """
    + USER
    + """ }
    homeTenant { """
    + TENANT_LISTS
    + """ }
    directoryRoles
    tenants { __typename access tenant { id name ...Lists } }
    roles: directoryRoles
    notifications(first: $n) { totalCount nodes { kind message subjectId createdAt } }
    eligibility(productId: $product) { eligible reasons message canStartTrial __typename }
    visio: eligibility(productId: "CFQ7TTC0HD33") { reasons canStartTrial }
    unknown: eligibility(productId: "NOT-A-PRODUCT") { eligible }
  }
}
fragment Lists on Tenant { policies { value } capacity { freeLicenses } partnerRelationships { displayName } }
"""
)
NODE = (
    """
query($id: ID!, $market: String) {
  node(id: $id) {
    __typename
    id
    ... on Tenant { """
    + TENANT_LISTS
    + """ }
    ... on Product { """
    + PRODUCT
    + """ }
    ... on User { """
    + USER
    + """ }
    ... on Subscription { """
    + SUBSCRIPTION
    + """ }
    ... on Order {
      kind quantityDelta quantityAfter unitPrice { amount } total { amount currency } createdAt
      subscription { id status } actor { id displayName }
    }
    ... on Purchase {
      kind quantity unitPrice { amount } total { currency } purchasedAt purchaser { displayName }
      product { productId } subscription { id }
    }
    ... on Assignment { assignedAt removedAt user { id } product { name } subscription { id quantity } }
    ... on Invoice {
      periodStart periodEnd amount { amount currency } invoiceStatus: status dueDate paidAt subscription { id }
    }
    ... on PaymentMethod { cardKind: kind brand last4 expMonth expYear }
    ... on PartnerRelationship { displayName partnerTenantId roles relationshipStatus: status startsAt endsAt inForce }
    ... on LicenseRequest {
      requestStatus: status createdAt decidedAt product { id } requester { displayName } forUsers { userPrincipalName }
    }
    ...Again
  }
}
fragment Again on Node { id ... on User { mail } }
"""
)


async def agree(api: Api, query: str, as_user: str | None, variables: dict[str, Any]) -> dict[str, Any]:
    """Both paths, byte for byte, and the read counted as compiled."""
    result = await api.execute(query, as_user=as_user, variables=variables)
    assert result.errors is None, result.errors
    before = reads("compiled", "none")
    compiled = await api.compiled(query, as_user=as_user, variables=variables)
    assert compiled is not None, "expected the compiler to take this query"
    assert reads("compiled", "none") == before + 1
    assert json.dumps(compiled) == json.dumps(result.data), (as_user, variables)
    return compiled


# -- products ---------------------------------------------------------------------------------


@pytest.mark.parametrize("market", [None, "US", "br", "", "IN", "ZZ"])
@pytest.mark.parametrize("viewer", [None, ALEX])
async def test_the_catalogue_agrees_in_every_market(api: Api, market: str | None, viewer: str | None) -> None:
    data = await agree(api, PRODUCTS, viewer, {"market": market})
    if market in (None, "US"):
        assert data["products"], "the catalogue is open to everyone"
    if market == "ZZ":
        assert data["products"] == []


# -- viewer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("product", [POWER_BI_PRO, encode_id("Product", VISIO_PLAN_1)])
async def test_the_viewer_agrees_for_every_kind_of_viewer(api: Api, viewer: str | None, product: str) -> None:
    data = await agree(api, VIEWER, viewer, {"product": product, "n": 3})
    if viewer is None:
        assert data == {"viewer": None}
    else:
        assert data["viewer"]["unknown"] is None
        assert data["viewer"]["eligibility"] is not None


async def test_the_viewers_tenants_list_home_first_then_the_partners_customers(api: Api) -> None:
    data = await agree(api, VIEWER, "pat.partner@adatum-partners.example", {"product": POWER_BI_PRO, "n": 100})
    accesses = [t["access"] for t in data["viewer"]["tenants"]]
    assert accesses[0] != "PARTNER"
    assert "PARTNER" in accesses


@pytest.mark.parametrize("first", [0, 1, 2, 100])
async def test_notifications_agree_for_every_page_size_a_connection_takes(api: Api, first: int) -> None:
    await agree(api, VIEWER, PAULA, {"product": POWER_BI_PRO, "n": first})


# -- the tenant's lists -----------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_tenants_lists_and_cards_agree_for_every_kind_of_viewer(api: Api, viewer: str | None) -> None:
    data = await agree(api, TENANT, viewer, {"t": CONTOSO})
    if viewer == ALEX:
        assert data["tenant"]["policies"]
        assert data["tenant"]["capacity"]
        assert data["tenant"]["partnerRelationships"]
        # Admins never see a purchaser's card.
        assert all(s["paymentMethod"] is None for s in data["tenant"]["subscriptions"]["nodes"])
    if viewer == PAULA:
        assert any(s["paymentMethod"] is not None for s in data["tenant"]["subscriptions"]["nodes"])


@pytest.mark.parametrize("actor", list(ACTORS.values()), ids=list(ACTORS))
async def test_applications_agree_on_every_root(api: Api, actor: AppActor) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        (TENANT, {"t": CONTOSO}),
        (PRODUCTS, {"market": "DE"}),
        (VIEWER, {"product": POWER_BI_PRO, "n": 5}),
        *((NODE, {"id": gid, "market": None}) for gid in NODE_SAMPLES.values()),
    ]
    for query, variables in cases:
        resolved = await as_app(api, actor, query, variables)
        compiled = await compiled_as_app(api, actor, query, variables)
        assert compiled is not None, query
        assert json.dumps(compiled) == json.dumps(resolved), (actor.name, variables)


ACTORS_OF_ORDERS = """query($t: ID!) { tenant(id: $t) { subscriptions { nodes {
  orders { nodes { id kind actor { __typename id displayName userPrincipalName } } } } } } }"""
PARTNER = "pat.partner@adatum-partners.example"


def actor_names(data: dict[str, Any]) -> set[str | None]:
    tenant = data["tenant"]
    if tenant is None:
        return set()
    orders = [o for s in tenant["subscriptions"]["nodes"] for o in s["orders"]["nodes"]]
    return {o["actor"]["userPrincipalName"] if o["actor"] else None for o in orders}


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_actors_of_orders_agree_for_every_kind_of_viewer(api: Api, viewer: str | None) -> None:
    """Each actor under the scope of the actor's own tenant: the partner sees itself act in the
    customer's tenant, the customer's admin learns that someone acted but not who."""
    names = actor_names(await agree(api, ACTORS_OF_ORDERS, viewer, {"t": CONTOSO}))
    if viewer == PARTNER:
        assert PARTNER in names
    if viewer == ALEX:
        assert PARTNER not in names
        assert None in names


@pytest.mark.parametrize("actor", list(ACTORS.values()), ids=list(ACTORS))
async def test_applications_agree_on_the_actors_of_orders(api: Api, actor: AppActor) -> None:
    resolved = await as_app(api, actor, ACTORS_OF_ORDERS, {"t": CONTOSO})
    compiled = await compiled_as_app(api, actor, ACTORS_OF_ORDERS, {"t": CONTOSO})
    assert json.dumps(compiled) == json.dumps(resolved)


# -- node -------------------------------------------------------------------------------------


async def every_kind_of_id(api: Api) -> list[str]:
    """One id of every Node type, the license request and partner relationship read as the admin."""
    data = await api.data(
        """query($t: ID!) { tenant(id: $t) {
             licenseRequests { nodes { id } } partnerRelationships { id }
             subscriptions { nodes { orders { nodes { id kind } } } } } }""",
        as_user=ALEX,
        variables={"t": CONTOSO},
    )
    tenant = data["tenant"]
    assert tenant["licenseRequests"]["nodes"]
    assert tenant["partnerRelationships"]
    orders = [o for s in tenant["subscriptions"]["nodes"] for o in s["orders"]["nodes"]]
    bought_nothing = next(o for o in orders if o["kind"] not in ("PURCHASE", "ADD_LICENSES", "RENEW"))
    gid = decode_id(bought_nothing["id"])
    assert gid is not None
    return [
        *NODE_SAMPLES.values(),
        tenant["licenseRequests"]["nodes"][0]["id"],
        *(p["id"] for p in tenant["partnerRelationships"]),
        # An order's id of a purchase, and a purchase's id of an order line that bought nothing.
        encode_id("Order", demo_id("order:paula-power-bi-pro:1"), CONTOSO_ID),
        encode_id("Purchase", gid.key, CONTOSO_ID),
    ]


UNKNOWN_IDS = [
    encode_id("Subscription", uuid.UUID(int=7), CONTOSO_ID),
    encode_id("Product", "NO-SUCH-PRODUCT"),
    encode_id("Tenant", uuid.UUID(int=7)),
    encode_id("Widget", uuid.UUID(int=7), CONTOSO_ID),
    encode_id("Subscription", "not-a-uuid", CONTOSO_ID),
    encode_id("Subscription", PAULAS_POWER_BI_KEY := demo_id("subscription:paula-power-bi-pro")),
    "not-an-id",
    str(CONTOSO_ID),
]


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_node_agrees_for_every_type_and_every_kind_of_viewer(api: Api, viewer: str | None) -> None:
    for gid in [*await every_kind_of_id(api), *UNKNOWN_IDS]:
        await agree(api, NODE, viewer, {"id": gid, "market": "US"})


async def test_the_admin_refetches_every_type_but_the_purchasers_card(api: Api) -> None:
    ids = await every_kind_of_id(api)
    found = {gid: (await agree(api, NODE, ALEX, {"id": gid, "market": None}))["node"] for gid in ids}
    assert found.pop(NODE_SAMPLES["PaymentMethod"]) is None
    assert found.pop(ids[-1]) is None  # an order line that bought nothing is no Purchase
    assert all(node is not None and node["id"] == gid for gid, node in found.items())
    typenames = {node["__typename"] for node in found.values()}
    assert typenames == {*NODE_SAMPLES, "LicenseRequest", "PartnerRelationship"} - {"PaymentMethod"}


@pytest.mark.parametrize("viewer", [OLGA, GUS, None])
async def test_an_object_outside_scope_through_node_looks_exactly_like_an_unknown_id(
    api: Api, viewer: str | None
) -> None:
    unknown = await agree(api, NODE, viewer, {"id": UNKNOWN_IDS[0], "market": None})
    assert unknown == {"node": None}
    assert PAULAS_POWER_BI_KEY is not None
    for gid in (PAULAS_POWER_BI, NODE_SAMPLES["PaymentMethod"], NODE_SAMPLES["Invoice"]):
        assert await agree(api, NODE, viewer, {"id": gid, "market": None}) == unknown


async def test_the_purchaser_refetches_her_subscription_through_node(api: Api) -> None:
    data = await agree(api, NODE, PAULA, {"id": PAULAS_POWER_BI, "market": None})
    assert data["node"]["__typename"] == "Subscription"
    assert data["node"]["id"] == PAULAS_POWER_BI


# -- the shipped queries on these roots -------------------------------------------------------

ROOT = Path(__file__).parent.parent
SHIPPED = {
    name: (ROOT / name).read_text()
    for name in (
        "examples/catalogue.graphql",
        "examples/viewer.graphql",
        "examples/my_bills.graphql",
        "bench/workloads/viewer.graphql",
        "bench/workloads/refetch.graphql",
    )
}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("name", list(SHIPPED))
async def test_the_examples_and_workloads_on_these_roots_compile_for_every_viewer(
    api: Api, name: str, viewer: str | None
) -> None:
    await agree(api, SHIPPED[name], viewer, {"id": PAULAS_POWER_BI})


# -- what still declines ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        '{ __type(name: "Tenant") { name } }',
        "{ viewer { __typename } __schema { queryType { name } } }",
    ],
)
async def test_what_the_compiler_still_declines_goes_to_the_resolvers(api: Api, query: str) -> None:
    before = reads("resolvers", "field")
    assert await api.compiled(query, as_user=ALEX) is None
    assert reads("resolvers", "field") == before + 1


async def test_eligibility_beside_the_statement_is_one_batched_query_however_many_products(api: Api) -> None:
    """The compiled statement, then every eligibility field's facts in one loader batch."""
    assert await api.compiled(SHIPPED["bench/workloads/viewer.graphql"], as_user=PAULA) is not None
    assert api.last_statements == 2


# -- every connection, with its filters, page after page ---------------------------------------

NODE_FIELDS = {
    "Subscription": "id status quantity channel createdAt purchaser { id } product { productId }",
    "Purchase": """id kind quantity purchasedAt unitPrice { amount currency } total { amount currency }
      purchaser { displayName } product { productId } subscription { id }""",
    "Assignment": "id assignedAt removedAt user { userPrincipalName } product { id } subscription { id }",
    "User": USER,
    "LicenseRequest": """id status createdAt decidedAt product { id } requester { displayName }
      forUsers { userPrincipalName }""",
    "AuditEvent": """action outcome errorCodes targetType targetId actorUserId actorTenantId actorName actorAppId
      onBehalfOfTenantId requestId clientRequestId occurredAt""",
    "Invoice": "id periodStart periodEnd amount { amount currency } status dueDate paidAt subscription { id }",
}
FILTER_VARIABLES = {
    "$channel": ("ChannelFilter!", "SELF_SERVICE_ONLY"),
    "$status": ("[SubscriptionStatus!]", ["ACTIVE", "DISABLED", "TRIAL"]),
    "$product": ("String", POWER_BI_PRO),
    "$purchaser": ("ID", encode_id("User", demo_user_id(PAULA), CONTOSO_ID)),
    "$user": ("ID", encode_id("User", demo_user_id(LEE), CONTOSO_ID)),
}
# (field of the tenant, or of Paula's subscription for `invoices`; node type; filters and orderBy).
LISTS = [
    ("subscriptions", "Subscription", ""),
    (
        "subscriptions",
        "Subscription",
        "channel: $channel, status: $status, productId: $product, purchaserId: $purchaser",
    ),
    ("subscriptions", "Subscription", "channel: CENTRAL_ONLY, orderBy: [{field: QUANTITY, direction: DESC}]"),
    ("subscriptions", "Subscription", "status: [ACTIVE, EXPIRED], orderBy: {field: CANCELED_AT}"),
    ("purchases", "Purchase", ""),
    ("purchases", "Purchase", f'productId: "{POWER_BI_PRO}", orderBy: [{{field: QUANTITY_AFTER}}]'),
    ("purchases", "Purchase", "purchaserId: $purchaser, orderBy: [{field: KIND, direction: DESC}]"),
    ("assignments", "Assignment", ""),
    ("assignments", "Assignment", "productId: $product, orderBy: [{field: USER, direction: DESC}]"),
    ("assignments", "Assignment", "userId: $user"),
    ("users", "User", ""),
    ("users", "User", 'search: "o", orderBy: [{field: USER_PRINCIPAL_NAME, direction: DESC}]'),
    ("users", "User", "orderBy: [{field: DEPARTED_AT}]"),
    ("licenseRequests", "LicenseRequest", ""),
    ("licenseRequests", "LicenseRequest", "orderBy: [{field: DECIDED_AT, direction: DESC}]"),
    ("auditEvents", "AuditEvent", ""),
    ("auditEvents", "AuditEvent", "orderBy: [{field: ACTION}]"),
    ("invoices", "Invoice", ""),
    ("invoices", "Invoice", "orderBy: [{field: PAID_AT}]"),
]


def list_query(field_name: str, type_name: str, arguments: str) -> tuple[str, dict[str, Any]]:
    """A Relay page of the list, with the filter variables its arguments name."""
    used = {name: value for name, value in FILTER_VARIABLES.items() if name in arguments}
    declared = "".join(f", {name}: {graphql_type}" for name, (graphql_type, _value) in used.items())
    page = "first: $first, after: $after, last: $last, before: $before" + (f", {arguments}" if arguments else "")
    selection = f"""list: {field_name}({page}) {{
      __typename totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
      edges {{ cursor node {{ __typename {NODE_FIELDS[type_name]} }} }} }}"""
    invoices = field_name == "invoices"
    parent = (
        f"node(id: $s) {{ ... on Subscription {{ {selection} }} }}" if invoices else f"tenant(id: $t) {{ {selection} }}"
    )
    query = (
        f"query List({'$s' if invoices else '$t'}: ID!, $first: Int, $after: String, $last: Int, $before: String"
        f"{declared}) {{ {parent} }}"
    )
    key = {"s": PAULAS_POWER_BI} if invoices else {"t": CONTOSO}
    return query, {**key, **{name[1:]: value for name, (_t, value) in used.items()}}


def the_list(data: dict[str, Any]) -> dict[str, Any] | None:
    parent = data.get("tenant", data.get("node"))
    return parent["list"] if parent else None


async def pages_agree(
    read: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]], variables: dict[str, Any]
) -> list[dict[str, Any] | None]:
    """Page 1, page 2 through page 1's endCursor, and back from page 2's start with last/before:
    each the resolvers' to the byte (``read`` asserts it). The lists, for the caller to check."""
    first = the_list(await read({**variables, "first": 2}))
    lists = [first]
    if first is not None and first["pageInfo"]["endCursor"] is not None:
        second = the_list(await read({**variables, "first": 2, "after": first["pageInfo"]["endCursor"]}))
        lists.append(second)
        if second is not None and second["pageInfo"]["startCursor"] is not None:
            back = the_list(await read({**variables, "last": 2, "before": second["pageInfo"]["startCursor"]}))
            lists.append(back)
            assert back is not None
            assert [e["cursor"] for e in back["edges"]] == [e["cursor"] for e in first["edges"]]
    return lists


# Every demo user who signs in (Dana, departed, signs in to nothing), and anonymous.
EVERY_VIEWER = [u.user_principal_name for u in DEMO_USERS if u.user_principal_name != DANA] + [None]


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
@pytest.mark.parametrize(("field_name", "type_name", "arguments"), LISTS)
async def test_every_list_pages_with_its_filters_and_orders_as_the_resolvers_do(
    api: Api, field_name: str, type_name: str, arguments: str, viewer: str | None
) -> None:
    query, variables = list_query(field_name, type_name, arguments)
    lists = await pages_agree(lambda v: agree(api, query, viewer, v), variables)
    if viewer == ALEX:  # the admin sees every list, so each case reads rows (not only empty pages)
        assert lists[0] is not None
        assert lists[0]["totalCount"] > 0, (field_name, arguments)


@pytest.mark.parametrize("actor", list(ACTORS.values()), ids=list(ACTORS))
@pytest.mark.parametrize(("field_name", "type_name", "arguments"), LISTS)
async def test_applications_page_every_list_as_the_resolvers_do(
    api: Api, field_name: str, type_name: str, arguments: str, actor: AppActor
) -> None:
    query, variables = list_query(field_name, type_name, arguments)

    async def read(values: dict[str, Any]) -> dict[str, Any]:
        resolved = await as_app(api, actor, query, values)
        compiled = await compiled_as_app(api, actor, query, values)
        assert compiled is not None, query
        assert json.dumps(compiled) == json.dumps(resolved), (actor.name, values)
        return compiled

    await pages_agree(read, variables)


@pytest.mark.parametrize(
    "arguments",
    [
        'purchaserId: "not-a-user"',
        "purchaserId: $purchaser",
        f'purchaserId: "{encode_id("Tenant", CONTOSO_ID)}"',
    ],
)
@pytest.mark.parametrize("field_name", ["subscriptions", "purchases"])
async def test_a_filter_value_the_resolvers_refuse_is_theirs_to_report(
    api: Api, field_name: str, arguments: str
) -> None:
    """Declined as invalid input, so the client gets the resolvers' own error, never one of ours."""
    listed = f"{field_name}({arguments.replace('$purchaser', '$p')}) {{ totalCount }}"
    declared = "($p: ID)" if "$p" in listed else ""
    query = f'query{declared} {{ tenant(id: "{CONTOSO}") {{ {listed} }} }}'
    variables = {"p": "VXNlcjo6bm9wZQ"}
    result = await api.execute(query, as_user=ALEX, variables=variables)
    assert result.errors is not None
    assert result.errors[0].message == "`purchaserId` is not a user ID."
    before = reads("resolvers", "invalid_input")
    assert await api.compiled(query, as_user=ALEX, variables=variables) is None
    assert reads("resolvers", "invalid_input") == before + 1
