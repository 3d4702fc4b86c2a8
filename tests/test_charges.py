"""What a change to a subscription costs, and who pays it: licenses added mid-term are paid to the
end of the billing period; reactivation and renewal are billed by whoever controls the subscription
(its purchaser's card, or the central price with no card once admins took it over); a departed
purchaser's subscription runs out instead of renewing on their card.

Every amount is exact: the clock is moved to fixed instants, and charges are told apart by the card
token of the subscription under test (a sweep renews other seeded subscriptions too)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import ALEX, CONTOSO_ID, PAULA, PETE, demo_id
from purchasegraph.demo.global_ids import DANAS_PREMIUM_UUID, PETES_PROJECT_EXPIRED
from purchasegraph.schema import schema
from purchasegraph.schema.ids import decode_uuid
from tests.conftest import Api
from tests.mutations import PURCHASE, add, card_token_of, mutate, problems, purchase, purchase_input, remove, travel_to

UTC = datetime.UTC
TAKE_CONTROL = "mutation ($s: ID!) { takeControlOfSubscription(subscriptionId: $s) { userErrors { code } } }"
REACTIVATE = """
mutation ($s: ID!) {
  reactivateSubscription(subscriptionId: $s) {
    subscription { status }
    order { kind quantityDelta unitPrice { amount currency } total { amount currency } }
    userErrors { code field message }
  }
}
"""
PETES_PROJECT_UUID = demo_id("subscription:pete-project-plan-3-expired")
DANAS_TAKEN_OVER_UUID = demo_id("subscription:dana-power-apps-taken-over")


def at(day: str) -> datetime.datetime:
    """Noon UTC of a day: far from midnight, so the day is the same in any session time zone."""
    return datetime.datetime.fromisoformat(f"{day}T12:00:00+00:00")


def charged(api: Api, token: str) -> list[tuple[Decimal, str]]:
    return [(c.amount, c.currency) for c in api.processor.settled() if c.token == token]


async def row_of(api: Api, subscription_id: uuid.UUID) -> Any:
    return await api.conn.fetchrow(
        "SELECT effective_status(s) AS status, s.expires_at, s.unit_price, s.currency FROM subscriptions s"
        " WHERE s.tenant_id = $1 AND s.id = $2",
        CONTOSO_ID,
        subscription_id,
    )


async def orders_of(api: Api, subscription_id: uuid.UUID, kind: str) -> list[tuple[Any, ...]]:
    rows = await api.conn.fetch(
        "SELECT quantity_delta, unit_price, total, currency FROM orders"
        " WHERE tenant_id = $1 AND subscription_id = $2 AND kind = $3",
        CONTOSO_ID,
        subscription_id,
        kind,
    )
    return sorted(tuple(r) for r in rows)


async def invoices_of(api: Api, subscription_id: uuid.UUID) -> set[tuple[Any, ...]]:
    rows = await api.conn.fetch(
        "SELECT period_start, period_end, amount, currency, status, billed_user_id FROM invoices"
        " WHERE tenant_id = $1 AND subscription_id = $2",
        CONTOSO_ID,
        subscription_id,
    )
    return {tuple(r) for r in rows}


def paid_by_paula(api: Api, first_day: str, last_day: str, amount: str) -> tuple[Any, ...]:
    """The row ``invoices_of`` holds for a bill Paula paid in USD for the days ``first_day`` to ``last_day``."""
    return (
        datetime.date.fromisoformat(first_day),
        datetime.date.fromisoformat(last_day),
        Decimal(amount),
        "USD",
        "paid",
        api.ids[PAULA].user_id,
    )


async def bought_on(api: Api, day: str, frequency: str) -> tuple[str, uuid.UUID, str]:
    """Paula buys one Power BI Pro license (10.00 USD a month) at noon on ``day``."""
    await travel_to(api, at(day))
    bought = await purchase(api, quantity=1, billingFrequency=frequency)
    assert bought["userErrors"] == []
    gid = bought["subscription"]["id"]
    subscription_id = decode_uuid(gid, "Subscription")
    assert subscription_id is not None
    return gid, subscription_id, await card_token_of(api, subscription_id)


# -- licenses added mid-term --------------------------------------------------------------------


async def test_licenses_added_to_an_annual_subscription_are_charged_to_its_term_end(api: Api) -> None:
    gid, subscription_id, token = await bought_on(api, "2027-03-01", "ANNUAL")  # runs to 2028-03-01: 366 days
    assert charged(api, token) == [(Decimal("120.00"), "USD")]

    # On the day it was bought: 100 licenses for the whole year, 100 x 10.00 x 12.
    assert (await add(api, PAULA, gid, 100))["userErrors"] == []
    # Half-way: 182 of its 366 days are left, 100 x 10.00 x 12 x 182 / 366 = 5967.21.
    await travel_to(api, at("2027-09-01"))
    later = await add(api, PAULA, gid, 100)
    assert later["userErrors"] == []
    assert later["order"]["total"] == {"amount": "5967.21", "currency": "USD"}

    assert charged(api, token) == [
        (Decimal("120.00"), "USD"),
        (Decimal("12000.00"), "USD"),
        (Decimal("5967.21"), "USD"),
    ]
    assert await orders_of(api, subscription_id, "add_licenses") == [
        (100, Decimal("10.00"), Decimal("5967.21"), "USD"),
        (100, Decimal("10.00"), Decimal("12000.00"), "USD"),
    ]
    # Each invoice covers the days paid: from the day licenses were added to the term's last day.
    paula = api.ids[PAULA].user_id
    last_day = datetime.date(2028, 2, 29)
    assert {
        (datetime.date(2027, 3, 1), last_day, Decimal("12000.00"), "USD", "paid", paula),
        (datetime.date(2027, 9, 1), last_day, Decimal("5967.21"), "USD", "paid", paula),
    } <= await invoices_of(api, subscription_id)


async def test_licenses_added_to_a_monthly_subscription_are_charged_to_its_billing_period_end(api: Api) -> None:
    gid, subscription_id, token = await bought_on(api, "2027-03-01", "MONTHLY")  # runs to 2027-04-01
    await travel_to(api, at("2027-03-17"))
    # 15 of March's 31 days are left: 10 x 10.00 x 15 / 31 = 48.39.
    payload = await add(api, PAULA, gid, 10)
    assert payload["userErrors"] == []
    assert charged(api, token) == [(Decimal("10.00"), "USD"), (Decimal("48.39"), "USD")]
    assert await orders_of(api, subscription_id, "add_licenses") == [(10, Decimal("10.00"), Decimal("48.39"), "USD")]
    assert paid_by_paula(api, "2027-03-17", "2027-03-31", "48.39") in await invoices_of(api, subscription_id)


async def test_a_monthly_subscription_whose_end_date_is_months_away_charges_to_this_months_period_end(
    api: Api,
) -> None:
    """Billed monthly on a longer commitment (as the demo world's are): the period is the month
    running now, counted back from the end date in whole months, not the months up to it."""
    gid, subscription_id, token = await bought_on(api, "2027-03-01", "MONTHLY")
    await api.conn.execute(
        "UPDATE subscriptions SET expires_at = $3 WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        subscription_id,
        at("2028-03-01"),
    )
    await travel_to(api, at("2027-06-17"))
    # The period from 1 June to 1 July (30 days), 14 of them left: 10 x 10.00 x 14 / 30 = 46.67.
    assert (await add(api, PAULA, gid, 10))["userErrors"] == []
    assert charged(api, token) == [(Decimal("10.00"), "USD"), (Decimal("46.67"), "USD")]
    assert paid_by_paula(api, "2027-06-17", "2027-06-30", "46.67") in await invoices_of(api, subscription_id)


async def test_licenses_added_on_the_first_day_of_a_year_from_29_february_cost_the_whole_year(api: Api) -> None:
    """A year from 29 February 2028 ends on 28 February 2029: 365 days, all of them left on its
    first day (not 365 of the 366 days from 28 February)."""
    gid, subscription_id, token = await bought_on(api, "2028-02-29", "ANNUAL")
    assert (await row_of(api, subscription_id))["expires_at"] == at("2029-02-28")
    payload = await add(api, PAULA, gid, 100)
    assert payload["userErrors"] == []
    assert payload["order"]["total"] == {"amount": "12000.00", "currency": "USD"}
    assert charged(api, token) == [(Decimal("120.00"), "USD"), (Decimal("12000.00"), "USD")]


async def test_a_billing_period_starts_where_the_previous_one_ended_not_one_period_before_its_end(api: Api) -> None:
    """Bought on 31 January, the first month ends on 28 February: 28 days, not the 31 from
    28 January. Counted back from an end date months away, the period ending 29 February 2028
    starts on 31 January (29 days), not on 29 January."""
    gid, subscription_id, token = await bought_on(api, "2027-01-31", "MONTHLY")
    assert (await row_of(api, subscription_id))["expires_at"] == at("2027-02-28")
    await travel_to(api, at("2027-02-14"))
    # 14 of the period's 28 days are left: 28 x 10.00 x 14 / 28 = 140.00.
    assert (await add(api, PAULA, gid, 28))["order"]["total"] == {"amount": "140.00", "currency": "USD"}

    await api.conn.execute(
        "UPDATE subscriptions SET term_start = $3, expires_at = $4 WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        subscription_id,
        at("2027-03-31"),
        at("2028-03-31"),
    )
    await travel_to(api, at("2028-02-15"))
    # The period from 31 January to 29 February 2028 (29 days), 14 left: 29 x 10.00 x 14 / 29 = 140.00.
    assert (await add(api, PAULA, gid, 29))["order"]["total"] == {"amount": "140.00", "currency": "USD"}
    assert charged(api, token) == [(Decimal("10.00"), "USD"), (Decimal("140.00"), "USD"), (Decimal("140.00"), "USD")]
    assert paid_by_paula(api, "2028-02-15", "2028-02-28", "140.00") in await invoices_of(api, subscription_id)


async def test_licenses_added_after_the_term_ended_are_paid_by_its_renewal_not_twice(api: Api) -> None:
    """Between its end date and the sweep that renews it, nothing of the old term is left to pay:
    the renewal bills the new quantity from the end date on, so no day is charged twice."""
    gid, subscription_id, token = await bought_on(api, "2027-03-01", "MONTHLY")  # runs to 2027-04-01
    await travel_to(api, at("2027-04-05"))
    assert (await row_of(api, subscription_id))["status"] == "active"  # its renewal is due
    invoices = await invoices_of(api, subscription_id)
    payload = await add(api, PAULA, gid, 10)
    assert payload["userErrors"] == []
    assert payload["order"]["total"] == {"amount": "0.00", "currency": "USD"}
    assert charged(api, token) == [(Decimal("10.00"), "USD")]
    assert await invoices_of(api, subscription_id) == invoices  # no bill without a charge
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert subscription_id in report.renewed
    # The renewal, from 1 April, pays the 11 licenses: 11 x 10.00.
    assert charged(api, token) == [(Decimal("10.00"), "USD"), (Decimal("110.00"), "USD")]


async def test_licenses_added_on_a_terms_last_day_pay_that_one_day(api: Api) -> None:
    gid, _, token = await bought_on(api, "2027-03-01", "MONTHLY")  # ends 2027-04-01 at noon
    await travel_to(api, datetime.datetime.fromisoformat("2027-04-01T08:00:00+00:00"))
    # 1 of March's 31 days: 31 x 10.00 x 1 / 31 = 10.00.
    assert (await add(api, PAULA, gid, 31))["order"]["total"] == {"amount": "10.00", "currency": "USD"}
    assert charged(api, token) == [(Decimal("10.00"), "USD"), (Decimal("10.00"), "USD")]


async def test_the_days_paid_are_utc_days_whatever_the_sessions_time_zone(api: Api) -> None:
    await api.conn.execute("SET LOCAL TIME ZONE 'Pacific/Kiritimati'")  # UTC+14: already the next day
    gid, subscription_id, _ = await bought_on(api, "2027-03-01", "MONTHLY")
    await travel_to(api, datetime.datetime.fromisoformat("2027-03-17T11:00:00+00:00"))
    # 15 of March's 31 days are left in UTC: 10 x 10.00 x 15 / 31 = 48.39, billed 17 to 31 March.
    assert (await add(api, PAULA, gid, 10))["order"]["total"] == {"amount": "48.39", "currency": "USD"}
    assert paid_by_paula(api, "2027-03-17", "2027-03-31", "48.39") in await invoices_of(api, subscription_id)


async def test_licenses_admins_add_after_a_take_over_cost_the_central_price_to_the_term_end(api: Api) -> None:
    gid, subscription_id, token = await bought_on(api, "2027-03-01", "ANNUAL")
    assert (await mutate(api, TAKE_CONTROL, ALEX, s=gid))["userErrors"] == []
    invoices = await invoices_of(api, subscription_id)
    await travel_to(api, at("2027-09-01"))
    payload = await add(api, ALEX, gid, 100)
    assert payload["userErrors"] == []
    # The central price, 9.99: 100 x 9.99 x 12 x 182 / 366 = 5961.25; billed centrally, no card charged.
    assert await orders_of(api, subscription_id, "add_licenses") == [(100, Decimal("9.99"), Decimal("5961.25"), "USD")]
    assert charged(api, token) == [(Decimal("120.00"), "USD")]
    assert await invoices_of(api, subscription_id) == invoices


async def test_removing_licenses_refunds_nothing(api: Api) -> None:
    gid, subscription_id, token = await bought_on(api, "2027-03-01", "ANNUAL")
    assert (await add(api, PAULA, gid, 4))["userErrors"] == []
    await travel_to(api, at("2027-09-01"))
    assert (await remove(api, PAULA, gid, 4))["userErrors"] == []
    assert await orders_of(api, subscription_id, "remove_licenses") == [(-4, Decimal("10.00"), Decimal("0.00"), "USD")]
    assert charged(api, token) == [(Decimal("120.00"), "USD"), (Decimal("480.00"), "USD")]
    assert api.processor.voided == []


# -- reactivation, billed like a renewal --------------------------------------------------------


async def test_a_purchaser_reactivating_their_subscription_pays_a_new_term_with_its_card(api: Api) -> None:
    token = await card_token_of(api, PETES_PROJECT_UUID)
    invoices = await invoices_of(api, PETES_PROJECT_UUID)
    payload = await mutate(api, REACTIVATE, PETE, s=PETES_PROJECT_EXPIRED)
    assert payload["userErrors"] == []
    assert payload["subscription"]["status"] == "ACTIVE"
    # A month of Project Plan 3 at today's self-service price, 2 licenses x 30.00.
    assert payload["order"] == {
        "kind": "REACTIVATE",
        "quantityDelta": 0,
        "unitPrice": {"amount": "30.00", "currency": "USD"},
        "total": {"amount": "60.00", "currency": "USD"},
    }
    assert charged(api, token) == [(Decimal("60.00"), "USD")]
    new_invoices = await invoices_of(api, PETES_PROJECT_UUID) - invoices
    pete = api.ids[PETE].user_id
    assert [(i[2], i[3], i[4], i[5]) for i in new_invoices] == [(Decimal("60.00"), "USD", "paid", pete)]


async def test_admins_cannot_reactivate_a_subscription_they_have_not_taken_over(api: Api) -> None:
    before = await row_of(api, PETES_PROJECT_UUID)
    invoices = await invoices_of(api, PETES_PROJECT_UUID)
    payload = await mutate(api, REACTIVATE, ALEX, s=PETES_PROJECT_EXPIRED)
    assert problems(payload) == [("NOT_IN_CONTROL", ["subscriptionId"])]
    assert await row_of(api, PETES_PROJECT_UUID) == before
    assert await orders_of(api, PETES_PROJECT_UUID, "reactivate") == []
    assert await invoices_of(api, PETES_PROJECT_UUID) == invoices
    assert api.processor.charges == []


async def test_admins_who_took_control_reactivate_at_the_central_price_without_a_card_charge(api: Api) -> None:
    assert (await mutate(api, TAKE_CONTROL, ALEX, s=PETES_PROJECT_EXPIRED))["userErrors"] == []
    invoices = await invoices_of(api, PETES_PROJECT_UUID)
    payload = await mutate(api, REACTIVATE, ALEX, s=PETES_PROJECT_EXPIRED)
    assert payload["userErrors"] == []
    assert payload["subscription"]["status"] == "ACTIVE"
    # The central price of Project Plan 3, 28.50, for 2 licenses: an order, no card, no invoice.
    assert payload["order"]["total"] == {"amount": "57.00", "currency": "USD"}
    assert await orders_of(api, PETES_PROJECT_UUID, "reactivate") == [(0, Decimal("28.50"), Decimal("57.00"), "USD")]
    assert api.processor.charges == []
    assert await invoices_of(api, PETES_PROJECT_UUID) == invoices


async def test_a_declined_card_reactivates_nothing(api: Api) -> None:
    api.processor.decline_token(await card_token_of(api, PETES_PROJECT_UUID))
    before = await row_of(api, PETES_PROJECT_UUID)
    invoices = await invoices_of(api, PETES_PROJECT_UUID)
    payload = await mutate(api, REACTIVATE, PETE, s=PETES_PROJECT_EXPIRED)
    assert [e["code"] for e in payload["userErrors"]] == ["CARD_DECLINED"]
    assert payload["subscription"] is None
    assert await row_of(api, PETES_PROJECT_UUID) == before
    assert before["status"] == "expired"
    assert await orders_of(api, PETES_PROJECT_UUID, "reactivate") == []
    assert await invoices_of(api, PETES_PROJECT_UUID) == invoices
    assert api.processor.settled() == []


# -- renewals after the purchaser left ----------------------------------------------------------


async def test_a_departed_purchasers_subscription_expires_at_its_term_end_without_a_charge(api: Api) -> None:
    # Dana left; she still governs her Power BI Premium (nobody took it over) and her card is on it.
    token = await card_token_of(api, DANAS_PREMIUM_UUID)
    end = (await row_of(api, DANAS_PREMIUM_UUID))["expires_at"]
    await travel_to(api, end + datetime.timedelta(hours=1))
    assert (await row_of(api, DANAS_PREMIUM_UUID))["status"] == "expired"  # no renewal pending either
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert DANAS_PREMIUM_UUID not in report.renewed
    assert DANAS_PREMIUM_UUID not in report.failed
    await travel_to(api, end + datetime.timedelta(days=29))  # the last day a renewal would be tried
    again = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert DANAS_PREMIUM_UUID not in again.renewed + again.failed
    assert charged(api, token) == []
    assert await orders_of(api, DANAS_PREMIUM_UUID, "renew") == []
    after = await row_of(api, DANAS_PREMIUM_UUID)
    assert (after["status"], after["expires_at"]) == ("expired", end)


async def test_a_subscription_admins_took_over_renews_centrally_without_a_card_charge(api: Api) -> None:
    # Dana's Power Apps, taken over by Alex; Dana's card is still the subscription's.
    token = await card_token_of(api, DANAS_TAKEN_OVER_UUID)
    invoices = await invoices_of(api, DANAS_TAKEN_OVER_UUID)
    end = (await row_of(api, DANAS_TAKEN_OVER_UUID))["expires_at"]
    await travel_to(api, end + datetime.timedelta(hours=1))
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert DANAS_TAKEN_OVER_UUID in report.renewed
    # Swept again (a second gateway, the next minute): renewed once, all the same.
    again = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert DANAS_TAKEN_OVER_UUID not in again.renewed + again.failed
    assert charged(api, token) == []
    # A month of 3 licenses at the central price of Power Apps (19.00), recorded as an order only.
    assert await orders_of(api, DANAS_TAKEN_OVER_UUID, "renew") == [(0, Decimal("19.00"), Decimal("57.00"), "USD")]
    assert await invoices_of(api, DANAS_TAKEN_OVER_UUID) == invoices
    after = await row_of(api, DANAS_TAKEN_OVER_UUID)
    assert (after["status"], after["unit_price"]) == ("active", Decimal("19.00"))
    assert after["expires_at"] > end


async def test_a_renewal_swept_late_bills_the_days_of_its_new_term(api: Api) -> None:
    """The new term runs from the old end date, not from the sweep that renewed it five days later:
    its invoice says so."""
    _, subscription_id, token = await bought_on(api, "2027-03-01", "MONTHLY")  # runs to 2027-04-01
    invoices = await invoices_of(api, subscription_id)
    await travel_to(api, at("2027-04-06"))
    assert subscription_id in (await sweep(ConnectionExecutor(api.conn), api.processor)).renewed
    paula = api.ids[PAULA].user_id
    assert await invoices_of(api, subscription_id) - invoices == {
        (datetime.date(2027, 4, 1), datetime.date(2027, 4, 30), Decimal("10.00"), "USD", "paid", paula)
    }
    assert (await row_of(api, subscription_id))["expires_at"] == at("2027-05-01")
    assert charged(api, token) == [(Decimal("10.00"), "USD"), (Decimal("10.00"), "USD")]


async def test_a_renewal_on_a_card_that_has_since_expired_fails_like_a_decline(api: Api) -> None:
    paulas_power_bi = demo_id("subscription:paula-power-bi-pro")
    token = await card_token_of(api, paulas_power_bi)
    end = (await row_of(api, paulas_power_bi))["expires_at"]
    # Her card's last month is the month before the renewal.
    last_month = (end.replace(day=1) - datetime.timedelta(days=1)).date()
    await api.conn.execute(
        "UPDATE payment_methods SET exp_year = $3, exp_month = $4"
        " WHERE tenant_id = $1 AND id = (SELECT payment_method_id FROM subscriptions WHERE tenant_id = $1 AND id = $2)",
        CONTOSO_ID,
        paulas_power_bi,
        last_month.year,
        last_month.month,
    )
    await travel_to(api, end + datetime.timedelta(hours=1))
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert paulas_power_bi in report.failed
    assert charged(api, token) == []
    assert await orders_of(api, paulas_power_bi, "renew") == []
    codes = await api.conn.fetchval(
        "SELECT error_codes FROM audit_events"
        " WHERE tenant_id = $1 AND target_id = $2 AND action = 'subscription.renew'",
        CONTOSO_ID,
        str(paulas_power_bi),
    )
    assert codes == ["CARD_EXPIRED"]
    # Auto-renew is off: the dates take their course.
    assert (await row_of(api, paulas_power_bi))["status"] == "expired"


async def test_a_saved_card_that_has_since_expired_does_not_pay(api: Api) -> None:
    # Bought with a card good through December 2030; in January it has expired.
    gid, subscription_id, token = await bought_on(api, "2030-12-01", "ANNUAL")
    await travel_to(api, at("2031-01-02"))
    payload = await add(api, PAULA, gid, 1)
    assert problems(payload) == [("CARD_EXPIRED", ["subscriptionId"])]
    assert charged(api, token) == [(Decimal("120.00"), "USD")]
    assert await orders_of(api, subscription_id, "add_licenses") == []


# -- charges whose writes do not commit ---------------------------------------------------------


class CommitRefused(ConnectionExecutor):
    """Transactions whose commit the database refuses, after everything in them succeeded."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with super().transaction() as conn:
            yield conn
            raise asyncpg.SerializationError("could not serialize access due to concurrent update")


async def test_a_purchase_whose_commit_fails_leaves_no_charge(api: Api) -> None:
    async with api.as_gateway(api.claims_of(PAULA)) as context:
        context.db = CommitRefused(api.conn)
        result = await schema.execute(PURCHASE, variable_values={"input": purchase_input()}, context_value=context)
    assert result.errors is not None
    assert len(api.processor.charges) == 1
    assert api.processor.settled() == []


async def test_a_renewal_whose_commit_fails_leaves_no_charge(api: Api) -> None:
    # Paula's Power BI Pro renews on her card; the sweep stops at the first commit that fails.
    end = (await row_of(api, demo_id("subscription:paula-power-bi-pro")))["expires_at"]
    await travel_to(api, end + datetime.timedelta(hours=1))
    with pytest.raises(asyncpg.SerializationError):
        await sweep(CommitRefused(api.conn), api.processor)
    assert len(api.processor.charges) == 1  # charged, then voided
    assert api.processor.settled() == []
