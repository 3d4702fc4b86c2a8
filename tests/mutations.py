"""Requests several test modules send: buying, the license mutations, reading a subscription back.

Each helper returns the mutation's payload (or the node read) as a plain dict.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import asyncpg
from strawberry.types import ExecutionResult

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.context import build_context
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.demo.actors import ALEX, CONTOSO, CONTOSO_ID, PAULA
from purchasegraph.demo.global_ids import GOOD_CARD
from purchasegraph.gateway.authentication import signed_in
from purchasegraph.identity import Claims
from purchasegraph.payments import SandboxProcessor
from purchasegraph.schema import schema
from tests.conftest import Api

# -- purchaseSubscription -----------------------------------------------------------------------

PURCHASE = """
mutation ($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) {
    subscription { id status quantity channel controlledBy unitPrice { amount currency }
                   purchaser { userPrincipalName } paymentMethod { brand last4 }
                   orders { nodes { kind quantityDelta total { amount currency } } }
                   invoices { nodes { status amount { amount currency } } } }
    order { kind quantityDelta total { amount currency } }
    userErrors { code field message }
  }
}
"""


def purchase_input(**overrides: Any) -> dict[str, Any]:
    return {
        "tenantId": CONTOSO,
        "productId": POWER_BI_PRO,
        "quantity": 3,
        "card": GOOD_CARD,
        "idempotencyKey": uuid.uuid4().hex,
    } | overrides


async def purchase(api: Api, as_user: str = PAULA, **overrides: Any) -> dict[str, Any]:
    data = await api.data(PURCHASE, as_user=as_user, variables={"input": purchase_input(**overrides)})
    payload: dict[str, Any] = data["purchaseSubscription"]
    return payload


# -- Licenses: assign, unassign, add, remove; and the subscription read back --------------------

SUBSCRIPTION = """
  subscription {
    id status quantity
    assignments(first: 100) { totalCount nodes { user { userPrincipalName } } }
  }
  order { id kind quantityDelta quantityAfter unitPrice { amount currency } total { amount currency } }
  userErrors { code field message }
"""
ASSIGN = (
    "mutation ($s: ID!, $users: [ID!]!) { assignLicenses(subscriptionId: $s, userIds: $users) {" + SUBSCRIPTION + "} }"
)
UNASSIGN = (
    "mutation ($s: ID!, $users: [ID!]!) { unassignLicenses(subscriptionId: $s, userIds: $users) {"
    + SUBSCRIPTION
    + "} }"
)
ADD = (
    "mutation ($s: ID!, $q: Int!, $key: String!) {"
    " addLicenses(subscriptionId: $s, quantity: $q, idempotencyKey: $key) {" + SUBSCRIPTION + "} }"
)
REMOVE = "mutation ($s: ID!, $q: Int!) { removeLicenses(subscriptionId: $s, quantity: $q) {" + SUBSCRIPTION + "} }"
READ = (
    "query ($s: ID!) { node(id: $s) { ... on Subscription {"
    " id status quantity"
    " assignments(first: 100) { totalCount nodes { user { userPrincipalName } } }"
    " orders(first: 100) { nodes { kind quantityDelta quantityAfter total { amount currency } } }"
    " invoices(first: 100) { totalCount nodes { status amount { amount currency } } } } } }"
)


def problems(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def holders(subscription_payload: dict[str, Any]) -> set[str]:
    return {n["user"]["userPrincipalName"] for n in subscription_payload["assignments"]["nodes"]}


async def assign(api: Api, as_user: str, subscription_id: str, users: list[str]) -> dict[str, Any]:
    data = await api.data(ASSIGN, as_user=as_user, variables={"s": subscription_id, "users": users})
    payload: dict[str, Any] = data["assignLicenses"]
    return payload


async def unassign(api: Api, as_user: str, subscription_id: str, users: list[str]) -> dict[str, Any]:
    data = await api.data(UNASSIGN, as_user=as_user, variables={"s": subscription_id, "users": users})
    payload: dict[str, Any] = data["unassignLicenses"]
    return payload


async def add(api: Api, as_user: str, subscription_id: str, quantity: int, key: str | None = None) -> dict[str, Any]:
    variables = {"s": subscription_id, "q": quantity, "key": key or uuid.uuid4().hex}
    data = await api.data(ADD, as_user=as_user, variables=variables)
    payload: dict[str, Any] = data["addLicenses"]
    return payload


async def remove(api: Api, as_user: str, subscription_id: str, quantity: int) -> dict[str, Any]:
    data = await api.data(REMOVE, as_user=as_user, variables={"s": subscription_id, "q": quantity})
    payload: dict[str, Any] = data["removeLicenses"]
    return payload


async def read(api: Api, subscription_id: str, as_user: str = ALEX) -> dict[str, Any]:
    data = await api.data(READ, as_user=as_user, variables={"s": subscription_id})
    node: dict[str, Any] = data["node"]
    return node


# -- Any request: on the test's connection, or through the real pool ----------------------------


async def mutate(api: Api, query: str, as_user: str, **variables: Any) -> dict[str, Any]:
    data = await api.data(query, as_user=as_user, variables=variables)
    (payload,) = data.values()
    result: dict[str, Any] = payload
    return result


async def execute_as(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    query: str,
    variables: dict[str, Any],
    processor: SandboxProcessor,
) -> ExecutionResult:
    """Run `query` as the gateway does, through the gateway's pool (`gateway_pool`): on a connection of
    its own, as the gateway role, in the viewer's tenant (committed data)."""
    db = RequestExecutor(pool, tenant_id=tenant_id)
    try:
        viewer = await signed_in(db, Claims(user_id=user_id, tenant_id=tenant_id))
        context = build_context(viewer=viewer, db=db, processor=processor)
        return await schema.execute(query, variable_values=variables, context_value=context)
    finally:
        await db.close()


# -- The application's clock --------------------------------------------------------------------


async def card_token_of(api: Api, subscription_id: uuid.UUID) -> str:
    """The processor token of the card that pays a Contoso subscription: a test counts the charges
    of the object under test by it, never every charge (a sweep renews other subscriptions too)."""
    token: str = await api.conn.fetchval(
        "SELECT pm.processor_token FROM subscriptions s JOIN payment_methods pm"
        " ON pm.tenant_id = s.tenant_id AND pm.id = s.payment_method_id WHERE s.tenant_id = $1 AND s.id = $2",
        CONTOSO_ID,
        subscription_id,
    )
    return token


async def travel_to(api: Api, when: datetime.datetime) -> None:
    """Move the application's clock for the rest of the test's transaction."""
    await api.conn.execute("SELECT set_config('purchasegraph.now', $1, true)", when.isoformat())
