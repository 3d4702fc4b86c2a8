"""Who sees what of the demo world: the actor x query matrix (each actor's reach; purchasegraph.policy).

Every expectation here is written down from ``purchasegraph/demo/history.py`` (the table
``CONTOSO_SUBSCRIPTIONS`` below transcribes it, and the first test checks that transcription against
the database with plain SQL), never read back from the API under test.

Reach of Contoso, as the policy module states it:
- ADMIN (alex, bea), READER (rita), PARTNER (pat, active relationship): the whole tenant;
- MEMBER (paula, pete, lee, sam, dana, una): what they bought, the licenses on it, the licenses
  assigned to them, and the directory;
- GUEST (gus): the licenses assigned to them and themselves;
- everyone else (lia, whose relationship expired; olga and will of Woodgrove; no token): nothing,
  and "nothing" looks exactly like "does not exist".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from strawberry.types import ExecutionResult

from purchasegraph.catalogue import (
    POWER_APPS_PER_USER,
    POWER_AUTOMATE_PER_USER,
    POWER_AUTOMATE_RPA,
    POWER_BI_PREMIUM,
    POWER_BI_PRO,
    PROJECT_PLAN_3,
    VISIO_PLAN_1,
    VISIO_PLAN_2,
)
from purchasegraph.compiled import run_compiled
from purchasegraph.demo.actors import (
    ADATUM,
    ALEX,
    BEA,
    CONTOSO_DOMAIN,
    DANA,
    DEMO_USERS,
    FABRIKAM,
    GUS,
    LEE,
    LIA,
    LITWARE,
    MIA,
    NOAH,
    OLGA,
    OLIVIA,
    PAT,
    PAULA,
    PETE,
    PETRA,
    RAJ,
    RITA,
    SAM,
    TESS,
    UNA,
    WILL,
    WOODGROVE,
    demo_id,
)
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.schema import schema
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api, DemoUserIds

# ---------------------------------------------------------------------------------------------
# Both read paths: every check below runs against the resolvers and against the engine


class EngineApi(Api):
    """Reads as the gateway runs them with compiled reads on: the engine answers what it
    compiles, the resolvers the rest (and every mutation)."""

    async def execute(
        self, query: str, *, as_user: str | None = None, variables: dict[str, Any] | None = None
    ) -> ExecutionResult:
        document = parse(query)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) == 1 and operations[0].operation == OperationType.QUERY:
            async with self.as_gateway(self.claims_of(as_user)) as context:
                compiled = await run_compiled(schema._schema, document, operations[0], variables, context)
            if compiled is not None:
                return ExecutionResult(data=compiled.data, errors=None)
        return await super().execute(query, as_user=as_user, variables=variables)


@pytest.fixture(params=["resolvers", "engine"])
def api(request: pytest.FixtureRequest, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]) -> Api:
    """The conftest's ``api``, once per read path."""
    kind = EngineApi if request.param == "engine" else Api
    return kind(conn=conn, ids=demo_ids)


async def test_the_engine_answers_the_matrix_reads_of_a_tenant_and_a_node(
    conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]
) -> None:
    """Else the engine's half of the matrix would quietly be the resolvers again."""
    engine = Api(conn=conn, ids=demo_ids)
    assert await engine.compiled(TENANT, as_user=ALEX, variables={"id": CONTOSO_GID}) is not None
    assert await engine.compiled(NODE, as_user=PAULA, variables={"id": PAULAS_POWER_BI.gid}) is not None


# ---------------------------------------------------------------------------------------------
# The demo world, as purchasegraph.demo.history records it


def tenant_uuid(domain: str) -> uuid.UUID:
    return demo_id(f"tenant:{domain}")


def user_uuid(upn: str) -> uuid.UUID:
    return demo_id(f"user:{upn}")


CONTOSO_ID = tenant_uuid(CONTOSO_DOMAIN)
WOODGROVE_ID = tenant_uuid(WOODGROVE)
FABRIKAM_ID = tenant_uuid(FABRIKAM)
ADATUM_ID = tenant_uuid(ADATUM)
LITWARE_ID = tenant_uuid(LITWARE)
CONTOSO_GID = encode_id("Tenant", CONTOSO_ID)

CONTOSO_USERS = frozenset(u.user_principal_name for u in DEMO_USERS if u.tenant_domain == CONTOSO_DOMAIN)
ALL_PRODUCTS = frozenset(
    {
        POWER_APPS_PER_USER,
        POWER_AUTOMATE_PER_USER,
        POWER_AUTOMATE_RPA,
        POWER_BI_PREMIUM,
        POWER_BI_PRO,
        PROJECT_PLAN_3,
        VISIO_PLAN_1,
        VISIO_PLAN_2,
    }
)
# history.POLICY_CHANGES: three explicit rows at Contoso; every other product is ENABLED by default.
CONTOSO_POLICIES = dict.fromkeys(ALL_PRODUCTS, "ENABLED") | {
    PROJECT_PLAN_3: "DISABLED",
    VISIO_PLAN_1: "ONLY_TRIALS_WITHOUT_PAYMENT_METHOD",
}
# Statuses whose licenses still count as capacity (expired: everyone keeps access for 30 days).
USABLE_STATUSES = frozenset({"trial", "active", "expired"})


@dataclass(frozen=True)
class SeededSubscription:
    """One of Contoso's subscriptions in history.PURCHASES."""

    label: str
    product_id: str
    purchaser: str | None  # None: bought centrally
    quantity: int  # after every order line
    status: str
    assignees: tuple[str, ...]  # licenses not removed
    purchase_orders: tuple[int, ...]  # numbers of its purchase / add_licenses order lines

    @property
    def id(self) -> uuid.UUID:
        return demo_id(f"subscription:{self.label}")

    @property
    def gid(self) -> str:
        return encode_id("Subscription", self.id, CONTOSO_ID)

    @property
    def channel(self) -> str:
        return "central" if self.purchaser is None else "self_service"

    def assignment_gid(self, upn: str) -> str:
        return encode_id("Assignment", demo_id(f"assignment:{self.label}:{upn}"), CONTOSO_ID)

    def purchase_gids(self) -> frozenset[str]:
        return frozenset(
            encode_id("Purchase", demo_id(f"order:{self.label}:{n}"), CONTOSO_ID) for n in self.purchase_orders
        )


CONTOSO_SUBSCRIPTIONS = (
    # purchase 6 + add_licenses 4; Raj's license was taken back.
    SeededSubscription("paula-power-bi-pro", POWER_BI_PRO, PAULA, 10, "active", (LEE, MIA, NOAH, OLIVIA, GUS), (1, 2)),
    SeededSubscription("paula-power-apps", POWER_APPS_PER_USER, PAULA, 5, "active", (LEE, TESS), (1,)),
    # purchase 4, remove_licenses 1 (not a purchase).
    SeededSubscription("pete-power-automate", POWER_AUTOMATE_PER_USER, PETE, 3, "active", (RAJ,), (1,)),
    # A trial order is not a purchase.
    SeededSubscription("pete-visio-plan-1-trial", VISIO_PLAN_1, PETE, 1, "trial", (PETE,), ()),
    SeededSubscription("pete-project-plan-3-expired", PROJECT_PLAN_3, PETE, 2, "expired", (PETE, OLIVIA), (1,)),
    # Canceled: its one license was removed with it.
    SeededSubscription("pete-power-automate-rpa-deleted", POWER_AUTOMATE_RPA, PETE, 1, "deleted", (), (1,)),
    SeededSubscription("sam-visio-plan-2-disabled", VISIO_PLAN_2, SAM, 1, "disabled", (SAM,), (1,)),
    SeededSubscription("dana-power-bi-premium", POWER_BI_PREMIUM, DANA, 2, "active", (TESS,), (1,)),
    # Taken over by Alex (order 2, not a purchase); Dana is still its purchaser.
    SeededSubscription("dana-power-apps-taken-over", POWER_APPS_PER_USER, DANA, 3, "active", (NOAH,), (1,)),
    # purchase 40 by Alex + add_licenses 10 by Pat acting for Contoso.
    SeededSubscription(
        "contoso-central-power-bi-pro",
        POWER_BI_PRO,
        None,
        50,
        "active",
        (ALEX, BEA, RITA, PAULA, PETE, SAM),
        (1, 2),
    ),
    SeededSubscription("contoso-central-power-apps", POWER_APPS_PER_USER, None, 20, "active", (ALEX, MIA, RAJ), (1,)),
)
SUBSCRIPTION = {s.label: s for s in CONTOSO_SUBSCRIPTIONS}
PAULAS_POWER_BI = SUBSCRIPTION["paula-power-bi-pro"]
PAULAS_CARD_GID = encode_id("PaymentMethod", demo_id(f"payment_method:{PAULA}:current"), CONTOSO_ID)


# ---------------------------------------------------------------------------------------------
# What each kind of viewer should see of Contoso, from those facts


@dataclass(frozen=True)
class ExpectedView:
    subscriptions: frozenset[str]  # Subscription IDs
    purchases: frozenset[str]  # Purchase IDs
    assignments: frozenset[str]  # Assignment IDs
    users: frozenset[str]  # UPNs
    capacity: dict[str, dict[str, int]]  # product id -> ProductCapacity counts
    policies: dict[str, str]  # product id -> policy value


def capacity_of(subscriptions: list[SeededSubscription]) -> dict[str, dict[str, int]]:
    capacity: dict[str, dict[str, int]] = {}
    for s in subscriptions:
        if s.status not in USABLE_STATUSES:
            continue
        row = capacity.setdefault(
            s.product_id,
            {
                "selfServiceLicenses": 0,
                "centralLicenses": 0,
                "assignedLicenses": 0,
                "freeLicenses": 0,
                "selfServiceSubscriptions": 0,
                "centralSubscriptions": 0,
            },
        )
        central = s.purchaser is None
        row["centralLicenses" if central else "selfServiceLicenses"] += s.quantity
        row["centralSubscriptions" if central else "selfServiceSubscriptions"] += 1
        row["assignedLicenses"] += len(s.assignees)
        row["freeLicenses"] += s.quantity - len(s.assignees)
    return capacity


def whole_tenant_view() -> ExpectedView:
    subs = list(CONTOSO_SUBSCRIPTIONS)
    return ExpectedView(
        subscriptions=frozenset(s.gid for s in subs),
        purchases=frozenset().union(*(s.purchase_gids() for s in subs)),
        assignments=frozenset(s.assignment_gid(u) for s in subs for u in s.assignees),
        users=CONTOSO_USERS,
        capacity=capacity_of(subs),
        policies=CONTOSO_POLICIES,
    )


def member_view(upn: str) -> ExpectedView:
    # A DISABLED subscription keeps its billing record for its purchaser (status, orders, invoices);
    # its assignments are for admins only, so its purchaser and licensed users lose sight of them.
    reachable = [s for s in CONTOSO_SUBSCRIPTIONS if s.status != "disabled"]
    bought = [s for s in CONTOSO_SUBSCRIPTIONS if s.purchaser == upn]
    return ExpectedView(
        subscriptions=frozenset(s.gid for s in bought),
        purchases=frozenset().union(*(s.purchase_gids() for s in bought)),
        assignments=frozenset(
            s.assignment_gid(u) for s in reachable for u in s.assignees if s.purchaser == upn or u == upn
        ),
        users=CONTOSO_USERS,
        capacity=capacity_of(bought),
        policies={},
    )


def guest_view(upn: str) -> ExpectedView:
    return ExpectedView(
        subscriptions=frozenset(),
        purchases=frozenset(),
        assignments=frozenset(s.assignment_gid(u) for s in CONTOSO_SUBSCRIPTIONS for u in s.assignees if u == upn),
        users=frozenset({upn}),
        capacity={},
        policies={},
    )


@dataclass(frozen=True)
class MatrixRow:
    """One viewer of Contoso, with the counts written out so the matrix reads at a glance."""

    upn: str
    view: ExpectedView
    subscriptions: int
    purchases: int
    assignments: int
    users: int
    capacity_products: int


# Counts: 11 subscriptions; 12 purchase lines (4 subscriptions x 2, trial/take-over/remove/cancel
# lines excluded); 23 licenses in use (Raj's on Paula's Power BI and Pete's on the RPA were removed);
# capacity over the 6 products with a trial, active or expired subscription (RPA is deleted, Visio
# Plan 2 disabled).
CONTOSO_MATRIX = [
    pytest.param(MatrixRow(ALEX, whole_tenant_view(), 11, 12, 23, 15, 6), id="global_admin-sees-whole-tenant"),
    pytest.param(MatrixRow(BEA, whole_tenant_view(), 11, 12, 23, 15, 6), id="billing_admin-sees-whole-tenant"),
    pytest.param(MatrixRow(RITA, whole_tenant_view(), 11, 12, 23, 15, 6), id="global_reader-sees-whole-tenant"),
    pytest.param(MatrixRow(PAT, whole_tenant_view(), 11, 12, 23, 15, 6), id="active_partner-sees-whole-tenant"),
    # Paula: her 2 subscriptions and their 7 licenses, plus the central Power BI license she holds.
    pytest.param(MatrixRow(PAULA, member_view(PAULA), 2, 3, 8, 15, 2), id="purchaser-sees-what-she-bought"),
    # Pete: 4 subscriptions (RPA deleted, so no capacity), 4 licenses on them + his central one.
    pytest.param(MatrixRow(PETE, member_view(PETE), 4, 3, 5, 15, 3), id="purchaser-sees-what-he-bought"),
    pytest.param(MatrixRow(LEE, member_view(LEE), 0, 0, 2, 15, 0), id="licensed_user-sees-own-licenses"),
    # Sam's one subscription is disabled: he keeps its billing record, but its license is for admins
    # only now, so of licenses he sees only his central one.
    pytest.param(
        MatrixRow(SAM, member_view(SAM), 1, 1, 1, 15, 0), id="synced_user-keeps-the-billing-record-of-his-disabled-one"
    ),
    # Dana left: her account is disabled and signs in to nothing (test_authorization_seams.py).
    pytest.param(MatrixRow(UNA, member_view(UNA), 0, 0, 0, 15, 0), id="plain_member-sees-only-the-directory"),
    pytest.param(MatrixRow(GUS, guest_view(GUS), 0, 0, 1, 1, 0), id="guest-sees-own-license-and-self"),
]

# Viewers with no scope in Contoso.
OUTSIDERS_OF_CONTOSO = [
    pytest.param(LIA, id="expired_partner"),
    pytest.param(OLGA, id="outsider"),
    pytest.param(WILL, id="admin_of_another_tenant"),
    pytest.param(PETRA, id="purchaser_of_another_tenant"),
    pytest.param(None, id="anonymous"),
]

# ---------------------------------------------------------------------------------------------
# Queries

CONTOSO_VIEW = """
query ContosoView($tenant: ID!, $first: Int!) {
  tenant(id: $tenant) {
    id
    subscriptions(first: $first) { totalCount pageInfo { hasNextPage } nodes { id } }
    purchases(first: $first) { totalCount pageInfo { hasNextPage } nodes { id } }
    assignments(first: $first) { totalCount pageInfo { hasNextPage } nodes { id } }
    users(first: $first) { totalCount pageInfo { hasNextPage } nodes { userPrincipalName } }
    capacity {
      product { productId }
      selfServiceLicenses centralLicenses assignedLicenses freeLicenses
      selfServiceSubscriptions centralSubscriptions
    }
    policies { product { productId } value }
  }
}
"""

TENANT = "query Tenant($id: ID!) { tenant(id: $id) { id tenantId name } }"

NODE_FRAGMENTS = """
fragment TenantFields on Tenant { __typename id tenantId name primaryDomain }
fragment SubscriptionFields on Subscription { __typename id quantity status channel product { productId } }
fragment OrderFields on Order { __typename id kind quantityDelta quantityAfter total { amount currency } }
fragment PurchaseFields on Purchase { __typename id kind quantity product { productId } }
fragment AssignmentFields on Assignment { __typename id assignedAt removedAt product { productId } }
fragment InvoiceFields on Invoice { __typename id invoiceStatus: status periodStart amount { amount } }
fragment UserFields on User { __typename id userPrincipalName displayName userType }
fragment ProductFields on Product { __typename id productId name family }
fragment PaymentMethodFields on PaymentMethod { __typename id brand last4 expMonth }
"""

NODE = (
    """
query Node($id: ID!) {
  node(id: $id) {
    ...TenantFields ...SubscriptionFields ...OrderFields ...PurchaseFields ...AssignmentFields
    ...InvoiceFields ...UserFields ...ProductFields ...PaymentMethodFields
  }
}
"""
    + NODE_FRAGMENTS
)

# Every object of Contoso the viewer reaches by walking the graph (no node() involved).
WALK_CONTOSO = (
    """
query Walk($tenant: ID!) {
  products { ...ProductFields }
  tenant(id: $tenant) {
    ...TenantFields
    users(first: 100) { nodes { ...UserFields } }
    purchases(first: 100) { nodes { ...PurchaseFields } }
    subscriptions(first: 100) {
      nodes {
        ...SubscriptionFields
        paymentMethod { ...PaymentMethodFields }
        orders(first: 100) { nodes { ...OrderFields } }
        assignments(first: 100) { nodes { ...AssignmentFields } }
        invoices(first: 100) { nodes { ...InvoiceFields } }
      }
    }
  }
}
"""
    + NODE_FRAGMENTS
)


async def contoso_as(api: Api, upn: str | None, *, first: int = 100) -> dict[str, Any]:
    data = await api.data(CONTOSO_VIEW, as_user=upn, variables={"tenant": CONTOSO_GID, "first": first})
    tenant: dict[str, Any] | None = data["tenant"]
    assert tenant is not None, f"{upn} should reach Contoso"
    return tenant


async def node_as(api: Api, upn: str | None, gid: str) -> dict[str, Any] | None:
    data = await api.data(NODE, as_user=upn, variables={"id": gid})
    node: dict[str, Any] | None = data["node"]
    return node


def ids_of(connection: dict[str, Any], key: str = "id") -> set[str]:
    return {n[key] for n in connection["nodes"]}


def capacity_by_product(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {r["product"]["productId"]: {k: v for k, v in r.items() if k != "product"} for r in rows}


def objects_in(tree: Any) -> Iterator[dict[str, Any]]:
    """Every GraphQL object (a dict with an ``id``) anywhere in a result."""
    if isinstance(tree, dict):
        if "id" in tree:
            yield tree
        for value in tree.values():
            yield from objects_in(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from objects_in(item)


# ---------------------------------------------------------------------------------------------
# The transcription of the seed the matrix is built on


async def test_the_seed_facts_this_matrix_is_built_on_match_the_database(api: Api) -> None:
    """Plain SQL, not the API: guards the table above against a changed seed."""
    subscriptions = await api.conn.fetch(
        """SELECT s.id, s.product_id, s.purchaser_user_id, s.quantity, s.status,
                  ARRAY(SELECT a.user_id FROM license_assignments a
                         WHERE a.tenant_id = s.tenant_id AND a.subscription_id = s.id AND a.removed_at IS NULL
                         ORDER BY a.user_id) AS assignees,
                  ARRAY(SELECT o.id FROM orders o
                         WHERE o.tenant_id = s.tenant_id AND o.subscription_id = s.id
                           AND o.kind IN ('purchase', 'add_licenses', 'renew')
                         ORDER BY o.id) AS purchases
             FROM subscriptions s WHERE s.tenant_id = $1""",
        CONTOSO_ID,
    )
    in_db = {
        r["id"]: (
            r["product_id"],
            r["purchaser_user_id"],
            r["quantity"],
            r["status"],
            set(r["assignees"]),
            set(r["purchases"]),
        )
        for r in subscriptions
    }
    transcribed = {
        s.id: (
            s.product_id,
            user_uuid(s.purchaser) if s.purchaser else None,
            s.quantity,
            s.status,
            {user_uuid(u) for u in s.assignees},
            {demo_id(f"order:{s.label}:{n}") for n in s.purchase_orders},
        )
        for s in CONTOSO_SUBSCRIPTIONS
    }
    assert in_db == transcribed
    users = await api.conn.fetch("SELECT user_principal_name FROM users WHERE tenant_id = $1", CONTOSO_ID)
    assert {r["user_principal_name"] for r in users} == CONTOSO_USERS
    assert len(CONTOSO_USERS) == 15
    policies = await api.conn.fetch(
        "SELECT product_id, value FROM self_service_policies WHERE tenant_id = $1", CONTOSO_ID
    )
    assert {r["product_id"]: r["value"].upper() for r in policies} == {
        p: v for p, v in CONTOSO_POLICIES.items() if p in {POWER_BI_PRO, PROJECT_PLAN_3, VISIO_PLAN_1}
    }


# ---------------------------------------------------------------------------------------------
# tenant(id:)


@pytest.mark.parametrize("id_form", ["uuid", "global_id"])
@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_tenant_resolves_for_every_viewer_with_scope_in_it(api: Api, row: MatrixRow, id_form: str) -> None:
    tenant_id = str(CONTOSO_ID) if id_form == "uuid" else CONTOSO_GID
    data = await api.data(TENANT, as_user=row.upn, variables={"id": tenant_id})
    assert data["tenant"] == {"id": CONTOSO_GID, "tenantId": str(CONTOSO_ID), "name": "Contoso"}


@pytest.mark.parametrize("id_form", ["uuid", "global_id"])
@pytest.mark.parametrize("upn", OUTSIDERS_OF_CONTOSO)
async def test_tenant_is_null_for_viewers_without_scope_in_it(api: Api, upn: str | None, id_form: str) -> None:
    tenant_id = str(CONTOSO_ID) if id_form == "uuid" else CONTOSO_GID
    result = await api.execute(TENANT, as_user=upn, variables={"id": tenant_id})
    assert result.errors is None
    assert result.data == {"tenant": None}
    # node() agrees with tenant(): no second way in.
    assert await node_as(api, upn, CONTOSO_GID) is None


async def test_tenant_outside_reach_looks_exactly_like_a_tenant_that_does_not_exist(api: Api) -> None:
    missing = encode_id("Tenant", uuid.uuid4())
    hidden = await api.execute(TENANT, as_user=WILL, variables={"id": CONTOSO_GID})
    absent = await api.execute(TENANT, as_user=WILL, variables={"id": missing})
    assert (hidden.data, hidden.errors) == (absent.data, absent.errors) == ({"tenant": None}, None)


async def test_admin_cannot_see_another_tenant(api: Api) -> None:
    for tenant_id in (str(WOODGROVE_ID), encode_id("Tenant", WOODGROVE_ID)):
        data = await api.data(TENANT, as_user=ALEX, variables={"id": tenant_id})
        assert data["tenant"] is None
    petras_subscription = encode_id("Subscription", demo_id("subscription:woodgrove-petra-power-bi-pro"), WOODGROVE_ID)
    assert await node_as(api, ALEX, petras_subscription) is None


async def test_admin_of_another_tenant_cannot_see_contoso(api: Api) -> None:
    assert (await api.data(TENANT, as_user=WILL, variables={"id": CONTOSO_GID}))["tenant"] is None
    assert await node_as(api, WILL, PAULAS_POWER_BI.gid) is None
    # ...while his own tenant is his to see: the null above is about scope, not a broken query.
    own = await api.data(TENANT, as_user=WILL, variables={"id": str(WOODGROVE_ID)})
    assert own["tenant"] == {
        "id": encode_id("Tenant", WOODGROVE_ID),
        "tenantId": str(WOODGROVE_ID),
        "name": "Woodgrove Bank",
    }


async def test_a_global_id_naming_the_viewers_tenant_cannot_reach_a_row_of_another_tenant(api: Api) -> None:
    # Petra's Woodgrove subscription, relabelled as Contoso's: the tenant in the ID is no way across.
    forged = encode_id("Subscription", demo_id("subscription:woodgrove-petra-power-bi-pro"), CONTOSO_ID)
    assert await node_as(api, ALEX, forged) is None


# ---------------------------------------------------------------------------------------------
# The Tenant connections, per viewer


@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_subscriptions_list_and_count_only_the_viewers_scope(api: Api, row: MatrixRow) -> None:
    subscriptions = (await contoso_as(api, row.upn))["subscriptions"]
    assert ids_of(subscriptions) == row.view.subscriptions
    assert subscriptions["totalCount"] == len(row.view.subscriptions) == row.subscriptions
    assert subscriptions["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_purchases_list_and_count_only_the_viewers_scope(api: Api, row: MatrixRow) -> None:
    purchases = (await contoso_as(api, row.upn))["purchases"]
    assert ids_of(purchases) == row.view.purchases
    assert purchases["totalCount"] == len(row.view.purchases) == row.purchases


@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_assignments_list_and_count_only_the_viewers_scope(api: Api, row: MatrixRow) -> None:
    assignments = (await contoso_as(api, row.upn))["assignments"]
    assert ids_of(assignments) == row.view.assignments
    assert assignments["totalCount"] == len(row.view.assignments) == row.assignments


@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_directory_is_open_to_members_but_a_guest_sees_only_themselves(api: Api, row: MatrixRow) -> None:
    users = (await contoso_as(api, row.upn))["users"]
    assert ids_of(users, "userPrincipalName") == row.view.users
    assert users["totalCount"] == len(row.view.users) == row.users


@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_capacity_counts_only_subscriptions_in_the_viewers_scope(api: Api, row: MatrixRow) -> None:
    capacity = capacity_by_product((await contoso_as(api, row.upn))["capacity"])
    assert capacity == row.view.capacity
    assert len(capacity) == row.capacity_products


@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_policies_are_read_by_admins_readers_and_partners_only(api: Api, row: MatrixRow) -> None:
    policies = (await contoso_as(api, row.upn))["policies"]
    assert {p["product"]["productId"]: p["value"] for p in policies} == row.view.policies
    assert len(policies) == len(row.view.policies)


ONE_POLICY = "query OnePolicy($t: ID!, $p: ID!) { tenant(id: $t) { policy(productId: $p) { value } } }"


@pytest.mark.parametrize("row", CONTOSO_MATRIX)
async def test_one_products_policy_is_read_by_admins_readers_and_partners_only(api: Api, row: MatrixRow) -> None:
    for product in sorted(ALL_PRODUCTS):
        data = await api.data(ONE_POLICY, as_user=row.upn, variables={"t": CONTOSO_GID, "p": product})
        expected = row.view.policies.get(product)
        assert data["tenant"]["policy"] == (None if expected is None else {"value": expected}), product


@pytest.mark.parametrize(
    ("upn", "in_scope"),
    [
        pytest.param(ALEX, 11, id="admin-counts-all-11-over-pages"),
        pytest.param(PAULA, 2, id="purchaser-counts-her-2-over-pages"),
        pytest.param(PETE, 4, id="purchaser-counts-his-4-over-pages"),
        pytest.param(GUS, 0, id="guest-counts-none"),
    ],
)
async def test_total_count_counts_the_scope_not_the_page(api: Api, upn: str, in_scope: int) -> None:
    subscriptions = (await contoso_as(api, upn, first=1))["subscriptions"]
    assert subscriptions["totalCount"] == in_scope
    assert len(subscriptions["nodes"]) == min(1, in_scope)
    assert subscriptions["pageInfo"]["hasNextPage"] is (in_scope > 1)


async def test_active_partner_sees_the_customer_tenant_exactly_like_its_admin(api: Api) -> None:
    assert await contoso_as(api, PAT) == await contoso_as(api, ALEX)


async def test_partner_sees_nothing_of_a_customer_whose_relationship_expired(api: Api) -> None:
    # Adatum's Woodgrove relationship lapsed 70 days ago; Litware's with Contoso 5 days ago, and
    # Litware's with Fabrikam was terminated before its end date.
    for upn, tenant_id in ((PAT, WOODGROVE_ID), (LIA, CONTOSO_ID), (LIA, FABRIKAM_ID)):
        for form in (str(tenant_id), encode_id("Tenant", tenant_id)):
            data = await api.data(TENANT, as_user=upn, variables={"id": form})
            assert data["tenant"] is None, (upn, form)
    assert await node_as(api, LIA, PAULAS_POWER_BI.gid) is None
    assert await node_as(api, LIA, SUBSCRIPTION["contoso-central-power-bi-pro"].gid) is None


PARTNER_RELATIONSHIPS = "query($t: ID!) { tenant(id: $t) { partnerRelationships { id status inForce } } }"
# history.PARTNERSHIPS: Adatum's relationship with Contoso is active, Litware's expired 5 days ago.
ADATUM_FOR_CONTOSO = encode_id(
    "PartnerRelationship", demo_id(f"partner_relationship:{ADATUM}->{CONTOSO_DOMAIN}"), CONTOSO_ID
)
LITWARE_FOR_CONTOSO = encode_id(
    "PartnerRelationship", demo_id(f"partner_relationship:{LITWARE}->{CONTOSO_DOMAIN}"), CONTOSO_ID
)


@pytest.mark.parametrize(
    ("upn", "expected"),
    [
        pytest.param(ALEX, {ADATUM_FOR_CONTOSO, LITWARE_FOR_CONTOSO}, id="global_admin-sees-both"),
        pytest.param(BEA, {ADATUM_FOR_CONTOSO, LITWARE_FOR_CONTOSO}, id="billing_admin-sees-both"),
        pytest.param(RITA, {ADATUM_FOR_CONTOSO, LITWARE_FOR_CONTOSO}, id="global_reader-sees-both"),
        # In GDAP a partner sees its own relationship with a customer, never the customer's others.
        pytest.param(PAT, {ADATUM_FOR_CONTOSO}, id="partner-sees-only-its-own"),
        pytest.param(PAULA, set(), id="purchaser-sees-none"),
        pytest.param(LEE, set(), id="licensed_user-sees-none"),
        pytest.param(GUS, set(), id="guest-sees-none"),
    ],
)
async def test_partner_relationships_are_read_by_admins_and_readers_and_a_partner_sees_only_its_own(
    api: Api, upn: str, expected: set[str]
) -> None:
    data = await api.data(PARTNER_RELATIONSHIPS, as_user=upn, variables={"t": CONTOSO_GID})
    assert {r["id"] for r in data["tenant"]["partnerRelationships"]} == expected
    for gid in (ADATUM_FOR_CONTOSO, LITWARE_FOR_CONTOSO):
        node = await api.data("query($id: ID!) { node(id: $id) { id } }", as_user=upn, variables={"id": gid})
        assert node["node"] == ({"id": gid} if gid in expected else None)


# ---------------------------------------------------------------------------------------------
# Purchasers, licensed users, guests


async def test_purchaser_cannot_see_another_purchasers_subscription(api: Api) -> None:
    missing = encode_id("Subscription", uuid.uuid4(), CONTOSO_ID)
    hidden = await api.execute(NODE, as_user=PETE, variables={"id": PAULAS_POWER_BI.gid})
    absent = await api.execute(NODE, as_user=PETE, variables={"id": missing})
    assert (hidden.data, hidden.errors) == (absent.data, absent.errors) == ({"node": None}, None)
    # Nor through anything hanging off it: its orders, purchases, invoices, its card.
    for gid in (
        encode_id("Order", demo_id("order:paula-power-bi-pro:1"), CONTOSO_ID),
        encode_id("Purchase", demo_id("order:paula-power-bi-pro:1"), CONTOSO_ID),
        encode_id("Invoice", demo_id("invoice:paula-power-bi-pro:0"), CONTOSO_ID),
        PAULAS_POWER_BI.assignment_gid(MIA),
        PAULAS_CARD_GID,
    ):
        assert await node_as(api, PETE, gid) is None, gid
    # Filtering by Paula as purchaser finds nothing for Pete, and counts nothing.
    data = await api.data(
        """query($t: ID!, $p: ID!) { tenant(id: $t) {
             subscriptions(purchaserId: $p) { totalCount nodes { id } }
             purchases(purchaserId: $p) { totalCount nodes { id } } } }""",
        as_user=PETE,
        variables={"t": CONTOSO_GID, "p": encode_id("User", user_uuid(PAULA), CONTOSO_ID)},
    )
    assert data["tenant"]["subscriptions"] == {"totalCount": 0, "nodes": []}
    assert data["tenant"]["purchases"] == {"totalCount": 0, "nodes": []}


async def test_purchaser_reaches_her_own_subscription_with_its_licenses_orders_and_bills(api: Api) -> None:
    data = await api.data(
        """query($id: ID!) { node(id: $id) { ... on Subscription {
             quantity purchaser { userPrincipalName }
             assignments(first: 100) { totalCount nodes { id user { userPrincipalName } } }
             orders(first: 100) { totalCount } invoices(first: 100) { totalCount } } } }""",
        as_user=PAULA,
        variables={"id": PAULAS_POWER_BI.gid},
    )
    subscription = data["node"]
    assert subscription["quantity"] == 10
    assert subscription["purchaser"] == {"userPrincipalName": PAULA}
    assert {n["user"]["userPrincipalName"] for n in subscription["assignments"]["nodes"]} == set(
        PAULAS_POWER_BI.assignees
    )
    assert ids_of(subscription["assignments"]) == {PAULAS_POWER_BI.assignment_gid(u) for u in PAULAS_POWER_BI.assignees}
    assert subscription["assignments"]["totalCount"] == 5
    assert subscription["orders"]["totalCount"] == 2  # purchase, add_licenses
    # running_term(months=5): one bill per monthly period, the current one included.
    assert subscription["invoices"]["totalCount"] == 6


LICENSES_OF_VIEWER = """
query($t: ID!) { tenant(id: $t) {
  subscriptions { totalCount }
  purchases { totalCount }
  assignments(first: 100) {
    totalCount
    nodes { id product { productId } subscription { id } user { userPrincipalName } }
  }
} }
"""


async def test_licensed_user_sees_own_licenses_with_product_but_not_the_subscription_behind_them(
    api: Api,
) -> None:
    tenant = (await api.data(LICENSES_OF_VIEWER, as_user=LEE, variables={"t": CONTOSO_GID}))["tenant"]
    assert tenant["subscriptions"]["totalCount"] == 0
    assert tenant["purchases"]["totalCount"] == 0
    assert tenant["assignments"]["totalCount"] == 2
    assert sorted(tenant["assignments"]["nodes"], key=lambda n: n["product"]["productId"]) == [
        {
            "id": PAULAS_POWER_BI.assignment_gid(LEE),
            "product": {"productId": POWER_BI_PRO},
            "subscription": None,
            "user": {"userPrincipalName": LEE},
        },
        {
            "id": SUBSCRIPTION["paula-power-apps"].assignment_gid(LEE),
            "product": {"productId": POWER_APPS_PER_USER},
            "subscription": None,
            "user": {"userPrincipalName": LEE},
        },
    ]
    # Never the purchaser's billing: not the subscription, its orders or its bills.
    for gid in (
        PAULAS_POWER_BI.gid,
        encode_id("Purchase", demo_id("order:paula-power-bi-pro:1"), CONTOSO_ID),
        encode_id("Invoice", demo_id("invoice:paula-power-bi-pro:0"), CONTOSO_ID),
    ):
        assert await node_as(api, LEE, gid) is None, gid


async def test_guest_sees_only_their_own_license_and_only_themselves(api: Api) -> None:
    data = await api.data(
        """query($t: ID!) { tenant(id: $t) {
             subscriptions { totalCount nodes { id } }
             purchases { totalCount }
             users(first: 100) { totalCount nodes { userPrincipalName userType } }
             assignments(first: 100) { totalCount nodes { id product { productId } subscription { id } } }
             capacity { assignedLicenses }
             policies { value } } }""",
        as_user=GUS,
        variables={"t": CONTOSO_GID},
    )
    tenant = data["tenant"]
    assert tenant["subscriptions"] == {"totalCount": 0, "nodes": []}
    assert tenant["purchases"] == {"totalCount": 0}
    assert tenant["users"] == {"totalCount": 1, "nodes": [{"userPrincipalName": GUS, "userType": "GUEST"}]}
    assert tenant["assignments"] == {
        "totalCount": 1,
        "nodes": [
            {
                "id": PAULAS_POWER_BI.assignment_gid(GUS),
                "product": {"productId": POWER_BI_PRO},
                "subscription": None,
            }
        ],
    }
    assert tenant["capacity"] == []
    assert tenant["policies"] == []
    # Another user of the tenant, asked for by ID, does not exist for the guest.
    assert await node_as(api, GUS, encode_id("User", user_uuid(PAULA), CONTOSO_ID)) is None


# ---------------------------------------------------------------------------------------------
# Card details: the owner's only


PAYMENT_METHOD_OF = """
query($id: ID!) { node(id: $id) { ... on Subscription {
  quantity purchaser { displayName } paymentMethod { id kind brand last4 expMonth } } } }
"""


async def test_purchaser_sees_the_card_her_own_subscription_is_billed_to(api: Api) -> None:
    data = await api.data(PAYMENT_METHOD_OF, as_user=PAULA, variables={"id": PAULAS_POWER_BI.gid})
    # history.CARDS: Paula's current Visa (her replaced Mastercard no longer pays anything).
    assert data["node"] == {
        "quantity": 10,
        "purchaser": {"displayName": "Paula Purchaser"},
        "paymentMethod": {
            "id": PAULAS_CARD_GID,
            "kind": "credit_card",
            "brand": "visa",
            "last4": "4242",
            "expMonth": 8,
        },
    }
    # A trial needs no card (Visio Plan 1): none on file for Pete's.
    trial = await api.data(
        PAYMENT_METHOD_OF, as_user=PETE, variables={"id": SUBSCRIPTION["pete-visio-plan-1-trial"].gid}
    )
    assert trial["node"] == {
        "quantity": 1,
        "purchaser": {"displayName": "Pete Purchaser"},
        "paymentMethod": None,
    }
    pete = await api.data(PAYMENT_METHOD_OF, as_user=PETE, variables={"id": SUBSCRIPTION["pete-power-automate"].gid})
    assert pete["node"]["paymentMethod"]["last4"] == "4444"


@pytest.mark.parametrize(
    "upn",
    [
        pytest.param(ALEX, id="global_admin"),
        pytest.param(BEA, id="billing_admin"),
        pytest.param(RITA, id="global_reader"),
        pytest.param(PAT, id="active_partner"),
    ],
)
async def test_whole_tenant_viewers_see_the_subscription_but_never_the_purchasers_card(api: Api, upn: str) -> None:
    data = await api.data(PAYMENT_METHOD_OF, as_user=upn, variables={"id": PAULAS_POWER_BI.gid})
    # Admins see every purchase's product, quantity and purchaser name; the card is not theirs to see.
    assert data["node"] == {
        "quantity": 10,
        "purchaser": {"displayName": "Paula Purchaser"},
        "paymentMethod": None,
    }
    assert await node_as(api, upn, PAULAS_CARD_GID) is None


# ---------------------------------------------------------------------------------------------
# node(id:) refetches what the viewer reached, and nothing for anyone else

# One object of each type in Contoso, all on Paula's Power BI Pro (or Paula's own), by seed id.
NODE_SAMPLES: dict[str, str] = {
    "Tenant": CONTOSO_GID,
    "Subscription": PAULAS_POWER_BI.gid,
    "Order": encode_id("Order", demo_id("order:paula-power-bi-pro:2"), CONTOSO_ID),
    "Purchase": encode_id("Purchase", demo_id("order:paula-power-bi-pro:1"), CONTOSO_ID),
    "Assignment": PAULAS_POWER_BI.assignment_gid(LEE),
    "Invoice": encode_id("Invoice", demo_id("invoice:paula-power-bi-pro:0"), CONTOSO_ID),
    "User": encode_id("User", user_uuid(LEE), CONTOSO_ID),
    "Product": encode_id("Product", POWER_BI_PRO),
    "PaymentMethod": PAULAS_CARD_GID,
}
TENANT_SCOPED_TYPES = [t for t in NODE_SAMPLES if t != "Product"]


def node_cases() -> list[Any]:
    cases = [pytest.param(PAULA, t, id=f"purchaser-refetches-{t}") for t in NODE_SAMPLES]
    # The card is its owner's only; admins and partners reach every other type.
    cases += [pytest.param(ALEX, t, id=f"global_admin-refetches-{t}") for t in NODE_SAMPLES if t != "PaymentMethod"]
    cases += [pytest.param(PAT, t, id=f"active_partner-refetches-{t}") for t in NODE_SAMPLES if t != "PaymentMethod"]
    return cases


@pytest.mark.parametrize(("upn", "type_name"), node_cases())
async def test_node_refetches_the_object_the_viewer_reached_through_the_graph(
    api: Api, upn: str, type_name: str
) -> None:
    gid = NODE_SAMPLES[type_name]
    walked = await api.data(WALK_CONTOSO, as_user=upn, variables={"tenant": CONTOSO_GID})
    reached = [o for o in objects_in(walked) if o["id"] == gid]
    assert reached, f"{upn} should reach {type_name} {gid} through the graph"
    refetched = await node_as(api, upn, gid)
    assert refetched is not None
    assert refetched["__typename"] == type_name
    for seen in reached:
        assert {k: seen[k] for k in refetched} == refetched


@pytest.mark.parametrize("type_name", TENANT_SCOPED_TYPES)
@pytest.mark.parametrize("upn", OUTSIDERS_OF_CONTOSO)
async def test_node_of_a_contoso_object_is_null_for_viewers_outside_contoso(
    api: Api, upn: str | None, type_name: str
) -> None:
    result = await api.execute(NODE, as_user=upn, variables={"id": NODE_SAMPLES[type_name]})
    assert result.errors is None
    assert result.data == {"node": None}


@pytest.mark.parametrize("upn", OUTSIDERS_OF_CONTOSO)
async def test_product_node_is_public_catalogue_for_everyone(api: Api, upn: str | None) -> None:
    assert await node_as(api, upn, NODE_SAMPLES["Product"]) == {
        "__typename": "Product",
        "id": NODE_SAMPLES["Product"],
        "productId": POWER_BI_PRO,
        "name": "Power BI Pro",
        "family": "POWER_BI",
    }


# ---------------------------------------------------------------------------------------------
# Anonymous callers


async def test_anonymous_caller_sees_only_the_public_catalogue(api: Api) -> None:
    data = await api.data(
        """query($uuid: ID!, $gid: ID!) {
             viewer { user { id } }
             byUuid: tenant(id: $uuid) { id }
             byGid: tenant(id: $gid) { id }
             products { id productId prices(market: "US") { channel unitPrice { amount currency } } } }""",
        as_user=None,
        variables={"uuid": str(CONTOSO_ID), "gid": CONTOSO_GID},
    )
    assert data["viewer"] is None
    assert data["byUuid"] is None
    assert data["byGid"] is None
    assert {p["productId"] for p in data["products"]} == ALL_PRODUCTS
    assert all(p["id"] == encode_id("Product", p["productId"]) for p in data["products"])
    power_bi_pro = next(p for p in data["products"] if p["productId"] == POWER_BI_PRO)
    # catalogue.PRICES: self-service and central list prices may differ.
    assert {p["channel"]: p["unitPrice"] for p in power_bi_pro["prices"]} == {
        "SELF_SERVICE": {"amount": "10.00", "currency": "USD"},
        "CENTRAL": {"amount": "9.99", "currency": "USD"},
    }


# ---------------------------------------------------------------------------------------------
# Viewer.tenants

VIEWER_TENANTS = "{ viewer { directoryRoles tenants { access tenant { tenantId } } } }"


@pytest.mark.parametrize(
    ("upn", "expected"),
    [
        pytest.param(ALEX, [(CONTOSO_ID, "ADMIN")], id="global_admin-is-ADMIN"),
        pytest.param(BEA, [(CONTOSO_ID, "ADMIN")], id="billing_admin-is-ADMIN"),
        pytest.param(RITA, [(CONTOSO_ID, "READER")], id="global_reader-is-READER"),
        pytest.param(PAULA, [(CONTOSO_ID, "MEMBER")], id="purchaser-is-MEMBER"),
        pytest.param(LEE, [(CONTOSO_ID, "MEMBER")], id="licensed_user-is-MEMBER"),
        pytest.param(SAM, [(CONTOSO_ID, "MEMBER")], id="synced_user-is-MEMBER"),
        pytest.param(GUS, [(CONTOSO_ID, "GUEST")], id="guest-is-GUEST"),
        pytest.param(
            PAT,
            [(ADATUM_ID, "MEMBER"), (CONTOSO_ID, "PARTNER")],
            id="active_partner-is-MEMBER-home-PARTNER-customer",
        ),
        pytest.param(LIA, [(LITWARE_ID, "MEMBER")], id="expired_partner-has-only-home"),
        pytest.param(WILL, [(WOODGROVE_ID, "ADMIN")], id="other_tenant_admin-is-ADMIN-at-home-only"),
        pytest.param(OLGA, [(WOODGROVE_ID, "MEMBER")], id="outsider-is-MEMBER-at-home-only"),
    ],
)
async def test_viewer_tenants_lists_the_access_kind_of_each_tenant_in_reach(
    api: Api, upn: str, expected: list[tuple[uuid.UUID, str]]
) -> None:
    data = await api.data(VIEWER_TENANTS, as_user=upn)
    assert [(uuid.UUID(t["tenant"]["tenantId"]), t["access"]) for t in data["viewer"]["tenants"]] == expected


async def test_anonymous_caller_has_no_viewer(api: Api) -> None:
    assert await api.data(VIEWER_TENANTS, as_user=None) == {"viewer": None}


# ---------------------------------------------------------------------------------------------
# Changes to roles and relationships take effect on the next request


async def test_revoking_a_directory_role_takes_effect_on_the_next_request(api: Api) -> None:
    before = await contoso_as(api, ALEX)
    assert before["subscriptions"]["totalCount"] == 11
    await api.conn.execute(
        "DELETE FROM directory_roles WHERE tenant_id = $1 AND user_id = $2", CONTOSO_ID, user_uuid(ALEX)
    )
    after = await contoso_as(api, ALEX)
    member = member_view(ALEX)
    # Alex bought nothing himself: he keeps the directory and the two central licenses he holds.
    assert ids_of(after["subscriptions"]) == member.subscriptions == set()
    assert after["subscriptions"]["totalCount"] == 0
    assert after["purchases"]["totalCount"] == 0
    assert ids_of(after["assignments"]) == member.assignments
    assert after["assignments"]["totalCount"] == 2
    assert after["users"]["totalCount"] == 15
    assert after["capacity"] == []
    assert after["policies"] == []
    assert await node_as(api, ALEX, PAULAS_POWER_BI.gid) is None
    viewer = (await api.data(VIEWER_TENANTS, as_user=ALEX))["viewer"]
    assert viewer == {
        "directoryRoles": [],
        "tenants": [{"access": "MEMBER", "tenant": {"tenantId": str(CONTOSO_ID)}}],
    }


async def test_disabling_an_admins_account_refuses_its_next_request(api: Api) -> None:
    assert (await contoso_as(api, BEA))["subscriptions"]["totalCount"] == 11
    await api.conn.execute(
        "UPDATE users SET account_enabled = false WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        user_uuid(BEA),
    )
    with pytest.raises(RequestError) as refused:
        await contoso_as(api, BEA)
    assert (refused.value.code, refused.value.status) == (RequestCode.UNAUTHENTICATED, 401)


async def test_ending_a_partner_relationship_takes_effect_on_the_next_request(api: Api) -> None:
    assert (await contoso_as(api, PAT))["subscriptions"]["totalCount"] == 11
    await api.conn.execute(
        "UPDATE partner_relationships SET status = 'terminated' WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_id(f"partner_relationship:{ADATUM}->{CONTOSO_DOMAIN}"),
    )
    assert (await api.data(TENANT, as_user=PAT, variables={"id": CONTOSO_GID}))["tenant"] is None
    assert await node_as(api, PAT, PAULAS_POWER_BI.gid) is None
    viewer = (await api.data(VIEWER_TENANTS, as_user=PAT))["viewer"]
    assert viewer["tenants"] == [{"access": "MEMBER", "tenant": {"tenantId": str(ADATUM_ID)}}]
