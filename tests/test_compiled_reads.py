"""The compiled read path returns exactly what the resolvers return, for every kind of viewer.

The resolvers are the reference. Hand-written cases pin the workloads and every scope; then
hypothesis draws selections over everything the compiler understands (fields, aliases,
fragments, page sizes from either end, __typename) and, for each, a viewer and a tenant id in
any of its spellings, and the two paths must agree on ``data`` to the byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purchasegraph.schema.ids import encode_id
from tests.conftest import Api
from tests.demo import ALEX, CONTOSO, CONTOSO_ID, GUS, LEE, MIA, OLGA, PAULA, WILL, WOODGROVE_ID
from tests.mutations import purchase

WORKLOAD = (Path(__file__).parent.parent / "bench" / "workloads" / "purchase_graph.graphql").read_text()
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


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { user { displayName } } }",
        T + '{ subscriptions(after: "Y3Vyc29yOjE=") { totalCount } } }',
        T + "{ subscriptions { edges { cursor } } } }",
        T + "{ subscriptions(status: [ACTIVE]) { totalCount } } }",
        T + "{ subscriptions { nodes { paymentMethod { last4 } } } } }",
        T + "{ name @include(if: true) } }",
        T + "{ subscriptions(first: 1, last: 1) { totalCount } } }",
        "mutation { __typename }",
    ],
)
async def test_what_the_compiler_does_not_know_goes_to_the_resolvers(api: Api, query: str) -> None:
    assert await api.compiled(query, as_user=ALEX) is None


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
}
OBJECTS = {
    "Subscription": [("product", "Product"), ("purchaser", "User")],
    "Assignment": [("user", "User")],
}
MONEY = {"Subscription": ["unitPrice"], "Order": ["unitPrice", "total"]}
CONNECTIONS = {
    "Tenant": [("subscriptions", "Subscription")],
    "Subscription": [("orders", "Order"), ("assignments", "Assignment")],
}


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
                page = draw(st.sampled_from(["", "(first: 0)", "(first: 1)", "(first: 3)", "(last: 2)", "(last: 30)"]))
                inner = draw(selection(target, depth + 1))
                shape = draw(st.sampled_from(["nodes", "edges", "both"]))
                items = {
                    "nodes": f"nodes {{ {inner} }}",
                    "edges": f"edges {{ node {{ {inner} }} }}",
                    "both": f"nodes {{ {inner} }} edges {{ __typename node {{ {inner} }} }}",
                }[shape]
                extras = draw(st.sampled_from(["", "totalCount", "pageInfo { hasNextPage hasPreviousPage }"]))
                parts.append(f"{name}{page} {{ {extras} {items} }}")
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
    if result.errors:  # a selection the schema refuses (duplicate keys with other arguments)
        return
    compiled = await api.compiled(query, as_user=viewer, variables={"t": tenant_id})
    if compiled is None:  # merged keys: the resolvers' job, and fine
        return
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
