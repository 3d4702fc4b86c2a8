"""The lifecycle: dates move statuses on; the sweep renews, converts trials, and stops on a bad card."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import CONTOSO_ID, PAULA
from purchasegraph.demo.global_ids import PAULAS_POWER_BI_UUID
from purchasegraph.schema.ids import decode_uuid, encode_id
from tests.conftest import Api
from tests.mutations import card_token_of, travel_to

STATUS = "query ($id: ID!) { node(id: $id) { ... on Subscription { status expiresAt quantity isTrial } } }"
TRIAL = """
mutation ($product: ID!, $card: CardInput) {
  startTrial(productId: $product, card: $card) { subscription { id status isTrial } userErrors { code } }
}
"""
CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2035, "cvc": "123"}


async def expires_at(api: Api, subscription_id: uuid.UUID) -> datetime.datetime:
    value: datetime.datetime = await api.conn.fetchval(
        "SELECT expires_at FROM subscriptions WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, subscription_id
    )
    return value


async def status_of(api: Api, subscription_id: uuid.UUID, as_user: str = "alex.admin@contoso.example") -> Any:
    data = await api.data(
        STATUS, as_user=as_user, variables={"id": encode_id("Subscription", subscription_id, CONTOSO_ID)}
    )
    return data["node"]


async def test_a_subscription_that_does_not_renew_expires_then_is_disabled_then_deleted(api: Api) -> None:
    await api.conn.execute(
        "UPDATE subscriptions SET auto_renew = false WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, PAULAS_POWER_BI_UUID
    )
    end = await expires_at(api, PAULAS_POWER_BI_UUID)
    await travel_to(api, end - datetime.timedelta(minutes=1))
    assert (await status_of(api, PAULAS_POWER_BI_UUID))["status"] == "ACTIVE"
    await travel_to(api, end + datetime.timedelta(days=1))
    assert (await status_of(api, PAULAS_POWER_BI_UUID))["status"] == "EXPIRED"
    await travel_to(api, end + datetime.timedelta(days=31))
    assert (await status_of(api, PAULAS_POWER_BI_UUID))["status"] == "DISABLED"
    await travel_to(api, end + datetime.timedelta(days=121))
    assert (await status_of(api, PAULAS_POWER_BI_UUID))["status"] == "DELETED"


async def test_auto_renew_charges_the_card_and_writes_a_renewal_order_and_invoice(api: Api) -> None:
    end = await expires_at(api, PAULAS_POWER_BI_UUID)
    await travel_to(api, end + datetime.timedelta(hours=1))
    # Due for renewal: still shown ACTIVE, never EXPIRED, while the renewal is pending.
    assert (await status_of(api, PAULAS_POWER_BI_UUID))["status"] == "ACTIVE"
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert PAULAS_POWER_BI_UUID in report.renewed
    assert await expires_at(api, PAULAS_POWER_BI_UUID) > end
    renewal = await api.conn.fetchrow(
        "SELECT kind, quantity_after, total FROM orders WHERE tenant_id = $1 AND subscription_id = $2"
        " ORDER BY created_at DESC LIMIT 1",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert renewal["kind"] == "renew"
    token = await card_token_of(api, PAULAS_POWER_BI_UUID)
    charged = [c.amount for c in api.processor.settled() if c.token == token]
    assert charged == [renewal["total"]]
    invoice = await api.conn.fetchval(
        "SELECT status FROM invoices WHERE tenant_id = $1 AND subscription_id = $2 ORDER BY period_start DESC LIMIT 1",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert invoice == "paid"
    # A second sweep finds nothing more to renew.
    assert PAULAS_POWER_BI_UUID not in (await sweep(ConnectionExecutor(api.conn), api.processor)).renewed


async def test_a_declined_renewal_stops_auto_renew_and_the_subscription_expires(api: Api) -> None:
    api.processor.decline_token(await card_token_of(api, PAULAS_POWER_BI_UUID))
    end = await expires_at(api, PAULAS_POWER_BI_UUID)
    await travel_to(api, end + datetime.timedelta(hours=1))
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert PAULAS_POWER_BI_UUID in report.failed
    assert (await status_of(api, PAULAS_POWER_BI_UUID))["status"] == "EXPIRED"
    notified = await api.data("{ viewer { notifications(first: 100) { nodes { kind } } } }", as_user=PAULA)
    assert {"kind": "renewal_failed"} in notified["viewer"]["notifications"]["nodes"]


async def test_a_trial_with_a_card_converts_to_paid_at_its_end(api: Api) -> None:
    started = await api.data(TRIAL, as_user=PAULA, variables={"product": "CFQ7TTC0H9MP", "card": CARD})
    payload = started["startTrial"]
    assert payload["userErrors"] == []
    assert payload["subscription"]["status"] == "TRIAL"
    trial_id = uuid.UUID(
        str(
            await api.conn.fetchval(
                "SELECT id FROM subscriptions WHERE tenant_id = $1 AND is_trial AND product_id = 'CFQ7TTC0H9MP'",
                CONTOSO_ID,
            )
        )
    )
    await travel_to(api, await expires_at(api, trial_id) + datetime.timedelta(hours=1))
    await sweep(ConnectionExecutor(api.conn), api.processor)
    converted = await status_of(api, trial_id)
    assert (converted["status"], converted["isTrial"]) == ("ACTIVE", False)
    # The trial's own card, charged once: other seeded subscriptions may renew in the same sweep.
    token = await card_token_of(api, trial_id)
    assert len([c for c in api.processor.settled() if c.token == token]) == 1


async def test_a_trial_whose_card_declines_at_its_end_expires_and_is_not_charged_again(api: Api) -> None:
    """As a declined renewal: the conversion is tried once, then the trial is EXPIRED (not a TRIAL
    for 30 more days), and later sweeps leave its card alone."""
    started = await api.data(TRIAL, as_user=PAULA, variables={"product": "CFQ7TTC0H9MP", "card": CARD})
    trial_id = decode_uuid(started["startTrial"]["subscription"]["id"], "Subscription")
    assert trial_id is not None
    token = await card_token_of(api, trial_id)
    api.processor.decline_token(token)
    end = await expires_at(api, trial_id)
    await travel_to(api, end + datetime.timedelta(hours=1))
    assert trial_id in (await sweep(ConnectionExecutor(api.conn), api.processor)).failed
    assert (await status_of(api, trial_id))["status"] == "EXPIRED"
    await travel_to(api, end + datetime.timedelta(days=2))
    again = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert trial_id not in again.failed
    assert trial_id not in again.renewed
    assert (await status_of(api, trial_id))["status"] == "EXPIRED"
    assert [c for c in api.processor.charges if c.token == token] == []


async def test_a_trial_without_a_card_expires_at_its_end(api: Api) -> None:
    started = await api.data(TRIAL, as_user=PAULA, variables={"product": "CFQ7TTC0HD33"})  # Visio Plan 1
    assert started["startTrial"]["userErrors"] == []
    trial_id = uuid.UUID(
        str(
            await api.conn.fetchval(
                "SELECT id FROM subscriptions WHERE tenant_id = $1 AND purchaser_user_id = $2 AND is_trial"
                " AND product_id = 'CFQ7TTC0HD33'",
                CONTOSO_ID,
                api.ids[PAULA].user_id,
            )
        )
    )
    await travel_to(api, await expires_at(api, trial_id) + datetime.timedelta(hours=1))
    assert (await status_of(api, trial_id))["status"] == "EXPIRED"
    assert trial_id not in (await sweep(ConnectionExecutor(api.conn), api.processor)).renewed


async def test_the_sweep_stores_deleted_and_takes_the_licenses_back(api: Api) -> None:
    await api.conn.execute(
        "UPDATE subscriptions SET auto_renew = false WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, PAULAS_POWER_BI_UUID
    )
    await travel_to(api, await expires_at(api, PAULAS_POWER_BI_UUID) + datetime.timedelta(days=121))
    await sweep(ConnectionExecutor(api.conn), api.processor)
    stored = await api.conn.fetchval(
        "SELECT status FROM subscriptions WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, PAULAS_POWER_BI_UUID
    )
    live = await api.conn.fetchval(
        "SELECT count(*) FROM license_assignments WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert (stored, live) == ("deleted", 0)


AUDIT = """
query ($t: ID!) { tenant(id: $t) { auditEvents(first: 5) { totalCount nodes { action outcome errorCodes } } } }
"""


async def test_the_audit_trail_is_read_by_admins_and_active_partners_only(api: Api) -> None:
    for upn in ("alex.admin@contoso.example", "pat.partner@adatum-partners.example"):
        data = await api.data(AUDIT, as_user=upn, variables={"t": str(CONTOSO_ID)})
        assert data["tenant"]["auditEvents"]["totalCount"] > 0, upn
    for upn in ("rita.reader@contoso.example", PAULA, "lee.licensed@contoso.example"):
        data = await api.data(AUDIT, as_user=upn, variables={"t": str(CONTOSO_ID)})
        assert data["tenant"]["auditEvents"] == {"totalCount": 0, "nodes": []}, upn
    outsider = await api.data(AUDIT, as_user="olga.outsider@woodgrove.example", variables={"t": str(CONTOSO_ID)})
    assert outsider["tenant"] is None


async def test_a_disabled_subscription_keeps_only_its_billing_record_for_its_purchaser(api: Api) -> None:
    await api.conn.execute(
        "UPDATE subscriptions SET auto_renew = false WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, PAULAS_POWER_BI_UUID
    )
    end = await expires_at(api, PAULAS_POWER_BI_UUID)
    await travel_to(api, end + datetime.timedelta(days=1))
    assert (await status_of(api, PAULAS_POWER_BI_UUID, as_user=PAULA))["status"] == "EXPIRED"  # everyone keeps access
    await travel_to(api, end + datetime.timedelta(days=31))
    assert (await status_of(api, PAULAS_POWER_BI_UUID))["status"] == "DISABLED"
    gid = encode_id("Subscription", PAULAS_POWER_BI_UUID, CONTOSO_ID)
    # Its purchaser keeps its billing record; its licensed users lose sight of it (their licenses
    # are the admins' now: test_authorization_seams.py walks every path).
    assert (await api.data(STATUS, as_user=PAULA, variables={"id": gid}))["node"]["status"] == "DISABLED"
    assert (await api.data(STATUS, as_user="lee.licensed@contoso.example", variables={"id": gid}))["node"] is None


PURCHASE = """
mutation ($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code } }
}
"""


async def test_an_idempotency_key_is_kept_at_least_24_hours(api: Api) -> None:
    request = {
        "input": {
            "tenantId": str(CONTOSO_ID),
            "productId": "CFQ7TTC0LH2H",
            "quantity": 1,
            "card": CARD,
            "idempotencyKey": "kept-a-day",
        }
    }
    first = (await api.data(PURCHASE, as_user=PAULA, variables=request))["purchaseSubscription"]
    assert first["userErrors"] == []
    now = await api.conn.fetchval("SELECT app_now()")
    await travel_to(api, now + datetime.timedelta(hours=25))
    await sweep(ConnectionExecutor(api.conn), api.processor)
    again = (await api.data(PURCHASE, as_user=PAULA, variables=request))["purchaseSubscription"]
    assert again == first
    subscription_id = decode_uuid(first["subscription"]["id"], "Subscription")
    assert subscription_id is not None
    token = await card_token_of(api, subscription_id)
    assert len([c for c in api.processor.settled() if c.token == token]) == 1
