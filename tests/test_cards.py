"""Cards are checked at the door, wherever one enters (purchase, trial, addPaymentMethod): what
cannot be a card is INVALID_CARD and an expired one CARD_EXPIRED, judged on the app clock's date;
either way nothing is saved and nothing is charged."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from purchasegraph.schema.ids import decode_uuid, encode_id
from tests.conftest import Api
from tests.demo import CONTOSO_ID, PAULA, POWER_BI_PRO, VISIO_PLAN_1
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
