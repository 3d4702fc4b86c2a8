"""Cards, bills, trials, cancellation and the dates of a subscription's life (rules 5, 6, 8)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from purchasegraph.catalogue import POWER_BI_PRO, VISIO_PLAN_1
from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import ALEX, CONTOSO_ID, DANA, GUS, LEE, PAULA, PETE, UNA, WILL, demo_id, demo_user_id
from purchasegraph.demo.global_ids import (
    DANAS_PREMIUM,
    DANAS_PREMIUM_UUID,
    GOOD_CARD,
    PAULAS_POWER_BI,
    PAULAS_POWER_BI_UUID,
    user,
)
from purchasegraph.schema.ids import decode_id, encode_id
from tests.conftest import Api
from tests.mutations import SUBSCRIPTION, assign, holders, mutate, problems, purchase, read, travel_to

POWER_APPS = "CFQ7TTC0LH2H"  # no trial
PETES_CARD = encode_id("PaymentMethod", demo_id(f"payment_method:{PETE}:current"), CONTOSO_ID)
PAULAS_OLD_CARD = encode_id("PaymentMethod", demo_id(f"payment_method:{PAULA}:replaced"), CONTOSO_ID)

CANCEL = (
    "mutation ($s: ID!, $r: String!) { cancelSubscription(subscriptionId: $s, reason: $r) {"
    + SUBSCRIPTION.replace("id status quantity", "id status quantity canceledAt cancelReason")
    + "} }"
)
START_TRIAL = """
mutation ($p: ID!, $card: CardInput, $pm: ID) {
  startTrial(productId: $p, card: $card, paymentMethodId: $pm) {
    subscription {
      id status isTrial quantity autoRenew expiresAt paymentMethod { brand last4 }
      assignments(first: 10) { totalCount nodes { user { userPrincipalName } } }
      orders(first: 10) { nodes { kind quantityDelta total { amount currency } } }
    }
    userErrors { code field message }
  }
}
"""
ADD_CARD = """
mutation ($card: CardInput!) {
  addPaymentMethod(card: $card) {
    paymentMethod { id kind brand last4 expMonth expYear }
    userErrors { code field message }
  }
}
"""
UPDATE_CARD = """
mutation ($s: ID!, $pm: ID!) {
  updateSubscriptionPaymentMethod(subscriptionId: $s, paymentMethodId: $pm) {
    subscription { id paymentMethod { brand last4 } }
    userErrors { code field message }
  }
}
"""
PAY = """
mutation ($i: ID!, $key: String!, $pm: ID) {
  payInvoice(invoiceId: $i, idempotencyKey: $key, paymentMethodId: $pm) {
    invoice { id status paidAt amount { amount currency } }
    userErrors { code field message }
  }
}
"""
INVOICE = "query ($i: ID!) { node(id: $i) { ... on Invoice { id status amount { amount currency } } } }"
INVOICES = """
query ($s: ID!) {
  node(id: $s) { ... on Subscription { invoices(first: 100) { nodes { status amount { amount currency } } } } }
}
"""
STATUS = "query ($s: ID!) { node(id: $s) { ... on Subscription { status } } }"


async def cancel(api: Api, subscription_id: str, as_user: str = PAULA, reason: str = "No longer needed.") -> Any:
    return await mutate(api, CANCEL, as_user, s=subscription_id, r=reason)


async def start_trial(api: Api, as_user: str, product: str, **payment: Any) -> dict[str, Any]:
    return await mutate(api, START_TRIAL, as_user, p=product, **payment)


async def add_card(api: Api, as_user: str, card: dict[str, Any]) -> dict[str, Any]:
    return await mutate(api, ADD_CARD, as_user, card=card)


async def pay(api: Api, as_user: str, invoice_id: str, key: str | None = None, card: str | None = None) -> Any:
    return await mutate(api, PAY, as_user, i=invoice_id, key=key or uuid.uuid4().hex, pm=card)


async def invoices_of(api: Api, subscription_id: str) -> list[dict[str, Any]]:
    data = await api.data(INVOICES, as_user=ALEX, variables={"s": subscription_id})
    nodes: list[dict[str, Any]] = data["node"]["invoices"]["nodes"]
    return nodes


async def reinstate(api: Api, upn: str) -> None:
    """Dana left, and a disabled account signs in to nothing: to pay her bills she must be back."""
    await api.conn.execute(
        "UPDATE users SET departed_at = NULL, account_enabled = true WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        api.ids[upn].user_id,
    )


async def unpaid_invoice(api: Api, subscription_id: uuid.UUID) -> tuple[str, Decimal]:
    row = await api.conn.fetchrow(
        "SELECT id, amount FROM invoices WHERE tenant_id = $1 AND subscription_id = $2 AND status <> 'paid'",
        CONTOSO_ID,
        subscription_id,
    )
    return encode_id("Invoice", row["id"], CONTOSO_ID), row["amount"]


async def status_at(api: Api, subscription_id: str, when: datetime.datetime) -> str:
    await travel_to(api, when)
    data = await api.data(STATUS, as_user=ALEX, variables={"s": subscription_id})
    status: str = data["node"]["status"]
    return status


async def expires_at(api: Api, subscription_id: str) -> datetime.datetime:
    value: datetime.datetime = await api.conn.fetchval(
        "SELECT expires_at FROM subscriptions WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        uuid.UUID(key_of(subscription_id)),
    )
    return value


def key_of(global_id: str) -> str:
    """The UUID inside a global ID."""
    decoded = decode_id(global_id)
    assert decoded is not None
    return decoded.key


# -- cancelSubscription -------------------------------------------------------------------------


async def test_a_canceled_subscription_is_deleted_and_its_users_lose_their_licenses(api: Api) -> None:
    payload = await cancel(api, PAULAS_POWER_BI)
    assert payload["userErrors"] == []
    canceled = payload["subscription"]
    assert canceled["status"] == "DELETED"
    assert canceled["canceledAt"] is not None
    assert canceled["cancelReason"] == "No longer needed."
    assert canceled["assignments"]["totalCount"] == 0
    live = await api.conn.fetchval(
        "SELECT count(*) FROM license_assignments WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert live == 0
    assert (payload["order"]["kind"], payload["order"]["quantityDelta"]) == ("CANCEL", 0)
    assert (await read(api, PAULAS_POWER_BI))["status"] == "DELETED"


async def test_cancelling_settles_the_open_bills_on_the_card(api: Api) -> None:
    before = await invoices_of(api, PAULAS_POWER_BI)
    open_bills = [i for i in before if i["status"] != "PAID"]
    assert len(open_bills) == 1
    owed = Decimal(open_bills[0]["amount"]["amount"])

    assert (await cancel(api, PAULAS_POWER_BI))["userErrors"] == []
    after = await invoices_of(api, PAULAS_POWER_BI)
    assert len(after) == len(before)
    assert {i["status"] for i in after} == {"PAID"}
    assert [(c.amount, c.currency) for c in api.processor.settled()] == [(owed, "USD")]
    token = await api.conn.fetchval(
        "SELECT processor_token FROM payment_methods WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_id(f"payment_method:{PAULA}:current"),
    )
    assert [c.token for c in api.processor.settled()] == [token]


async def test_a_canceled_subscription_takes_no_assignments(api: Api) -> None:
    assert (await cancel(api, PAULAS_POWER_BI))["userErrors"] == []
    payload = await assign(api, PAULA, PAULAS_POWER_BI, [user(UNA)])
    assert problems(payload) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]


async def test_a_subscription_is_canceled_once(api: Api) -> None:
    assert (await cancel(api, PAULAS_POWER_BI))["userErrors"] == []
    again = await cancel(api, PAULAS_POWER_BI)
    assert problems(again) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]
    assert len(api.processor.settled()) == 1
    cancels = await api.conn.fetchval(
        "SELECT count(*) FROM orders WHERE tenant_id = $1 AND subscription_id = $2 AND kind = 'cancel'",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert cancels == 1


async def test_admins_cancel_a_taken_over_subscription_even_when_the_purchasers_card_declines(api: Api) -> None:
    """Rules 10 and 11: a purchaser who left (and whose card no longer pays) cannot keep the admins
    from canceling what they took over; the unpaid bill stays unpaid, it is not marked paid."""
    token = await api.conn.fetchval(
        "SELECT processor_token FROM payment_methods WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_id(f"payment_method:{DANA}:current"),
    )
    api.processor.decline_token(token)
    take = "mutation ($s: ID!) { takeControlOfSubscription(subscriptionId: $s) { userErrors { code } } }"
    taken = await api.data(take, as_user=ALEX, variables={"s": DANAS_PREMIUM})
    assert taken["takeControlOfSubscription"]["userErrors"] == []

    payload = await cancel(api, DANAS_PREMIUM, as_user=ALEX, reason="Dana left; moving to central licenses.")
    assert payload["userErrors"] == []
    assert payload["subscription"]["status"] == "DELETED"
    assert api.processor.settled() == []
    statuses = [i["status"] for i in await invoices_of(api, DANAS_PREMIUM)]
    assert "PAID" in statuses
    assert "PAST_DUE" in statuses


# -- trials -------------------------------------------------------------------------------------


async def test_a_trial_allowed_without_a_payment_method_starts_without_a_card(api: Api) -> None:
    payload = await start_trial(api, UNA, VISIO_PLAN_1)
    assert payload["userErrors"] == []
    trial = payload["subscription"]
    assert (trial["status"], trial["isTrial"], trial["quantity"]) == ("TRIAL", True, 1)
    assert trial["paymentMethod"] is None
    assert trial["autoRenew"] is False
    assert holders(trial) == {UNA}
    assert trial["orders"]["nodes"] == [
        {"kind": "TRIAL", "quantityDelta": 1, "total": {"amount": "0.00", "currency": "USD"}}
    ]
    now: datetime.datetime = await api.conn.fetchval("SELECT app_now()")
    assert datetime.datetime.fromisoformat(trial["expiresAt"]) == now + datetime.timedelta(days=30)
    assert api.processor.charges == []


async def test_a_trial_of_a_product_is_had_once(api: Api) -> None:
    assert (await start_trial(api, UNA, VISIO_PLAN_1))["userErrors"] == []
    assert problems(await start_trial(api, UNA, VISIO_PLAN_1)) == [("TRIAL_ALREADY_USED", ["productId"])]
    # Pete's Visio Plan 1 trial is running already.
    assert problems(await start_trial(api, PETE, VISIO_PLAN_1)) == [("TRIAL_ALREADY_USED", ["productId"])]


async def test_a_product_without_a_trial_has_none_to_start(api: Api) -> None:
    payload = await start_trial(api, UNA, POWER_APPS, card=GOOD_CARD)
    assert problems(payload) == [("TRIAL_NOT_AVAILABLE", ["productId"])]


async def test_a_trial_that_needs_a_card_is_refused_without_one(api: Api) -> None:
    refused = await start_trial(api, UNA, POWER_BI_PRO)
    assert problems(refused) == [("PAYMENT_METHOD_REQUIRED", ["paymentMethodId"])]
    started = await start_trial(api, UNA, POWER_BI_PRO, card=GOOD_CARD)
    assert started["userErrors"] == []
    trial = started["subscription"]
    assert (trial["status"], trial["paymentMethod"]) == ("TRIAL", {"brand": "visa", "last4": "4242"})
    assert api.processor.charges == []  # nothing is charged until the trial converts


async def test_trials_only_refuses_a_trial_that_needs_a_card(api: Api) -> None:
    await api.conn.execute(
        "UPDATE self_service_policies SET value = 'only_trials_without_payment_method'"
        " WHERE tenant_id = $1 AND product_id = $2",
        CONTOSO_ID,
        POWER_BI_PRO,
    )
    payload = await start_trial(api, UNA, POWER_BI_PRO, card=GOOD_CARD)
    assert problems(payload) == [("TRIALS_ONLY", ["productId"])]


async def test_a_trial_under_trials_only_never_becomes_a_paid_subscription(api: Api) -> None:
    """OnlyTrialsWithoutPaymentMethod allows trials only: whatever the user sends, no purchase follows."""
    started = await start_trial(api, UNA, VISIO_PLAN_1, card=GOOD_CARD)
    assert [e["code"] for e in started["userErrors"]] in ([], ["TRIALS_ONLY"])
    # Thirty days on, the sweep converts trials that carry a card into paid subscriptions.
    await travel_to(api, await api.conn.fetchval("SELECT app_now() + interval '30 days 1 hour'"))
    await sweep(ConnectionExecutor(api.conn), api.processor)
    unas_cards = {
        r["processor_token"]
        for r in await api.conn.fetch(
            "SELECT processor_token FROM payment_methods WHERE tenant_id = $1 AND owner_user_id = $2",
            CONTOSO_ID,
            demo_user_id(UNA),
        )
    }
    assert [c for c in api.processor.settled() if c.token in unas_cards] == []
    paid = await api.conn.fetchval(
        "SELECT count(*) FROM subscriptions s WHERE tenant_id = $1 AND purchaser_user_id = $2 AND product_id = $3"
        " AND effective_status(s) = 'active'",
        CONTOSO_ID,
        demo_user_id(UNA),
        VISIO_PLAN_1,
    )
    assert paid == 0


# -- payment methods ----------------------------------------------------------------------------


async def test_an_invalid_card_is_refused(api: Api) -> None:
    before = await api.conn.fetchval("SELECT count(*) FROM payment_methods")
    for bad in (
        {"number": "4242424242424241"},  # fails the Luhn check
        {"expMonth": 13},
        {"cvc": "12"},
    ):
        payload = await add_card(api, PAULA, GOOD_CARD | bad)
        assert problems(payload) == [("INVALID_CARD", ["card"])]
        assert payload["paymentMethod"] is None
    assert await api.conn.fetchval("SELECT count(*) FROM payment_methods") == before


async def test_a_saved_card_keeps_its_brand_last_four_digits_and_expiry_only(api: Api) -> None:
    card = {"number": "5555555555554444", "expMonth": 7, "expYear": 2031, "cvc": "321"}
    payload = await add_card(api, PAULA, card)
    assert payload["userErrors"] == []
    saved = payload["paymentMethod"]
    assert {k: v for k, v in saved.items() if k != "id"} == {
        "kind": "credit_card",
        "brand": "mastercard",
        "last4": "4444",
        "expMonth": 7,
        "expYear": 2031,
    }
    row = await api.conn.fetchrow(
        "SELECT * FROM payment_methods WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        uuid.UUID(key_of(saved["id"])),
    )
    assert row["owner_user_id"] == demo_user_id(PAULA)
    assert not any("5555555555554444" in str(value) for value in row.values())
    assert not {"number", "card_number", "cvc", "pan"} & set(row.keys())
    assert row["processor_token"].startswith("tok_")


async def test_guests_keep_no_payment_methods_in_the_host_tenant(api: Api) -> None:
    payload = await add_card(api, GUS, GOOD_CARD)
    assert [e["code"] for e in payload["userErrors"]] == ["GUEST_USER"]


async def test_a_subscription_is_billed_only_to_a_card_of_its_purchaser(api: Api) -> None:
    for not_hers in (PETES_CARD, PAULAS_OLD_CARD, str(uuid.uuid4())):  # Pete's, her removed one, none at all
        payload = await mutate(api, UPDATE_CARD, PAULA, s=PAULAS_POWER_BI, pm=not_hers)
        assert problems(payload) == [("NOT_FOUND", ["paymentMethodId"])]
    assert (await mutate(api, UPDATE_CARD, PAULA, s=PAULAS_POWER_BI, pm=PAULAS_OLD_CARD))["subscription"] is None

    new_card = (await add_card(api, PAULA, GOOD_CARD | {"number": "4000056655665556"}))["paymentMethod"]
    payload = await mutate(api, UPDATE_CARD, PAULA, s=PAULAS_POWER_BI, pm=new_card["id"])
    assert payload["userErrors"] == []
    assert payload["subscription"]["paymentMethod"] == {"brand": "visa", "last4": "5556"}


async def test_only_the_purchaser_changes_the_card_of_a_subscription(api: Api) -> None:
    # Pete cannot see Paula's subscription; Alex can, but never handles a purchaser's card.
    payload = await mutate(api, UPDATE_CARD, PETE, s=PAULAS_POWER_BI, pm=PETES_CARD)
    assert problems(payload) == [("NOT_FOUND", ["subscriptionId"])]
    payload = await mutate(api, UPDATE_CARD, ALEX, s=PAULAS_POWER_BI, pm=PETES_CARD)
    assert problems(payload) == [("NOT_AUTHORIZED", ["subscriptionId"])]


# -- payInvoice ---------------------------------------------------------------------------------


async def test_the_purchaser_pays_a_past_due_bill_and_is_charged_once(api: Api) -> None:
    invoice_id, amount = await unpaid_invoice(api, DANAS_PREMIUM_UUID)
    await reinstate(api, DANA)
    key = uuid.uuid4().hex
    paid = await pay(api, DANA, invoice_id, key)
    assert paid["userErrors"] == []
    assert paid["invoice"]["status"] == "PAID"
    assert paid["invoice"]["paidAt"] is not None
    assert paid["invoice"]["amount"] == {"amount": str(amount), "currency": "USD"}
    # The same request again (a retry) is answered the same and charges nothing more.
    assert await pay(api, DANA, invoice_id, key) == paid
    assert [(c.amount, c.currency) for c in api.processor.settled()] == [(amount, "USD")]


async def test_a_paid_bill_is_not_paid_twice(api: Api) -> None:
    invoice_id, _ = await unpaid_invoice(api, DANAS_PREMIUM_UUID)
    await reinstate(api, DANA)
    assert (await pay(api, DANA, invoice_id))["userErrors"] == []
    again = await pay(api, DANA, invoice_id)
    assert problems(again) == [("INVOICE_ALREADY_PAID", ["invoiceId"])]
    assert len(api.processor.settled()) == 1


async def test_no_one_else_pays_a_purchasers_bill(api: Api) -> None:
    invoice_id, _ = await unpaid_invoice(api, DANAS_PREMIUM_UUID)
    absent = await pay(api, PAULA, encode_id("Invoice", uuid.uuid4(), CONTOSO_ID))
    for someone in (PAULA, LEE, WILL):
        refused = await pay(api, someone, invoice_id)
        assert problems(refused) == [("NOT_FOUND", ["invoiceId"])]
        assert refused["userErrors"] == absent["userErrors"]  # hidden and absent look alike
    assert api.processor.charges == []
    data = await api.data(INVOICE, as_user=ALEX, variables={"i": invoice_id})
    assert data["node"]["status"] == "PAST_DUE"


async def test_an_admin_who_can_read_a_bill_is_not_authorized_to_pay_it(api: Api) -> None:
    """NOT_FOUND means "absent or hidden"; NOT_AUTHORIZED "you can see it but may not change it"."""
    invoice_id, _ = await unpaid_invoice(api, DANAS_PREMIUM_UUID)
    seen = await api.data(INVOICE, as_user=ALEX, variables={"i": invoice_id})
    assert seen["node"]["status"] == "PAST_DUE"
    refused = await pay(api, ALEX, invoice_id)
    assert problems(refused) == [("NOT_AUTHORIZED", ["invoiceId"])]
    assert api.processor.charges == []


async def test_a_bill_is_paid_only_with_a_card_of_the_payer(api: Api) -> None:
    invoice_id, _ = await unpaid_invoice(api, PAULAS_POWER_BI_UUID)
    refused = await pay(api, PAULA, invoice_id, card=PETES_CARD)
    assert problems(refused) == [("NOT_FOUND", ["paymentMethodId"])]
    assert api.processor.charges == []
    other = (await add_card(api, PAULA, GOOD_CARD | {"number": "4000056655665556"}))["paymentMethod"]
    paid = await pay(api, PAULA, invoice_id, card=other["id"])
    assert paid["userErrors"] == []
    token = await api.conn.fetchval(
        "SELECT processor_token FROM payment_methods WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        uuid.UUID(key_of(other["id"])),
    )
    assert [c.token for c in api.processor.settled()] == [token]


# -- dates: expired, disabled, deleted ----------------------------------------------------------


async def test_a_subscription_that_does_not_renew_expires_then_is_disabled_then_deleted(api: Api) -> None:
    bought = await purchase(api, quantity=2)
    subscription_id = bought["subscription"]["id"]
    await api.conn.execute(
        "UPDATE subscriptions SET auto_renew = false WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        uuid.UUID(key_of(subscription_id)),
    )
    end = await expires_at(api, subscription_id)
    day = datetime.timedelta(days=1)
    assert await status_at(api, subscription_id, end - datetime.timedelta(minutes=1)) == "ACTIVE"
    assert await status_at(api, subscription_id, end + day) == "EXPIRED"
    # Expired: everyone keeps access and licenses can still be handed out.
    assert (await assign(api, PAULA, subscription_id, [user(UNA)]))["userErrors"] == []
    assert await status_at(api, subscription_id, end + 29 * day) == "EXPIRED"
    assert await status_at(api, subscription_id, end + 30 * day) == "DISABLED"
    assert await status_at(api, subscription_id, end + 119 * day) == "DISABLED"
    assert await status_at(api, subscription_id, end + 120 * day) == "DELETED"


async def test_a_trial_without_a_card_expires_at_its_end(api: Api) -> None:
    started = await start_trial(api, UNA, VISIO_PLAN_1)
    trial_id = started["subscription"]["id"]
    end = await expires_at(api, trial_id)
    day = datetime.timedelta(days=1)
    assert await status_at(api, trial_id, end - datetime.timedelta(minutes=1)) == "TRIAL"
    assert await status_at(api, trial_id, end + datetime.timedelta(minutes=1)) == "EXPIRED"
    assert await status_at(api, trial_id, end + 31 * day) == "DISABLED"
    assert await status_at(api, trial_id, end + 121 * day) == "DELETED"
    assert api.processor.charges == []


async def test_a_subscription_the_dates_deleted_cannot_be_reactivated(api: Api) -> None:
    bought = await purchase(api, quantity=1)
    subscription_id = bought["subscription"]["id"]
    await api.conn.execute(
        "UPDATE subscriptions SET auto_renew = false WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        uuid.UUID(key_of(subscription_id)),
    )
    end = await expires_at(api, subscription_id)
    await travel_to(api, end + datetime.timedelta(days=121))
    reactivate = "mutation ($s: ID!) { reactivateSubscription(subscriptionId: $s) { userErrors { code field } } }"
    # Asked by the one who controls it, its purchaser: deleted is final all the same.
    data = await api.data(reactivate, as_user=PAULA, variables={"s": subscription_id})
    assert [(e["code"], e["field"]) for e in data["reactivateSubscription"]["userErrors"]] == [
        ("CANNOT_REACTIVATE", ["subscriptionId"])
    ]
