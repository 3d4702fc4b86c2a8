"""The compiled read path returns exactly what the resolvers return, for every kind of viewer.

The resolvers are the reference. Hand-written cases pin the workloads and every scope, and the
purchase graph as Relay clients page through it; then hypothesis draws selections over
everything the compiler understands (fields, aliases, fragments, repeated fields, @include and
@skip, page sizes and cursors from either end, edges with cursors, pageInfo, __typename) and,
for each, a viewer and a tenant id in any of its spellings, and the two paths must agree on
``data`` to the byte.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.db import ordering as sortables
from purchasegraph.db.ordering import Sortable
from purchasegraph.demo.actors import (
    ALEX,
    CONTOSO,
    CONTOSO_ID,
    GUS,
    LEE,
    MIA,
    OLGA,
    PAULA,
    WILL,
    WOODGROVE_ID,
    demo_user_id,
)
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api
from tests.mutations import purchase

WORKLOADS = Path(__file__).parent.parent / "bench" / "workloads"
WORKLOAD = (WORKLOADS / "purchase_graph.graphql").read_text()
RELAY = (WORKLOADS / "purchase_graph_relay.graphql").read_text()
PARTNER = "pat.partner@adatum-partners.example"
EXPIRED_PARTNER = "lia.partner@litware-partners.example"
BILLING = "bea.billing@contoso.example"
READER = "rita.reader@contoso.example"
VIEWERS = [ALEX, BILLING, READER, PAULA, MIA, LEE, GUS, OLGA, WILL, PARTNER, EXPIRED_PARTNER, None]


async def agree(api: Api, query: str, as_user: str | None, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await api.execute(query, as_user=as_user, variables=variables)
    assert result.errors is None, result.errors
    compiled = await api.compiled(query, as_user=as_user, variables=variables)
    assert compiled is not None, "expected the compiler to take this query"
    assert compiled == result.data, (as_user, query)
    assert json.dumps(compiled) == json.dumps(result.data)  # key order too
    return compiled


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_workload_query_agrees_for_every_kind_of_viewer(api: Api, viewer: str | None) -> None:
    await agree(api, WORKLOAD, viewer, {"tenantId": CONTOSO})


async def test_the_admin_sees_the_tenant_and_the_outsider_sees_nothing(api: Api) -> None:
    admin = await agree(api, WORKLOAD, ALEX, {"tenantId": CONTOSO})
    assert admin["tenant"]["subscriptions"]["totalCount"] >= 10
    assert (await agree(api, WORKLOAD, OLGA, {"tenantId": CONTOSO})) == {"tenant": None}


async def test_the_compiled_read_runs_one_statement(api: Api) -> None:
    await api.compiled(WORKLOAD, as_user=ALEX, variables={"tenantId": CONTOSO})
    assert api.last_statements == 1


T = '{ tenant(id: "' + CONTOSO + '") '


def reads(path: str, reason: str) -> float:
    return REGISTRY.get_sample_value("purchasegraph_reads_total", {"path": path, "reason": reason}) or 0.0


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("{ __schema { queryType { name } } }", "field"),
        (T + '{ subscriptions(purchaserId: "not-a-user") { totalCount } } }', "invalid_input"),
        (T + '{ assignments(userId: "' + encode_id("Tenant", CONTOSO_ID) + '") { totalCount } } }', "invalid_input"),
        (T + "{ subscriptions(first: 1, last: 1) { totalCount } } }", "invalid_input"),
        (T + '{ subscriptions(after: "bm90LWEtY3Vyc29y") { totalCount } } }', "invalid_input"),
        (T + "{ subscriptions(first: 101) { totalCount } } }", "invalid_input"),
        ("mutation { __typename }", "operation"),
    ],
)
async def test_what_the_compiler_does_not_know_goes_to_the_resolvers_counted_with_its_reason(
    api: Api, query: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = reads("resolvers", reason)
    with caplog.at_level(logging.INFO, logger="purchasegraph.compiled"):
        assert await api.compiled(query, as_user=ALEX) is None
    assert reads("resolvers", reason) == before + 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "purchasegraph.compiled"]
    assert line.startswith(f"read answered by the resolvers: {reason} (")


async def test_a_relay_shaped_read_of_the_purchase_graph_counts_as_compiled(api: Api) -> None:
    compiled, fallbacks = (
        reads("compiled", "none"),
        sum(reads("resolvers", reason) for reason in ("field", "argument", "invalid_input", "directive", "operation")),
    )
    await agree(api, RELAY, ALEX, {"tenantId": CONTOSO, "first": 3, "after": None})
    assert reads("compiled", "none") == compiled + 1
    assert fallbacks == sum(
        reads("resolvers", reason) for reason in ("field", "argument", "invalid_input", "directive", "operation")
    )


# -- Relay: pages through cursors, directives, merged fields ---------------------------------


def page_info(data: dict[str, Any]) -> dict[str, Any] | None:
    tenant = data["tenant"]
    return tenant["subscriptions"]["pageInfo"] if tenant is not None else None


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_relay_pages_through_cursors_agree_for_every_kind_of_viewer(api: Api, viewer: str | None) -> None:
    first = await agree(api, RELAY, viewer, {"tenantId": CONTOSO, "first": 3, "after": None})
    info = page_info(first)
    if info is None or info["endCursor"] is None:
        return
    second = await agree(api, RELAY, viewer, {"tenantId": CONTOSO, "first": 3, "after": info["endCursor"]})
    second_info = page_info(second)
    assert second_info is not None
    assert second_info["hasPreviousPage"] is True
    # Back from page 2's start with last/before: page 1's tail.
    back = await agree(api, RELAY, viewer, {"tenantId": CONTOSO, "last": 2, "before": second_info["startCursor"]})
    back_info = page_info(back)
    assert back_info is not None
    assert back_info["endCursor"] == info["endCursor"]
    await agree(api, RELAY, viewer, {"tenantId": CONTOSO, "last": 2})
    await agree(api, RELAY, viewer, {"tenantId": CONTOSO, "before": info["endCursor"]})


def forged(sortable: Sortable, *values: str, order_by: list[tuple[str, bool]] | None = None) -> str:
    """A well-formed cursor of the ordering at any key values (the API's format, written here)."""
    signature = sortable.ordering(order_by).signature
    return base64.urlsafe_b64encode(json.dumps([signature, *values]).encode()).decode()


EARLY = ("2000-01-01T00:00:00.000000Z", "00000000-0000-0000-0000-000000000000")
LATE = ("2099-01-01T00:00:00.000000Z", "ffffffff-ffff-ffff-ffff-ffffffffffff")


# Windows by position in the full list (a cursor of row i), or at keys before and after every row.
@pytest.mark.parametrize(
    "page",
    [
        {"first": 2, "after": 10},
        {"first": 5, "after": "late"},
        {"after": 1, "before": 5},
        {"first": 2, "after": 1, "before": 3},
        {"last": 3, "after": 2, "before": 9},
        {"last": 0},
        {"first": 0, "after": 4},
        {"last": 50, "before": 1},
        {"last": 50, "before": "early"},
        {"first": 3, "after": "early", "before": "late"},
    ],
)
async def test_every_window_of_first_after_last_before_agrees(api: Api, page: dict[str, Any]) -> None:
    everything = await agree(api, RELAY, ALEX, {"tenantId": CONTOSO, "first": 100})
    cursors = [e["cursor"] for e in everything["tenant"]["subscriptions"]["edges"]]
    assert len(cursors) > 10
    extremes = {"early": forged(sortables.SUBSCRIPTION, *EARLY), "late": forged(sortables.SUBSCRIPTION, *LATE)}
    variables = {
        k: (extremes[v] if isinstance(v, str) else cursors[v]) if k in ("after", "before") else v
        for k, v in page.items()
    }
    await agree(api, RELAY, ALEX, {"tenantId": CONTOSO, **variables})


@pytest.mark.parametrize("with_orders", [True, False])
@pytest.mark.parametrize("skip_users", [True, False])
async def test_include_and_skip_with_variables_agree(api: Api, with_orders: bool, skip_users: bool) -> None:
    variables = {"tenantId": CONTOSO, "first": 4, "withOrders": with_orders, "skipUsers": skip_users}
    data = await agree(api, RELAY, ALEX, variables)
    node = data["tenant"]["subscriptions"]["edges"][0]["node"]
    assert ("orders" in node) is with_orders


async def test_repeated_fields_and_fragments_merge_as_graphql_merges_them(api: Api) -> None:
    query = """
    query ($t: ID!, $no: Boolean!) {
      tenant(id: $t) {
        name
        ... on Node { id }
        subscriptions(first: 2) { edges { node { id } } }
        name @include(if: $no)
        subscriptions(first: 2) {
          totalCount
          edges { cursor node { ...Sub status product { name } } }
          edges { node { product { productId } ... @skip(if: $no) { quantity } } }
        }
        ...Tenant
        ...Tenant
      }
    }
    fragment Sub on Subscription { id purchaser { displayName } product { __typename } }
    fragment Tenant on Tenant { __typename name @skip(if: true) currency }
    """
    data = await agree(api, query, ALEX, {"t": CONTOSO, "no": False})
    assert list(data["tenant"]) == ["name", "id", "subscriptions", "__typename", "currency"]
    node = data["tenant"]["subscriptions"]["edges"][0]["node"]
    assert list(node) == ["id", "purchaser", "product", "status", "quantity"]
    assert list(node["product"]) == ["__typename", "name", "productId"]


async def test_a_null_after_and_literal_cursors_compile(api: Api) -> None:
    query = T + "{ subscriptions(first: 2, after: null) { edges { cursor } pageInfo { endCursor } } } }"
    data = await agree(api, query, ALEX)
    end = data["tenant"]["subscriptions"]["pageInfo"]["endCursor"]
    literal = T + '{ subscriptions(last: 1, before: "' + end + '") { edges { cursor } } } }'
    await agree(api, literal, ALEX)


@pytest.mark.parametrize("variables", [{"tenantId": [7]}, {}, {"tenantId": CONTOSO, "extra": [[["x"]]]}])
async def test_variables_are_coerced_first_and_bad_ones_go_to_the_resolvers(
    api: Api, variables: dict[str, Any]
) -> None:
    query = "query($tenantId: ID!, $n: Int = 2) { tenant(id: $tenantId) { subscriptions(first: $n) { totalCount } } }"
    compiled = await api.compiled(query, as_user=ALEX, variables=variables)
    if variables.get("tenantId") == CONTOSO:
        assert compiled is not None  # the default of $n applies, unknown variables are ignored
        assert compiled == (await api.data(query, as_user=ALEX, variables=variables))
    else:
        assert compiled is None
        assert (await api.execute(query, as_user=ALEX, variables=variables)).errors


# -- hypothesis: random selections over the compiled subset ----------------------------------

SCALARS = {
    "Tenant": ["id", "tenantId", "name", "primaryDomain", "managed", "organizationType", "country", "currency"],
    "Subscription": [
        "id",
        "channel",
        "controlledBy",
        "quantity",
        "status",
        "isTrial",
        "termStart",
        "expiresAt",
        "autoRenew",
        "billingFrequency",
        "createdAt",
        "canceledAt",
        "cancelReason",
    ],
    "Order": ["id", "kind", "quantityDelta", "quantityAfter", "createdAt"],
    "Assignment": ["id", "assignedAt", "removedAt"],
    "User": [
        "id",
        "userId",
        "displayName",
        "userPrincipalName",
        "mail",
        "userType",
        "source",
        "accountEnabled",
        "departedAt",
    ],
    "Product": [
        "id",
        "productId",
        "name",
        "family",
        "selfService",
        "trialAvailable",
        "trialDays",
        "trialRequiresPaymentMethod",
    ],
    "PaymentMethod": ["id", "kind", "brand", "last4", "expMonth", "expYear"],
    "ProductPrice": ["market", "channel"],
    "SelfServicePolicy": ["value", "updatedAt"],
    "ProductCapacity": [
        "selfServiceLicenses",
        "centralLicenses",
        "assignedLicenses",
        "selfServiceSubscriptions",
        "centralSubscriptions",
        "freeLicenses",
    ],
    "PartnerRelationship": ["id", "displayName", "partnerTenantId", "roles", "status", "startsAt", "endsAt", "inForce"],
    "Purchase": ["id", "kind", "quantity", "purchasedAt"],
    "Invoice": ["id", "periodStart", "periodEnd", "status", "dueDate", "paidAt", "number", "printUrl"],
    "LicenseRequest": ["id", "status", "createdAt", "decidedAt"],
    "AuditEvent": [
        "action",
        "outcome",
        "errorCodes",
        "targetType",
        "targetId",
        "actorUserId",
        "actorTenantId",
        "actorName",
        "actorAppId",
        "onBehalfOfTenantId",
        "requestId",
        "clientRequestId",
        "occurredAt",
    ],
}
OBJECTS = {
    "Subscription": [("product", "Product"), ("purchaser", "User"), ("paymentMethod", "PaymentMethod")],
    "Assignment": [("user", "User")],
    "Order": [("actor", "User")],
    # Plain lists are selected as objects are.
    "Tenant": [
        ("policies", "SelfServicePolicy"),
        ("capacity", "ProductCapacity"),
        ("partnerRelationships", "PartnerRelationship"),
    ],
    "Product": [("prices", "ProductPrice")],
    "SelfServicePolicy": [("product", "Product")],
    "ProductCapacity": [("product", "Product")],
    "Purchase": [("purchaser", "User"), ("product", "Product"), ("subscription", "Subscription")],
    "Invoice": [("subscription", "Subscription")],
    "LicenseRequest": [("product", "Product"), ("requester", "User"), ("forUsers", "User")],
}
MONEY = {
    "Subscription": ["unitPrice"],
    "Order": ["unitPrice", "total"],
    "ProductPrice": ["unitPrice"],
    "Purchase": ["unitPrice", "total"],
    "Invoice": ["amount"],
}
CONNECTIONS = {
    "Tenant": [
        ("subscriptions", "Subscription"),
        ("purchases", "Purchase"),
        ("assignments", "Assignment"),
        ("users", "User"),
        ("licenseRequests", "LicenseRequest"),
        ("auditEvents", "AuditEvent"),
    ],
    "Subscription": [("orders", "Order"), ("assignments", "Assignment"), ("invoices", "Invoice")],
}
# Filter arguments per connection field: none, each filter alone, a few together, and values that
# match nothing. Not values the resolvers refuse (a malformed user ID): the resolvers' error
# abandons the other fields' statements mid-flight, which aborts the test's shared transaction
# (test_compiled_roots checks those values on their own).
PAULA_ID = encode_id("User", demo_user_id(PAULA), CONTOSO_ID)
LEE_ID = encode_id("User", demo_user_id(LEE), CONTOSO_ID)
FILTERS: dict[tuple[str, str], list[str]] = {
    ("Tenant", "subscriptions"): [
        "",
        "channel: CENTRAL_ONLY",
        "channel: SELF_SERVICE_ONLY",
        "channel: INCLUDE_SELF_SERVICE",
        "status: ACTIVE",
        "status: [ACTIVE, DISABLED, EXPIRED]",
        "status: []",
        f'productId: "{POWER_BI_PRO}"',
        'productId: ""',
        f'purchaserId: "{PAULA_ID}"',
        f'channel: SELF_SERVICE_ONLY, status: [ACTIVE, TRIAL], productId: "{POWER_BI_PRO}", purchaserId: "{PAULA_ID}"',
    ],
    ("Tenant", "purchases"): [
        "",
        f'productId: "{POWER_BI_PRO}"',
        f'purchaserId: "{PAULA_ID}"',
        f'productId: "{POWER_BI_PRO}", purchaserId: "{PAULA_ID}"',
    ],
    ("Tenant", "assignments"): [
        "",
        f'productId: "{POWER_BI_PRO}"',
        f'userId: "{LEE_ID}"',
        f'productId: "{POWER_BI_PRO}", userId: "{LEE_ID}"',
    ],
    ("Tenant", "users"): ["", 'search: "p"', 'search: "PAULA"', 'search: ""', 'search: "%"', 'search: "_a"'],
}
# orderBy per connection's entity: absent, and a few orders with DESC, a nullable key, mixed directions.
ORDER_BYS: dict[str, list[tuple[str, list[tuple[str, bool]] | None]]] = {
    "Subscription": [
        ("", None),
        ("orderBy: [{field: QUANTITY, direction: DESC}]", [("QUANTITY", True)]),
        ("orderBy: {field: CANCELED_AT}", [("CANCELED_AT", False)]),
        ("orderBy: [{field: STATUS, direction: DESC}, {field: CREATED_AT}]", [("STATUS", True), ("CREATED_AT", False)]),
    ],
    "Order": [
        ("", None),
        ("orderBy: [{field: QUANTITY_AFTER}]", [("QUANTITY_AFTER", False)]),
        (
            "orderBy: [{field: KIND, direction: DESC}, {field: CREATED_AT, direction: ASC}]",
            [("KIND", True), ("CREATED_AT", False)],
        ),
    ],
    "Assignment": [("", None), ("orderBy: [{field: USER, direction: DESC}]", [("USER", True)])],
    "User": [
        ("", None),
        ("orderBy: [{field: USER_PRINCIPAL_NAME, direction: DESC}]", [("USER_PRINCIPAL_NAME", True)]),
        ("orderBy: [{field: DEPARTED_AT}, {field: DISPLAY_NAME}]", [("DEPARTED_AT", False), ("DISPLAY_NAME", False)]),
    ],
    "Invoice": [
        ("", None),
        ("orderBy: [{field: PAID_AT, direction: DESC}]", [("PAID_AT", True)]),
        ("orderBy: {field: DUE_DATE}", [("DUE_DATE", False)]),
    ],
    "LicenseRequest": [("", None), ("orderBy: [{field: DECIDED_AT}]", [("DECIDED_AT", False)])],
    "AuditEvent": [
        ("", None),
        ("orderBy: [{field: ACTION}, {field: OCCURRED_AT}]", [("ACTION", False), ("OCCURRED_AT", False)]),
    ],
}
ORDER_BYS["Purchase"] = ORDER_BYS["Order"]
SORTABLES = {
    "Subscription": sortables.SUBSCRIPTION,
    "Order": sortables.ORDER,
    "Purchase": sortables.ORDER,
    "Assignment": sortables.ASSIGNMENT,
    "User": sortables.USER,
    "Invoice": sortables.INVOICE,
    "LicenseRequest": sortables.LICENSE_REQUEST,
    "AuditEvent": sortables.AUDIT_EVENT,
}
# A value per key type that falls among the demo's rows or at either end of them.
VALUES = {
    "timestamptz": ["2000-01-01T00:00:00.000000Z", "2099-01-01T00:00:00.000000Z", "infinity"],
    "bigint": ["0", "5", "1000000"],
    "text": ["a", "active", "purchase", "zzz"],
    "uuid": ["00000000-0000-0000-0000-000000000000", "80000000-0000-0000-0000-000000000000"],
    "date": ["2026-01-01"],
}
PAGES = [
    "",
    "first: 0",
    "first: 1",
    "first: 3",
    "last: 2",
    "last: 30",
    "after: null",
    "first: 2, after: {cursor}",
    "first: 3, after: {cursor}",
    "last: 2, before: {cursor}",
    "before: {cursor}",
    "after: {cursor}, last: 1",
    "after: {cursor}, before: {other}",
]


@st.composite
def arguments(draw: st.DrawFn, target: str, filters: list[str] | None = None) -> str:
    """A connection's arguments: a page, an orderBy, cursors of that order at drawn keys, and
    the connection's filters."""
    order_text, order_by = draw(st.sampled_from(ORDER_BYS[target]))
    ordering = SORTABLES[target].ordering(order_by)

    def cursor() -> str:
        values = [draw(st.sampled_from(VALUES[key.kind.value])) for key, _desc in ordering.keys]
        return '"' + forged(SORTABLES[target], *values, order_by=order_by) + '"'

    page = draw(st.sampled_from(PAGES))
    page = page.format(cursor=cursor() if "{cursor}" in page else "", other=cursor() if "{other}" in page else "")
    filter_text = draw(st.sampled_from(filters or [""]))
    joined = ", ".join(part for part in (page, order_text, filter_text) if part)
    return f"({joined})" if joined else ""


def with_directive(part: str, directive: str) -> str:
    """The directive where GraphQL puts it: after the field's arguments, before its selection set
    (the first brace outside the arguments' parentheses)."""
    depth = 0
    for i, char in enumerate(part):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "{" and depth == 0:
            return part[:i].rstrip() + directive + " " + part[i:]
    return part + directive


@st.composite
def selection(draw: st.DrawFn, type_name: str, depth: int = 0) -> str:
    parts = [
        f"a{i}: {f}" if draw(st.booleans()) and i % 3 == 0 else f
        for i, f in enumerate(draw(st.lists(st.sampled_from(SCALARS[type_name]), min_size=1, max_size=5, unique=True)))
    ]
    if draw(st.booleans()):
        parts.append("__typename")
    for name in MONEY.get(type_name, []):
        if draw(st.booleans()):
            parts.append(f"{name} {{ amount currency }}")
    for name, target in OBJECTS.get(type_name, []):
        if draw(st.booleans()):
            parts.append(f"{name} {{ {draw(selection(target, depth + 1))} }}")
    if depth < 2:
        for name, target in CONNECTIONS.get(type_name, []):
            if draw(st.booleans()):
                page = draw(arguments(target, FILTERS.get((type_name, name))))
                inner = draw(selection(target, depth + 1))
                shape = draw(st.sampled_from(["nodes", "edges", "both"]))
                items = {
                    "nodes": f"nodes {{ {inner} }}",
                    "edges": f"edges {{ cursor node {{ {inner} }} }}",
                    "both": f"nodes {{ {inner} }} edges {{ __typename node {{ {inner} }} cursor }}",
                }[shape]
                extras = draw(
                    st.sampled_from(
                        [
                            "",
                            "totalCount",
                            "pageInfo { hasNextPage hasPreviousPage }",
                            "pageInfo { startCursor endCursor hasNextPage } totalCount",
                        ]
                    )
                )
                parts.append(f"{name}{page} {{ {extras} {items} }}")
    if len(parts) > 1 and draw(st.booleans()):
        # A part again (merged into the first), or under a directive that keeps or drops it.
        again = draw(st.sampled_from(parts))
        directive = draw(st.sampled_from(["", " @include(if: true)", " @skip(if: true)", " @include(if: false)"]))
        parts.append(with_directive(again, directive))
    if draw(st.booleans()) and type_name in ("Subscription", "User"):
        # The same fields again through a fragment spread of the same type.
        return " ".join(parts[:1]) + f" ...{type_name}Bits" + " " + " ".join(parts[1:])
    return " ".join(parts)


def tenant_ids() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            CONTOSO,
            encode_id("Tenant", CONTOSO_ID),
            str(WOODGROVE_ID),
            "00000000-0000-0000-0000-000000000000",
            "not-an-id",
            encode_id("User", CONTOSO_ID),
        ]
    )


FRAGMENTS = {
    "Subscription": "fragment SubscriptionBits on Subscription { quantity }",
    "User": "fragment UserBits on User { displayName }",
}


@settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tenant_selection=selection("Tenant"), viewer=st.sampled_from(VIEWERS), tenant_id=tenant_ids())
async def test_random_selections_agree_with_the_resolvers(
    api: Api, tenant_selection: str, viewer: str | None, tenant_id: str
) -> None:
    used = [f for name, f in FRAGMENTS.items() if f"...{name}Bits" in tenant_selection]
    query = "query($t: ID!) { tenant(id: $t) { " + tenant_selection + " } } " + " ".join(used)
    result = await api.execute(query, as_user=viewer, variables={"t": tenant_id})
    compiled = await api.compiled(query, as_user=viewer, variables={"t": tenant_id})
    if result.errors:  # a value the resolvers refuse (a malformed user ID): theirs to report
        assert compiled is None, query
        return
    assert compiled is not None, query
    assert json.dumps(compiled) == json.dumps(result.data), (viewer, query)


async def test_a_purchase_is_visible_to_the_next_compiled_read(api: Api) -> None:
    """No result is cached: the compiled path reads the database every time."""
    query = f'{{ tenant(id: "{CONTOSO}") {{ subscriptions {{ totalCount }} }} }}'
    before = await api.compiled(query, as_user=PAULA)
    assert before is not None
    await purchase(api)
    after = await api.compiled(query, as_user=PAULA)
    assert after is not None
    assert after["tenant"]["subscriptions"]["totalCount"] == before["tenant"]["subscriptions"]["totalCount"] + 1
