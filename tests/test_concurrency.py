"""Races through the real pools: separate connections, separate transactions, committed data.

Requests go through the gateway's pool (its role, under row-level security); set-up and checks
through the owner's."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg

from purchasegraph.payments import SandboxProcessor
from purchasegraph.schema.ids import decode_uuid, encode_id
from tests.factories import TenantRows, add_subscriptions, create_tenant
from tests.mutations import execute_as

ASSIGN = """
mutation ($s: ID!, $users: [ID!]!) {
  assignLicenses(subscriptionId: $s, userIds: $users) { userErrors { code } }
}
"""
PURCHASE = """
mutation ($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code } }
}
"""


async def committed_tenant(pool: asyncpg.Pool, *, users: int, licenses: int) -> TenantRows:
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=users)
        await add_subscriptions(conn, tenant, count=1, orders_each=1, assignments_each=0, quantity=licenses)
    return tenant


async def test_fifty_concurrent_assignments_on_ten_licenses_assign_exactly_ten(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    tenant = await committed_tenant(pool, users=60, licenses=10)
    subscription = tenant.subscription_ids[0]
    purchaser = tenant.user_ids[0]
    processor = SandboxProcessor()
    targets = tenant.user_ids[1:51]
    results = await asyncio.gather(
        *(
            execute_as(
                gateway_pool,
                purchaser,
                tenant.tenant_id,
                ASSIGN,
                {"s": encode_id("Subscription", subscription, tenant.tenant_id), "users": [str(user)]},
                processor,
            )
            for user in targets
        )
    )
    assert all(r.errors is None for r in results)
    codes = [[e["code"] for e in r.data["assignLicenses"]["userErrors"]] for r in results if r.data]
    assert sum(1 for c in codes if c == []) == 10
    assert sum(1 for c in codes if c == ["NO_LICENSES_LEFT"]) == 40
    live = await pool.fetchval(
        "SELECT count(*) FROM license_assignments WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL",
        tenant.tenant_id,
        subscription,
    )
    assert live == 10


async def test_the_same_purchase_sent_five_times_at_once_charges_once(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    tenant = await committed_tenant(pool, users=3, licenses=1)
    buyer = tenant.user_ids[1]  # user 0 already bought the factory's subscription
    processor = SandboxProcessor()
    request = {
        "input": {
            "tenantId": str(tenant.tenant_id),
            "productId": "CFQ7TTC0H9MP",
            "quantity": 4,
            "card": {"number": "4242424242424242", "expMonth": 1, "expYear": 2031, "cvc": "321"},
            "idempotencyKey": "order-2026-11-25-0001",
        }
    }
    results = await asyncio.gather(
        *(execute_as(gateway_pool, buyer, tenant.tenant_id, PURCHASE, request, processor) for _ in range(5))
    )
    assert all(r.errors is None and r.data is not None for r in results)
    payloads = [r.data["purchaseSubscription"] for r in results if r.data]
    assert all(p["userErrors"] == [] for p in payloads)
    assert len({p["subscription"]["id"] for p in payloads}) == 1
    assert len(processor.settled()) == 1
    bought = await pool.fetchval(
        "SELECT count(*) FROM subscriptions WHERE tenant_id = $1 AND purchaser_user_id = $2 AND product_id = $3",
        tenant.tenant_id,
        buyer,
        "CFQ7TTC0H9MP",
    )
    assert bought == 1


async def test_the_same_key_with_a_different_request_is_refused(pool: asyncpg.Pool, gateway_pool: asyncpg.Pool) -> None:
    tenant = await committed_tenant(pool, users=3, licenses=1)
    buyer = tenant.user_ids[1]  # user 0 already bought the factory's subscription
    processor = SandboxProcessor()
    request: dict[str, Any] = {
        "input": {
            "tenantId": str(tenant.tenant_id),
            "productId": "CFQ7TTC0H9MP",
            "quantity": 2,
            "card": {"number": "4242424242424242", "expMonth": 1, "expYear": 2031, "cvc": "321"},
            "idempotencyKey": "key-1",
        }
    }
    first = await execute_as(gateway_pool, buyer, tenant.tenant_id, PURCHASE, request, processor)
    assert first.data is not None
    assert first.data["purchaseSubscription"]["userErrors"] == []
    request["input"]["quantity"] = 3
    second = await execute_as(gateway_pool, buyer, tenant.tenant_id, PURCHASE, request, processor)
    assert second.data is not None
    assert [e["code"] for e in second.data["purchaseSubscription"]["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert len(processor.settled()) == 1


START_TRIAL = """
mutation ($product: ID!, $card: CardInput) {
  startTrial(productId: $product, card: $card) { subscription { id } userErrors { code } }
}
"""
REQUEST_CANCELLATION = """
mutation ($s: ID!) { requestCancellation(subscriptionId: $s, message: "Please.") { userErrors { code } } }
"""


async def test_twenty_concurrent_trials_of_one_product_by_one_user_start_exactly_one(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    tenant = await committed_tenant(pool, users=2, licenses=1)
    buyer = tenant.user_ids[1]  # user 0 bought the factory's subscription; nobody had a trial
    processor = SandboxProcessor()
    card = {"number": "4242424242424242", "expMonth": 12, "expYear": 2099, "cvc": "123"}
    results = await asyncio.gather(
        *(
            execute_as(
                gateway_pool, buyer, tenant.tenant_id, START_TRIAL, {"product": "CFQ7TTC0H9MP", "card": card}, processor
            )
            for _ in range(20)
        )
    )
    assert all(r.errors is None and r.data is not None for r in results)
    codes = sorted(tuple(e["code"] for e in r.data["startTrial"]["userErrors"]) for r in results if r.data)
    assert codes == [()] + [("TRIAL_ALREADY_USED",)] * 19
    trials = await pool.fetchval(
        "SELECT count(*) FROM subscriptions WHERE tenant_id = $1 AND purchaser_user_id = $2 AND product_id = $3",
        tenant.tenant_id,
        buyer,
        "CFQ7TTC0H9MP",
    )
    assert trials == 1


async def test_ten_concurrent_cancellation_requests_for_one_subscription_leave_exactly_one_open(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    tenant = await committed_tenant(pool, users=2, licenses=1)
    subscription = encode_id("Subscription", tenant.subscription_ids[0], tenant.tenant_id)
    results = await asyncio.gather(
        *(
            execute_as(
                gateway_pool,
                tenant.admin_id,
                tenant.tenant_id,
                REQUEST_CANCELLATION,
                {"s": subscription},
                SandboxProcessor(),
            )
            for _ in range(10)
        )
    )
    assert all(r.errors is None and r.data is not None for r in results)
    codes = sorted(tuple(e["code"] for e in r.data["requestCancellation"]["userErrors"]) for r in results if r.data)
    assert codes == [()] + [("CANCELLATION_ALREADY_REQUESTED",)] * 9
    pending = await pool.fetchval(
        "SELECT count(*) FROM cancellation_requests"
        " WHERE tenant_id = $1 AND subscription_id = $2 AND status = 'pending'",
        tenant.tenant_id,
        tenant.subscription_ids[0],
    )
    assert pending == 1


PAY = """
mutation ($i: ID!, $key: String!) { payInvoice(invoiceId: $i, idempotencyKey: $key) { userErrors { code } } }
"""
REACTIVATE = "mutation ($s: ID!) { reactivateSubscription(subscriptionId: $s) { userErrors { code } } }"


async def bought_subscription(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool, processor: SandboxProcessor
) -> tuple[TenantRows, uuid.UUID, uuid.UUID]:
    """A fresh tenant whose first member bought two Power BI Pro licenses (committed)."""
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=2)
    buyer = tenant.user_ids[0]
    request = {
        "input": {
            "tenantId": str(tenant.tenant_id),
            "productId": "CFQ7TTC0H9MP",
            "quantity": 2,
            "card": {"number": "4242424242424242", "expMonth": 12, "expYear": 2099, "cvc": "123"},
            "idempotencyKey": uuid.uuid4().hex,
        }
    }
    bought = await execute_as(gateway_pool, buyer, tenant.tenant_id, PURCHASE, request, processor)
    assert bought.data is not None
    subscription_id = decode_uuid(bought.data["purchaseSubscription"]["subscription"]["id"], "Subscription")
    assert subscription_id is not None
    return tenant, buyer, subscription_id


async def test_ten_concurrent_payments_of_one_invoice_charge_it_once(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    processor = SandboxProcessor()
    tenant, buyer, subscription_id = await bought_subscription(pool, gateway_pool, processor)
    invoice_id = await pool.fetchval(
        "UPDATE invoices SET status = 'open', paid_at = NULL WHERE tenant_id = $1 AND subscription_id = $2"
        " RETURNING id",
        tenant.tenant_id,
        subscription_id,
    )
    invoice = encode_id("Invoice", invoice_id, tenant.tenant_id)
    results = await asyncio.gather(
        *(
            execute_as(gateway_pool, buyer, tenant.tenant_id, PAY, {"i": invoice, "key": uuid.uuid4().hex}, processor)
            for _ in range(10)
        )
    )
    assert all(r.errors is None and r.data is not None for r in results)
    codes = sorted(tuple(e["code"] for e in r.data["payInvoice"]["userErrors"]) for r in results if r.data)
    assert codes == [()] + [("INVOICE_ALREADY_PAID",)] * 9
    # This processor charged the purchase, then the bill once (its amount: the purchase's 2 x 10.00).
    assert [c.amount for c in processor.settled()] == [Decimal("20.00"), Decimal("20.00")]


async def test_ten_concurrent_reactivations_start_one_term_and_charge_it_once(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    processor = SandboxProcessor()
    tenant, buyer, subscription_id = await bought_subscription(pool, gateway_pool, processor)
    await pool.execute(
        "UPDATE subscriptions SET term_start = app_now() - interval '40 days',"
        " expires_at = app_now() - interval '10 days', auto_renew = false WHERE tenant_id = $1 AND id = $2",
        tenant.tenant_id,
        subscription_id,
    )
    gid = encode_id("Subscription", subscription_id, tenant.tenant_id)
    results = await asyncio.gather(
        *(execute_as(gateway_pool, buyer, tenant.tenant_id, REACTIVATE, {"s": gid}, processor) for _ in range(10))
    )
    assert all(r.errors is None and r.data is not None for r in results)
    codes = sorted(tuple(e["code"] for e in r.data["reactivateSubscription"]["userErrors"]) for r in results if r.data)
    assert codes == [()] + [("CANNOT_REACTIVATE",)] * 9
    # This processor charged the purchase, then one new month of 2 x 10.00.
    assert [c.amount for c in processor.settled()] == [Decimal("20.00"), Decimal("20.00")]
    orders = await pool.fetchval(
        "SELECT count(*) FROM orders WHERE tenant_id = $1 AND subscription_id = $2 AND kind = 'reactivate'",
        tenant.tenant_id,
        subscription_id,
    )
    assert orders == 1
