"""Cards are checked at the door, wherever one enters (purchase, trial, addPaymentMethod): what
cannot be a card is INVALID_CARD and an expired one CARD_EXPIRED, judged on the app clock's date;
either way nothing is saved and nothing is charged."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from purchasegraph.catalogue import POWER_BI_PRO, VISIO_PLAN_1
from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import CONTOSO_ID, PAULA
from purchasegraph.schema.ids import decode_uuid, encode_id
from tests.conftest import Api
from tests.mutations import mutate, problems, purchase, travel_to

ADD_CARD = """
mutation ($card: CardInput!) {
  addPaymentMethod(card: $card) { paymentMethod { brand last4 expMonth expYear } userErrors { code field message } }
}
"""
START_TRIAL = """
mutation ($product: ID!, $card: CardInput) {
  startTrial(productId: $product, card: $card) { subscription { id } userErrors { code field message } }
}
"""
GOOD_NUMBER = "4242424242424242"


def card(number: str = GOOD_NUMBER, month: int = 12, year: int = 2030, cvc: str = "123") -> dict[str, Any]:
    return {"number": number, "expMonth": month, "expYear": year, "cvc": cvc}


def at(day: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T12:00:00+00:00")


async def cards_of(api: Api, upn: str) -> list[tuple[Any, ...]]:
    rows = await api.conn.fetch(
        "SELECT last4, exp_month, exp_year FROM payment_methods WHERE tenant_id = $1 AND owner_user_id = $2",
        CONTOSO_ID,
        api.ids[upn].user_id,
    )
    return sorted(tuple(r) for r in rows)


async def subscriptions_of(api: Api, upn: str) -> int:
    count: int = await api.conn.fetchval(
        "SELECT count(*) FROM subscriptions WHERE tenant_id = $1 AND purchaser_user_id = $2",
        CONTOSO_ID,
        api.ids[upn].user_id,
    )
    return count


async def every_door(api: Api, details: dict[str, Any]) -> list[list[tuple[str, list[str] | None]]]:
    """The card offered at each mutation that takes one: what each refused with."""
    added = await mutate(api, ADD_CARD, PAULA, card=details)
    bought = await purchase(api, card=details)
    # Paula never had a Power BI Pro trial; it needs a card.
    trial = await mutate(api, START_TRIAL, PAULA, product=POWER_BI_PRO, card=details)
    return [problems(added), problems(bought), problems(trial)]


async def test_an_expired_card_is_refused_wherever_a_card_enters(api: Api) -> None:
    await travel_to(api, at("2027-05-10"))
    cards, owned = await cards_of(api, PAULA), await subscriptions_of(api, PAULA)
    assert await every_door(api, card(month=4, year=2027)) == [[("CARD_EXPIRED", ["card"])]] * 3
    assert await every_door(api, card(month=1, year=2020)) == [[("CARD_EXPIRED", ["card"])]] * 3
    assert await cards_of(api, PAULA) == cards
    assert await subscriptions_of(api, PAULA) == owned
    assert api.processor.charges == []


def written_with(zero: int, digits: str) -> str:
    """``digits`` in another script's digits, given the code point of its zero."""
    return "".join(chr(zero + int(d)) if d.isdigit() else d for d in digits)


ARABIC_INDIC_ZERO, FULL_WIDTH_ZERO = 0x0660, 0xFF10


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(written_with(ARABIC_INDIC_ZERO, GOOD_NUMBER), id="arabic-indic"),
        pytest.param(written_with(FULL_WIDTH_ZERO, GOOD_NUMBER), id="full-width"),
        pytest.param("4242 4242 4242 " + written_with(ARABIC_INDIC_ZERO, "4242"), id="arabic-indic-last-four"),
        pytest.param(GOOD_NUMBER[:-1] + "\N{SUPERSCRIPT TWO}", id="superscript"),
    ],
)
async def test_a_card_number_with_digits_other_than_0_to_9_is_an_invalid_card(api: Api, number: str) -> None:
    cards = await cards_of(api, PAULA)
    assert await every_door(api, card(number=number)) == [[("INVALID_CARD", ["card"])]] * 3
    assert await cards_of(api, PAULA) == cards
    assert api.processor.charges == []


async def test_a_security_code_with_digits_other_than_0_to_9_is_an_invalid_card(api: Api) -> None:
    assert await every_door(api, card(cvc=written_with(FULL_WIDTH_ZERO, "123"))) == [[("INVALID_CARD", ["card"])]] * 3


async def test_a_card_is_good_through_the_last_day_of_its_expiry_month_on_the_app_clock(api: Api) -> None:
    """The app's date decides, not the machine's: a card of 2019 is good in the app's 2019."""
    await travel_to(api, at("2019-12-31"))
    accepted = await mutate(api, ADD_CARD, PAULA, card=card(month=12, year=2019))
    assert accepted["userErrors"] == []
    assert accepted["paymentMethod"] == {"brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2019}
    await travel_to(api, at("2020-01-01"))
    refused = await mutate(api, ADD_CARD, PAULA, card=card(month=12, year=2019))
    assert problems(refused) == [("CARD_EXPIRED", ["card"])]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles"])
async def test_a_card_is_good_until_the_last_minute_of_its_expiry_month_in_utc_in_any_session_zone(
    api: Api, zone: str
) -> None:
    """February 2028 ends on the 29th at 23:59:59 UTC; a session east of UTC (already 1 March
    there) must not refuse the card early, nor one west of it (still 29 February) take it late."""
    await api.conn.execute(f"SET LOCAL TIME ZONE '{zone}'")
    await travel_to(api, datetime.datetime(2028, 2, 29, 23, 59, tzinfo=datetime.UTC))
    assert (await mutate(api, ADD_CARD, PAULA, card=card(month=2, year=2028)))["userErrors"] == []
    await travel_to(api, datetime.datetime(2028, 3, 1, 0, 1, tzinfo=datetime.UTC))
    refused = await mutate(api, ADD_CARD, PAULA, card=card(month=2, year=2028))
    assert problems(refused) == [("CARD_EXPIRED", ["card"])]


@pytest.mark.parametrize(
    ("month", "year"),
    [(0, 2030), (13, 2030), (-1, 2030), (12, 30), (12, -2030), (12, 2_147_483_647)],
)
async def test_an_expiry_that_cannot_be_a_date_is_an_invalid_card(api: Api, month: int, year: int) -> None:
    cards = await cards_of(api, PAULA)
    assert await every_door(api, card(month=month, year=year)) == [[("INVALID_CARD", ["card"])]] * 3
    assert await cards_of(api, PAULA) == cards
    assert api.processor.charges == []


async def test_an_expiry_sent_as_a_whole_float_is_read_as_the_integer(api: Api) -> None:
    """JSON has one number type: 12.0 is the month 12 (12.5 is no Int and fails validation)."""
    details = {"number": GOOD_NUMBER, "expMonth": 12.0, "expYear": 2030.0, "cvc": "123"}
    saved = await mutate(api, ADD_CARD, PAULA, card=details)
    assert saved == {
        "paymentMethod": {"brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2030},
        "userErrors": [],
    }
    halves = await api.execute(ADD_CARD, as_user=PAULA, variables={"card": details | {"expMonth": 12.5}})
    assert halves.data is None
    assert halves.errors is not None


async def test_a_trial_without_a_card_needs_no_card_check(api: Api) -> None:
    # Visio Plan 1's trial takes no card at all: nothing to check, nothing refused.
    trial = await mutate(api, START_TRIAL, PAULA, product=VISIO_PLAN_1, card=None)
    assert trial["userErrors"] == []


UPDATE_CARD = """
mutation ($s: ID!, $pm: ID!) {
  updateSubscriptionPaymentMethod(subscriptionId: $s, paymentMethodId: $pm) { userErrors { code field } }
}
"""
PAY = """
mutation ($i: ID!, $pm: ID) {
  payInvoice(invoiceId: $i, idempotencyKey: "pay-2028-05", paymentMethodId: $pm) { userErrors { code field } }
}
"""


async def test_a_card_cannot_turn_a_trial_into_a_purchase_where_the_policy_allows_trials_only(api: Api) -> None:
    """Contoso allows Visio Plan 1 as a trial without a payment method only. A trial with a card
    converts to a paid subscription at its end, so a card given to it afterwards is a purchase
    the policy refuses; without one it simply runs out."""
    started = await mutate(api, START_TRIAL, PAULA, product=VISIO_PLAN_1, card=None)
    trial = started["subscription"]["id"]
    saved = await mutate(api, ADD_CARD.replace("paymentMethod {", "paymentMethod { id"), PAULA, card=card())
    refused = await mutate(api, UPDATE_CARD, PAULA, s=trial, pm=saved["paymentMethod"]["id"])
    assert problems(refused) == [("TRIALS_ONLY", ["paymentMethodId"])]

    trial_id = decode_uuid(trial, "Subscription")
    row = await api.conn.fetchrow(
        "SELECT payment_method_id, expires_at FROM subscriptions WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        trial_id,
    )
    assert row["payment_method_id"] is None
    await travel_to(api, row["expires_at"] + datetime.timedelta(hours=1))
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert trial_id not in report.renewed
    assert await orders_of_kind(api, trial_id, "renew") == 0


async def orders_of_kind(api: Api, subscription_id: uuid.UUID | None, kind: str) -> int:
    count: int = await api.conn.fetchval(
        "SELECT count(*) FROM orders WHERE tenant_id = $1 AND subscription_id = $2 AND kind = $3",
        CONTOSO_ID,
        subscription_id,
        kind,
    )
    return count


async def test_a_saved_card_that_has_expired_neither_pays_nor_becomes_a_subscriptions_card(api: Api) -> None:
    await travel_to(api, at("2027-05-10"))
    bought = await purchase(api, quantity=1, billingFrequency="ANNUAL")
    subscription_id = bought["subscription"]["id"]
    saved = await mutate(
        api, ADD_CARD.replace("paymentMethod {", "paymentMethod { id"), PAULA, card=card(month=4, year=2028)
    )
    card_id = saved["paymentMethod"]["id"]
    # The purchase's bill, left open to be paid later.
    invoice_id = await api.conn.fetchval(
        "UPDATE invoices SET status = 'open', paid_at = NULL WHERE tenant_id = $1 AND subscription_id = $2"
        " RETURNING id",
        CONTOSO_ID,
        decode_uuid(subscription_id, "Subscription"),
    )
    await travel_to(api, at("2028-05-02"))  # the day after the card's last month
    assert problems(await mutate(api, UPDATE_CARD, PAULA, s=subscription_id, pm=card_id)) == [
        ("CARD_EXPIRED", ["paymentMethodId"])
    ]
    invoice = encode_id("Invoice", invoice_id, CONTOSO_ID)
    assert problems(await mutate(api, PAY, PAULA, i=invoice, pm=card_id)) == [("CARD_EXPIRED", ["paymentMethodId"])]
    assert len(api.processor.charges) == 1  # the purchase, a year ago
