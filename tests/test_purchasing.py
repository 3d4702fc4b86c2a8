"""Buying self-service: eligibility, credit card only, charged once, nothing half-written."""

from __future__ import annotations

import logging

import pytest

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.demo.actors import PAULA, demo_tenant_id
from purchasegraph.demo.global_ids import GOOD_CARD
from tests.conftest import Api
from tests.mutations import purchase

DECLINED_CARD = {"number": "4000000000000002", "expMonth": 12, "expYear": 2030, "cvc": "123"}
FAILING_CARD = {"number": "4000000000000119", "expMonth": 12, "expYear": 2030, "cvc": "123"}


async def table_counts(api: Api) -> dict[str, int]:
    tables = [
        r["tablename"]
        for r in await api.conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    ]
    counts = {}
    for table in tables:
        # Table names come from the catalogue, not from a request.
        counts[table] = await api.conn.fetchval(f'SELECT count(*) FROM "{table}"')
    return counts


async def test_a_member_buys_with_a_card_and_is_billed(api: Api) -> None:
    payload = await purchase(api)
    assert payload["userErrors"] == []
    subscription = payload["subscription"]
    assert subscription["status"] == "ACTIVE"
    assert subscription["quantity"] == 3
    assert subscription["channel"] == "SELF_SERVICE"
    assert subscription["controlledBy"] == "PURCHASER"
    assert subscription["purchaser"] == {"userPrincipalName": PAULA}
    assert subscription["paymentMethod"] == {"brand": "visa", "last4": "4242"}
    # The self-service price of Contoso's market (US), at the time of purchase.
    price = await api.conn.fetchval(
        "SELECT unit_price FROM product_prices WHERE product_id = $1 AND market = 'US' AND channel = 'self_service'",
        POWER_BI_PRO,
    )
    assert subscription["unitPrice"] == {"amount": str(price), "currency": "USD"}
    total = {"amount": str(price * 3), "currency": "USD"}
    assert payload["order"] == {"kind": "PURCHASE", "quantityDelta": 3, "total": total}
    assert subscription["invoices"]["nodes"] == [{"status": "PAID", "amount": total}]
    assert [(c.amount, c.currency) for c in api.processor.settled()] == [(price * 3, "USD")]


async def test_the_card_number_and_cvc_never_reach_the_database(api: Api) -> None:
    card = GOOD_CARD | {"number": "5555555555554444", "cvc": "987"}
    payload = await purchase(api, card=card)
    assert payload["userErrors"] == []
    row = await api.conn.fetchrow(
        "SELECT row_to_json(pm)::jsonb AS card FROM payment_methods pm WHERE last4 = '4444' AND owner_user_id = $1",
        api.ids[PAULA].user_id,
    )
    stored = row["card"]
    # What is kept: brand, last four digits, expiry and the processor's token; no number, no CVC.
    assert set(stored) == {
        "tenant_id", "id", "owner_user_id", "kind", "brand", "last4", "exp_month", "exp_year",
        "processor_token", "created_at", "removed_at",
    }  # fmt: skip
    assert (stored["brand"], stored["last4"], stored["exp_month"], stored["exp_year"]) == (
        "mastercard",
        "4444",
        12,
        2030,
    )
    assert "5555555555554444" not in str(stored)
    assert not stored["processor_token"].endswith("987")


async def test_invoicing_is_refused(api: Api) -> None:
    payload = await purchase(api, payBy="INVOICE")
    assert [e["code"] for e in payload["userErrors"]] == ["PAYMENT_METHOD_NOT_SUPPORTED"]
    assert payload["subscription"] is None


async def test_a_declined_card_leaves_the_database_as_it_was(api: Api) -> None:
    before = await table_counts(api)
    payload = await purchase(api, card=DECLINED_CARD)
    assert [e["code"] for e in payload["userErrors"]] == ["CARD_DECLINED"]
    after = await table_counts(api)
    # Only the refusal's audit event was added: no subscription, order, card or invoice.
    assert after == before | {"audit_events": before["audit_events"] + 1}
    assert api.processor.settled() == []


async def test_a_processor_failure_mid_purchase_leaves_the_database_as_it_was(api: Api) -> None:
    before = await table_counts(api)
    payload = await purchase(api, card=FAILING_CARD)
    assert [e["code"] for e in payload["userErrors"]] == ["PAYMENT_PROCESSOR_UNAVAILABLE"]
    after = await table_counts(api)
    assert after == before | {"audit_events": before["audit_events"] + 1}


async def test_an_invalid_card_number_is_refused(api: Api) -> None:
    payload = await purchase(api, card=GOOD_CARD | {"number": "4242424242424241"})
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_CARD"]


async def test_quantities_outside_1_to_10000_are_refused(api: Api) -> None:
    for quantity in (0, -1, 10_001):
        payload = await purchase(api, quantity=quantity)
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_QUANTITY", ["quantity"])]


async def test_a_purchase_refused_by_policy_uses_the_eligibility_codes(api: Api) -> None:
    payload = await purchase(api, productId="CFQ7TTC0HDB0")  # Project Plan 3: disabled at Contoso
    assert [e["code"] for e in payload["userErrors"]] == ["POLICY_DISABLED"]
    assert "Contact your IT admin" in payload["userErrors"][0]["message"]
    trials_only = await purchase(api, productId="CFQ7TTC0HD33")  # Visio Plan 1: trials only
    assert [e["code"] for e in trials_only["userErrors"]] == ["TRIALS_ONLY"]


async def test_guest_cannot_buy_in_host_tenant(api: Api) -> None:
    payload = await purchase(api, as_user="gus_fabrikam.example#EXT#@contoso.example")
    assert [e["code"] for e in payload["userErrors"]] == ["GUEST_USER"]


async def test_a_synced_user_with_an_active_account_can_buy(api: Api) -> None:
    payload = await purchase(api, as_user="sam.synced@contoso.example")
    assert payload["userErrors"] == []


async def test_a_partner_cannot_buy_self_service_for_a_customer(api: Api) -> None:
    payload = await purchase(api, as_user="pat.partner@adatum-partners.example")
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]


async def test_every_refusal_and_acceptance_is_audited(api: Api) -> None:
    await purchase(api, quantity=0)
    await purchase(api)
    rows = await api.conn.fetch(
        "SELECT action, outcome, error_codes FROM audit_events"
        " WHERE tenant_id = $1 AND action = 'subscription.purchase' ORDER BY id DESC LIMIT 2",
        demo_tenant_id("contoso.example"),
    )
    assert [(r["outcome"], list(r["error_codes"])) for r in rows] == [
        ("accepted", []),
        ("refused", ["INVALID_QUANTITY"]),
    ]


async def test_the_card_number_never_reaches_the_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await purchase(api, card=GOOD_CARD | {"number": "4000000000000119", "cvc": "777"})
    # A malformed request carrying a card inline is logged without its source text.
    await api.execute(
        'mutation { addPaymentMethod(card: {number: "4000000000000119", expMonth: 1, expYear: 2030, cvc: "777"}) '
        "{ nope } }",
        as_user=PAULA,
    )
    assert caplog.records, "the malformed request is logged"
    assert "4000000000000119" not in caplog.text
    assert "777" not in caplog.text
