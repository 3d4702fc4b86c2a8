"""What an outside attack on the bills, cards, license requests and fleet found, kept as rules.

1. removePaymentMethod takes its locks in the opposite order of addLicenses (and reactivateSubscription):
   the card FOR UPDATE, then the subscriptions it pays; they lock the subscription, then the card FOR
   SHARE. Run together they deadlock (40P01) and one caller gets INTERNAL_SERVER_ERROR. Two removals
   naming each other's card as the replacement deadlock the same way.
2. approveLicenseRequest with assignFromSubscriptionId assigns everyone a request is for in one call:
   the requester and up to 20 colleagues, 21 users, past the 20 users a call may assign.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from strawberry.types import ExecutionResult

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.commerce import billing, purchasing
from purchasegraph.demo.actors import ALEX, CONTOSO_ID, UNA
from purchasegraph.demo.global_ids import CENTRAL_POWER_BI
from purchasegraph.payments import SandboxProcessor
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api
from tests.factories import INSERT_USER, create_tenant
from tests.mutations import execute_as, mutate
from tests.test_license_workflow import (
    APPROVE,
    CENTRAL_POWER_BI_UUID,
    REQUEST_LICENSE,
    block_power_bi,
    holders,
)

# -- 1. removePaymentMethod's lock order -----------------------------------------------------------

INSERT_CARD13 = """
INSERT INTO payment_methods (tenant_id, id, owner_user_id, kind, brand, last4, exp_month, exp_year, processor_token)
VALUES ($1, $2, $3, 'credit_card', 'visa', '1111', 12, 2090, $4)
"""
BUY13 = """mutation ($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code message } } }"""
ADD13 = """mutation ($s: ID!, $k: String!) {
  addLicenses(subscriptionId: $s, quantity: 1, idempotencyKey: $k) {
    subscription { quantity } userErrors { code } } }"""
REMOVE13 = """mutation ($pm: ID!, $r: ID) {
  removePaymentMethod(paymentMethodId: $pm, replacementPaymentMethodId: $r) {
    removedPaymentMethodId movedSubscriptions { id } userErrors { code } } }"""


async def test_removing_a_card_while_its_purchaser_adds_licenses_does_not_deadlock(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """addLicenses locks the subscription, then (product_for_buyer) the buyer, then the card FOR SHARE;
    removePaymentMethod locks the card FOR UPDATE, then the subscriptions it pays. Run together, each
    waits for the other: PostgreSQL kills one with 40P01 and its caller gets an internal error
    instead of an answer (reactivateSubscription takes the same two locks in the same order)."""
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=2)
    buyer, card, spare = tenant.user_ids[1], uuid.uuid4(), uuid.uuid4()
    for c in (card, spare):
        await pool.execute(INSERT_CARD13, tenant.tenant_id, c, buyer, f"tok_{uuid.uuid4().hex}")
    processor = SandboxProcessor()
    card_id = encode_id("PaymentMethod", card, tenant.tenant_id)
    spare_id = encode_id("PaymentMethod", spare, tenant.tenant_id)
    bought = await execute_as(
        gateway_pool,
        buyer,
        tenant.tenant_id,
        BUY13,
        {
            "input": {
                "tenantId": str(tenant.tenant_id),
                "productId": POWER_BI_PRO,
                "quantity": 1,
                "paymentMethodId": card_id,
                "idempotencyKey": "buy",
            }
        },
        processor,
    )
    assert bought.errors is None, bought.errors
    assert bought.data is not None
    assert bought.data["purchaseSubscription"]["userErrors"] == []
    subscription_id = bought.data["purchaseSubscription"]["subscription"]["id"]

    # Widen the window between addLicenses' subscription lock and its card lock (nothing else changes).
    original = purchasing.product_for_buyer  # type: ignore[attr-defined]

    async def slow_product_for_buyer(work: Any, product_id: str) -> Any:
        found = await original(work, product_id)
        await asyncio.sleep(0.6)
        return found

    monkeypatch.setattr(purchasing, "product_for_buyer", slow_product_for_buyer)

    async def remove_later() -> ExecutionResult:
        await asyncio.sleep(0.3)  # addLicenses holds the subscription by now
        return await execute_as(
            gateway_pool, buyer, tenant.tenant_id, REMOVE13, {"pm": card_id, "r": spare_id}, processor
        )

    add, remove = await asyncio.gather(
        execute_as(gateway_pool, buyer, tenant.tenant_id, ADD13, {"s": subscription_id, "k": "more"}, processor),
        remove_later(),
    )
    # Both get an answer (one may wait for the other); neither dies in a deadlock.
    assert add.errors is None, add.errors
    assert remove.errors is None, remove.errors


# -- 2. at most 20 users a call, on approve-and-assign -----------------------------------------------


async def test_an_approval_assigns_at_most_20_users_in_one_call(api: Api) -> None:
    """MAX_USERS_PER_CALL (enforced by assignLicenses): at most 20 users get a license in one
    call. requestLicense takes 20 colleagues *besides* the requester, and approveLicenseRequest with
    assignFromSubscriptionId assigns all 21 at once."""
    colleagues = []
    for i in range(20):
        uid = uuid.uuid4()
        upn = f"bulk{i}@contoso.example"
        await api.conn.execute(INSERT_USER, CONTOSO_ID, uid, f"Bulk {i:02d}", upn, "member", "cloud", True)
        colleagues.append(encode_id("User", uid, CONTOSO_ID))
    await block_power_bi(api)
    asked = await mutate(api, REQUEST_LICENSE, UNA, p=POWER_BI_PRO, **{"for": colleagues})
    # 20 colleagues and the requester are 21 users: refused, the requester counting.
    assert [e["code"] for e in asked["userErrors"]] == ["TOO_MANY_USERS"], asked
    # 19 and the requester are 20: asked, and assigned in one approval.
    asked = await mutate(api, REQUEST_LICENSE, UNA, p=POWER_BI_PRO, **{"for": colleagues[:19]})
    assert asked["userErrors"] == [], asked
    before = await holders(api, CENTRAL_POWER_BI_UUID)
    approved = await mutate(api, APPROVE, ALEX, r=asked["licenseRequest"]["id"], **{"from": CENTRAL_POWER_BI})
    added = len(await holders(api, CENTRAL_POWER_BI_UUID) - before)
    assert approved["userErrors"] or added <= 20, f"{added} users assigned in one call"


async def test_two_removals_naming_each_other_as_replacement_do_not_deadlock(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """removePaymentMethod(A, replacement B) locks A FOR UPDATE then B FOR SHARE; the same user's
    removePaymentMethod(B, replacement A) (a double-click in two tabs) does the reverse: 40P01."""
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=2)
    buyer, a, b = tenant.user_ids[1], uuid.uuid4(), uuid.uuid4()
    for c in (a, b):
        await pool.execute(INSERT_CARD13, tenant.tenant_id, c, buyer, f"tok_{uuid.uuid4().hex}")
    processor = SandboxProcessor()
    a_id, b_id = (encode_id("PaymentMethod", c, tenant.tenant_id) for c in (a, b))
    original = billing.own_card

    async def slow_own_card(work: Any, payment_method_id: uuid.UUID, field: str = "paymentMethodId") -> Any:
        await asyncio.sleep(0.4)  # both removals hold their own card by now
        return await original(work, payment_method_id, field)

    monkeypatch.setattr(billing, "own_card", slow_own_card)
    first, second = await asyncio.gather(
        execute_as(gateway_pool, buyer, tenant.tenant_id, REMOVE13, {"pm": a_id, "r": b_id}, processor),
        execute_as(gateway_pool, buyer, tenant.tenant_id, REMOVE13, {"pm": b_id, "r": a_id}, processor),
    )
    assert first.errors is None, first.errors
    assert second.errors is None, second.errors
