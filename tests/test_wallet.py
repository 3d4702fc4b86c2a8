"""The purchaser's wallet: removing a card, auto-renew, a quote before checkout, a trial's order,
who assigned a license, and a demo seed that writes what the live mutations write.

The role-by-operation tables reuse ``tests.test_mutation_matrix`` (its actors, tables and
``attempt``, which also checks that a refusal writes nothing but its audit row and that a hidden
object looks exactly like an absent one).
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from purchasegraph.catalogue import POWER_BI_PRO, PROJECT_PLAN_3, VISIO_PLAN_1
from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import (
    ALEX,
    CONTOSO_ID,
    GUS,
    INES,
    LEE,
    OLGA,
    PAT,
    PAULA,
    PETE,
    RITA,
    demo_id,
    demo_user_id,
)
from purchasegraph.payments import SandboxProcessor
from purchasegraph.schema.ids import decode_uuid, encode_id
from tests.conftest import Api, DemoUserIds
from tests.factories import create_tenant
from tests.mutations import execute_as, mutate, problems, purchase, travel_to
from tests.test_app_principals import ACTORS as APP_ACTORS
from tests.test_app_principals import AppActor, as_app, compiled_as_app
from tests.test_authorization_matrix import EngineApi
from tests.test_mutation_matrix import (
    ACCEPTED,
    ACTORS,
    ADMINS_BOUGHT_IT,
    ADMINS_TOOK_CONTROL,
    CENTRAL,
    ERRORS,
    NOT_FOUND,
    PURCHASER_CONTROLS,
    SELF_SERVICE,
    TAKEN_OVER,
    UNAUTHENTICATED,
    Scenario,
    Table,
    Target,
    Variables,
    attempt,
    home_of,
    matrix,
    nowhere,
    on_subscription,
    own_card_id,
    subscription_column,
    subscription_gid,
    subscription_uuid,
)

PAULAS_CARD = demo_id(f"payment_method:{PAULA}:current")  # seed: pays her Power BI Pro and Power Apps
PETES_CARD = demo_id(f"payment_method:{PETE}:current")
INSERT_CARD = """
INSERT INTO payment_methods (tenant_id, id, owner_user_id, kind, brand, last4, exp_month, exp_year, processor_token)
VALUES ($1, $2, $3, 'credit_card', 'visa', '1111', $4, $5, $6)
"""


def card_gid(card_id: uuid.UUID, tenant_id: uuid.UUID = CONTOSO_ID) -> str:
    return encode_id("PaymentMethod", card_id, tenant_id)


async def save_card(api: Api, upn: str, *, exp_month: int = 12, exp_year: int = 2090) -> uuid.UUID:
    card_id = uuid.uuid4()
    await api.conn.execute(
        INSERT_CARD,
        home_of(api, upn),
        card_id,
        api.ids[upn].user_id,
        exp_month,
        exp_year,
        f"tok_test_{uuid.uuid4().hex}",
    )
    return card_id


def at(day: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T12:00:00+00:00")


# ---------------------------------------------------------------------------------------------
# removePaymentMethod

REMOVE_CARD = f"""
mutation ($pm: ID!, $replacement: ID) {{
  removePaymentMethod(paymentMethodId: $pm, replacementPaymentMethodId: $replacement) {{
    removedPaymentMethodId movedSubscriptions {{ id paymentMethod {{ id }} }} {ERRORS}
  }}
}}
"""
CARD_STATE = """
SELECT (SELECT removed_at IS NULL FROM payment_methods WHERE tenant_id = $1 AND id = $2) AS in_wallet,
       (SELECT array_agg(payment_method_id ORDER BY id) FROM subscriptions
         WHERE tenant_id = $1 AND purchaser_user_id = $3 AND effective_status(subscriptions) <> 'deleted') AS cards
"""
# Every card a card removal might leave changed: the actors' own, saved at home for the test.
INSERT_OWN_CARD = """
INSERT INTO payment_methods (tenant_id, id, owner_user_id, kind, brand, last4, exp_month, exp_year, processor_token)
VALUES ($1, $2, $3, 'credit_card', 'visa', '1111', 12, 2090, $4)
"""
# The owner only: nobody else, admins included, sees the card, so for everyone else it does not exist.
OWNER_ONLY: Table = dict.fromkeys(ACTORS, NOT_FOUND) | {"purchaser": ACCEPTED, "anonymous": UNAUTHENTICATED}


async def paulas_wallet(api: Api, upn: str | None) -> tuple[bool, list[uuid.UUID]]:
    row = await api.conn.fetchrow(CARD_STATE, CONTOSO_ID, PAULAS_CARD, demo_user_id(PAULA))
    return row["in_wallet"], list(row["cards"])


async def remove_paulas_card_variables(api: Api, upn: str | None) -> Variables:
    """Paula's card, and a card of the actor's own (saved at home) to take over what it pays."""
    replacement = None
    if upn is not None:
        home = home_of(api, upn)
        await api.conn.execute(INSERT_OWN_CARD, home, own_card_id(upn), demo_user_id(upn), f"tok_{uuid.uuid4().hex}")
        replacement = card_gid(own_card_id(upn), home)
    return {"pm": card_gid(PAULAS_CARD), "replacement": replacement}


REMOVE_PAULAS_CARD = Scenario(
    document=REMOVE_CARD,
    field="removePaymentMethod",
    returns="removedPaymentMethodId",
    action="payment_method.remove",
    variables=remove_paulas_card_variables,
    state=paulas_wallet,
    # Removed, and every subscription it paid now billed to the card that took over.
    after=lambda before, upn: (False, [own_card_id(PAULA) if c == PAULAS_CARD else c for c in before[1]]),
    nonexistent=lambda variables: variables | {"pm": nowhere("PaymentMethod")},
)


@pytest.mark.parametrize(("actor", "expected"), matrix(OWNER_ONLY))
async def test_only_the_owner_removes_a_card_and_to_anyone_else_it_does_not_exist(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, REMOVE_PAULAS_CARD, actor, expected)


async def test_a_card_that_pays_a_live_subscription_is_not_removed_without_a_replacement(api: Api) -> None:
    before = await paulas_wallet(api, PAULA)
    payload = await mutate(api, REMOVE_CARD, PAULA, pm=card_gid(PAULAS_CARD))
    assert problems(payload) == [("PAYMENT_METHOD_IN_USE", ["paymentMethodId"])]
    assert "2 subscription(s)" in payload["userErrors"][0]["message"]
    assert payload["removedPaymentMethodId"] is None
    assert await paulas_wallet(api, PAULA) == before


async def test_the_replacement_card_takes_over_every_subscription_the_removed_one_paid(api: Api) -> None:
    replacement = await save_card(api, PAULA)
    payload = await mutate(api, REMOVE_CARD, PAULA, pm=card_gid(PAULAS_CARD), replacement=card_gid(replacement))
    assert payload["userErrors"] == []
    assert payload["removedPaymentMethodId"] == card_gid(PAULAS_CARD)
    moved = {s["id"]: s["paymentMethod"] for s in payload["movedSubscriptions"]}
    paid = [subscription_gid("paula-power-bi-pro"), subscription_gid("paula-power-apps")]
    assert moved == {gid: {"id": card_gid(replacement)} for gid in paid}
    assert await paulas_wallet(api, PAULA) == (False, [replacement, replacement])


async def test_an_expired_or_disabled_subscription_still_holds_its_card_only_a_deleted_one_lets_go(api: Api) -> None:
    # Pete's card pays his active Power Automate and his expired Project Plan 3 (reactivated on it);
    # his deleted RPA subscription no longer counts.
    await api.conn.execute(
        "UPDATE subscriptions SET payment_method_id = NULL WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        subscription_uuid("pete-power-automate"),
    )
    refused = await mutate(api, REMOVE_CARD, PETE, pm=card_gid(PETES_CARD))
    assert problems(refused) == [("PAYMENT_METHOD_IN_USE", ["paymentMethodId"])]
    assert "1 subscription(s)" in refused["userErrors"][0]["message"]
    await api.conn.execute(
        "UPDATE subscriptions SET status = 'deleted' WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        subscription_uuid("pete-project-plan-3-expired"),
    )
    removed = await mutate(api, REMOVE_CARD, PETE, pm=card_gid(PETES_CARD))
    assert removed["userErrors"] == []
    assert removed["movedSubscriptions"] == []


async def test_a_card_no_subscription_uses_is_removed_without_a_replacement(api: Api) -> None:
    spare = await save_card(api, PAULA)
    payload = await mutate(api, REMOVE_CARD, PAULA, pm=card_gid(spare))
    assert payload["userErrors"] == []
    assert await api.conn.fetchval("SELECT removed_at IS NOT NULL FROM payment_methods WHERE id = $1", spare)


async def test_the_replacement_must_be_another_live_card_of_the_owner(api: Api) -> None:
    before = await paulas_wallet(api, PAULA)
    expired = await save_card(api, PAULA, exp_month=1, exp_year=2001)
    petes = await save_card(api, PETE)
    cases = {
        card_gid(PAULAS_CARD): "INVALID_INPUT",  # itself
        card_gid(expired): "CARD_EXPIRED",
        card_gid(petes): "NOT_FOUND",  # not hers: it does not exist for her
        nowhere("PaymentMethod"): "NOT_FOUND",
        "not-an-id": "NOT_FOUND",
    }
    for replacement, code in cases.items():
        payload = await mutate(api, REMOVE_CARD, PAULA, pm=card_gid(PAULAS_CARD), replacement=replacement)
        assert problems(payload) == [(code, ["replacementPaymentMethodId"])], replacement
    assert await paulas_wallet(api, PAULA) == before


async def test_a_removed_card_pays_nothing_again(api: Api) -> None:
    spare = await save_card(api, PAULA)
    assert (await mutate(api, REMOVE_CARD, PAULA, pm=card_gid(spare)))["userErrors"] == []
    bought = await purchase(api, card=None, paymentMethodId=card_gid(spare))
    assert problems(bought) == [("NOT_FOUND", ["paymentMethodId"])]
    again = await mutate(api, REMOVE_CARD, PAULA, pm=card_gid(spare))
    assert problems(again) == [("NOT_FOUND", ["paymentMethodId"])]


async def test_removing_a_card_is_audited_with_what_moved(api: Api) -> None:
    replacement = await save_card(api, PAULA)
    await mutate(api, REMOVE_CARD, PAULA, pm=card_gid(PAULAS_CARD), replacement=card_gid(replacement))
    row = await api.conn.fetchrow(
        "SELECT outcome, target_type, target_id, details FROM audit_events"
        " WHERE action = 'payment_method.remove' ORDER BY id DESC LIMIT 1"
    )
    assert (row["outcome"], row["target_type"], row["target_id"]) == ("accepted", "PaymentMethod", str(PAULAS_CARD))
    assert row["details"]["replacement"] == str(replacement)
    assert sorted(row["details"]["moved_subscriptions"]) == sorted(
        str(subscription_uuid(label)) for label in ("paula-power-bi-pro", "paula-power-apps")
    )


# ---------------------------------------------------------------------------------------------
# Card expiry when a saved card is charged (on the app clock)

ADD_LICENSES = f"""
mutation ($s: ID!, $key: String!) {{
  addLicenses(subscriptionId: $s, quantity: 1, idempotencyKey: $key) {{ subscription {{ quantity }} {ERRORS} }}
}}
"""
PAY_INVOICE = f"""
mutation ($i: ID!, $key: String!) {{
  payInvoice(invoiceId: $i, idempotencyKey: $key) {{ invoice {{ status }} {ERRORS} }}
}}
"""


async def test_a_subscriptions_card_that_has_since_expired_is_refused_when_charged_and_nothing_is_written(
    api: Api,
) -> None:
    await api.conn.execute("UPDATE payment_methods SET exp_month = 4, exp_year = 2027 WHERE id = $1", PAULAS_CARD)
    await travel_to(api, at("2027-05-02"))
    quantity = await subscription_column(api, "paula-power-bi-pro", "quantity")
    orders = await api.conn.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", CONTOSO_ID)
    added = await mutate(api, ADD_LICENSES, PAULA, s=subscription_gid("paula-power-bi-pro"), key=uuid.uuid4().hex)
    assert problems(added) == [("CARD_EXPIRED", ["subscriptionId"])]
    invoice = encode_id("Invoice", demo_id("invoice:paula-power-bi-pro:5"), CONTOSO_ID)
    paid = await mutate(api, PAY_INVOICE, PAULA, i=invoice, key=uuid.uuid4().hex)
    assert problems(paid) == [("CARD_EXPIRED", ["paymentMethodId"])]
    assert await subscription_column(api, "paula-power-bi-pro", "quantity") == quantity
    assert await api.conn.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", CONTOSO_ID) == orders
    assert await api.conn.fetchval(
        "SELECT status FROM invoices WHERE id = $1", demo_id("invoice:paula-power-bi-pro:5")
    ) in {"open", "past_due"}
    assert api.processor.charges == []


# ---------------------------------------------------------------------------------------------
# setAutoRenew

SET_AUTO_RENEW = f"""
mutation ($subscriptionId: ID!, $autoRenew: Boolean!) {{
  setAutoRenew(subscriptionId: $subscriptionId, autoRenew: $autoRenew) {{ subscription {{ id autoRenew }} {ERRORS} }}
}}
"""


def set_auto_renew_off(target: Target) -> Scenario:
    async def auto_renew(api: Api, upn: str | None) -> bool:
        value: bool = await subscription_column(api, target.label, "auto_renew")
        return value

    return on_subscription(
        target,
        document=SET_AUTO_RENEW,
        field="setAutoRenew",
        action="subscription.set_auto_renew",
        extra=lambda: {"autoRenew": False},
        state=auto_renew,
        after=lambda before, upn: False,
    )


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_CONTROLS))
async def test_only_the_purchaser_sets_auto_renew_of_a_subscription_they_control(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, set_auto_renew_off(SELF_SERVICE), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_TOOK_CONTROL))
async def test_after_a_take_over_admins_set_auto_renew_and_the_purchaser_cannot(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, set_auto_renew_off(TAKEN_OVER), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_BOUGHT_IT))
async def test_admins_set_auto_renew_of_a_central_subscription(api: Api, actor: str, expected: str) -> None:
    await attempt(api, set_auto_renew_off(CENTRAL), actor, expected)


async def test_the_seed_subscriptions_auto_renew_starts_on_for_the_matrix(api: Api) -> None:
    for target in (SELF_SERVICE, TAKEN_OVER, CENTRAL):
        assert await subscription_column(api, target.label, "auto_renew") is True, target.label
        assert await subscription_column(api, target.label, "effective_status(s)") == "active", target.label


async def test_auto_renew_is_set_on_active_subscriptions_only(api: Api) -> None:
    for label in ("pete-visio-plan-1-trial", "pete-project-plan-3-expired", "pete-power-automate-rpa-deleted"):
        payload = await mutate(api, SET_AUTO_RENEW, PETE, subscriptionId=subscription_gid(label), autoRenew=True)
        assert problems(payload) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])], label


async def test_a_purchasers_auto_renew_is_not_turned_on_without_a_card_to_charge(api: Api) -> None:
    await api.conn.execute(
        "UPDATE subscriptions SET payment_method_id = NULL, auto_renew = false WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        subscription_uuid("paula-power-apps"),
    )
    payload = await mutate(
        api, SET_AUTO_RENEW, PAULA, subscriptionId=subscription_gid("paula-power-apps"), autoRenew=True
    )
    assert problems(payload) == [("PAYMENT_METHOD_REQUIRED", ["autoRenew"])]
    assert await subscription_column(api, "paula-power-apps", "auto_renew") is False


async def test_a_subscription_whose_auto_renew_is_off_expires_at_its_term_end_without_a_charge(api: Api) -> None:
    bought = await purchase(api, quantity=1)
    subscription = bought["subscription"]["id"]
    payload = await mutate(api, SET_AUTO_RENEW, PAULA, subscriptionId=subscription, autoRenew=False)
    assert payload["userErrors"] == []
    assert payload["subscription"]["autoRenew"] is False
    card, expires = await api.conn.fetchrow(
        """SELECT pm.processor_token, s.expires_at FROM subscriptions s
             JOIN payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.id = s.payment_method_id
            WHERE s.id = $1""",
        decode_uuid(subscription, "Subscription"),
    )
    charged = [c for c in api.processor.charges if c.token == card]
    await travel_to(api, expires + datetime.timedelta(days=1))
    report = await sweep(ConnectionExecutor(api.conn), api.processor)
    assert decode_uuid(subscription, "Subscription") not in report.renewed
    # The sweep renews the demo world's other subscriptions due by then; this card pays none.
    assert [c for c in api.processor.charges if c.token == card] == charged
    status = await api.conn.fetchval(
        "SELECT effective_status(s) FROM subscriptions s WHERE id = $1", decode_uuid(subscription, "Subscription")
    )
    assert status == "expired"


async def test_setting_auto_renew_is_audited_with_its_old_and_new_value(api: Api) -> None:
    await mutate(api, SET_AUTO_RENEW, PAULA, subscriptionId=subscription_gid("paula-power-bi-pro"), autoRenew=False)
    details = await api.conn.fetchval(
        "SELECT details FROM audit_events WHERE action = 'subscription.set_auto_renew' ORDER BY id DESC LIMIT 1"
    )
    assert details == {"old_value": True, "new_value": False}


# ---------------------------------------------------------------------------------------------
# quote

QUOTE = """
query ($product: ID!, $quantity: Int!, $frequency: BillingFrequency!) {
  quote(productId: $product, quantity: $quantity, billingFrequency: $frequency) {
    quote { productId quantity billingFrequency unitPrice { amount currency } total { amount currency } }
    userErrors { code field message }
  }
}
"""
SELF_SERVICE_PRICE = """
SELECT pp.unit_price, pp.currency FROM product_prices pp JOIN tenants t ON t.country = pp.market
 WHERE t.id = $1 AND pp.product_id = $2 AND pp.channel = 'self_service'
"""


async def quote(
    api: Api, upn: str | None, product: str = POWER_BI_PRO, quantity: int = 3, frequency: str = "MONTHLY"
) -> dict[str, Any]:
    data = await api.data(
        QUOTE, as_user=upn, variables={"product": product, "quantity": quantity, "frequency": frequency}
    )
    result: dict[str, Any] = data["quote"]
    return result


@pytest.mark.parametrize("frequency", ["MONTHLY", "ANNUAL"])
async def test_a_quote_is_exactly_what_the_purchase_then_charges(api: Api, frequency: str) -> None:
    quoted = await quote(api, PAULA, quantity=7, frequency=frequency)
    assert quoted["userErrors"] == []
    bought = await purchase(api, quantity=7, billingFrequency=frequency)
    assert bought["userErrors"] == []
    assert quoted["quote"]["total"] == bought["order"]["total"]
    assert quoted["quote"]["unitPrice"] == bought["subscription"]["unitPrice"]
    assert api.processor.charges[-1].amount == Decimal(quoted["quote"]["total"]["amount"])


async def test_a_quote_is_the_self_service_price_in_the_tenants_currency_per_license_per_month(api: Api) -> None:
    for upn in (PAULA, OLGA):
        home = home_of(api, upn)
        price = await api.conn.fetchrow(SELF_SERVICE_PRICE, home, POWER_BI_PRO)
        currency = await api.conn.fetchval("SELECT currency FROM tenants WHERE id = $1", home)
        assert price["currency"] == currency
        quoted = (await quote(api, upn, quantity=3, frequency="ANNUAL"))["quote"]
        assert quoted == {
            "productId": encode_id("Product", POWER_BI_PRO),
            "quantity": 3,
            "billingFrequency": "ANNUAL",
            "unitPrice": {"amount": str(price["unit_price"]), "currency": currency},
            "total": {"amount": str(price["unit_price"] * 3 * 12), "currency": currency},
        }


@pytest.mark.parametrize(
    ("upn", "product", "quantity", "codes"),
    [
        pytest.param(None, POWER_BI_PRO, 3, ["UNAUTHENTICATED"], id="anonymous-signs-in-first"),
        pytest.param(PAULA, POWER_BI_PRO, 0, ["INVALID_QUANTITY"], id="no-licenses"),
        pytest.param(PAULA, POWER_BI_PRO, 10_001, ["INVALID_QUANTITY"], id="too-many-licenses"),
        pytest.param(PAULA, "CFQ7TTC0NOPE", 3, ["NOT_FOUND"], id="unknown-product"),
        pytest.param(PAULA, PROJECT_PLAN_3, 3, ["POLICY_DISABLED"], id="a-product-the-tenant-disabled"),
        pytest.param(GUS, POWER_BI_PRO, 3, ["GUEST_USER"], id="a-guest-buys-nothing-here"),
        pytest.param(INES, POWER_BI_PRO, 3, ["MARKET_NOT_ELIGIBLE"], id="india"),
    ],
)
async def test_no_quote_where_the_purchase_would_be_refused_and_the_same_code_says_why(
    api: Api, upn: str | None, product: str, quantity: int, codes: list[str]
) -> None:
    quoted = await quote(api, upn, product=product, quantity=quantity)
    assert quoted["quote"] is None
    assert [e["code"] for e in quoted["userErrors"]] == codes
    if upn is not None:
        refused = await purchase(
            api, as_user=upn, productId=product, quantity=quantity, tenantId=str(home_of(api, upn))
        )
        assert [e["code"] for e in refused["userErrors"]] == codes


async def compiled(api: Api, query: str, upn: str | None, variables: dict[str, Any]) -> dict[str, Any]:
    """The read as the engine answers it, which must compile (no fallback to the resolvers)."""
    data = await api.compiled(query, as_user=upn, variables=variables)
    assert data is not None, "declined"
    return data


@pytest.mark.parametrize("upn", [PAULA, OLGA, GUS, INES, None])
@pytest.mark.parametrize(
    ("product", "quantity", "frequency"),
    [
        (POWER_BI_PRO, 3, "ANNUAL"),
        (VISIO_PLAN_1, 1, "MONTHLY"),
        (PROJECT_PLAN_3, 2, "MONTHLY"),
        (POWER_BI_PRO, 0, "ANNUAL"),
    ],
)
async def test_a_quote_compiles_and_the_engine_gives_the_resolvers_answer(
    api: Api, upn: str | None, product: str, quantity: int, frequency: str
) -> None:
    variables = {"product": product, "quantity": quantity, "frequency": frequency}
    assert await compiled(api, QUOTE, upn, variables) == await api.data(QUOTE, as_user=upn, variables=variables)
    literal = QUOTE_LITERAL.replace("$P", product).replace("$Q", str(quantity)).replace("$F", frequency)
    assert await compiled(api, literal, upn, {}) == await api.data(literal, as_user=upn)


QUOTE_LITERAL = """
{ priced: quote(productId: "$P", quantity: $Q, billingFrequency: $F) {
    __typename quote { __typename total { amount } unitPrice { currency amount } productId }
    userErrors { message code } }
  monthly: quote(productId: "$P", quantity: $Q) { quote { billingFrequency total { amount } } } }
"""


async def test_a_quote_writes_nothing(api: Api) -> None:
    before = await api.conn.fetchval("SELECT count(*) FROM audit_events")
    await quote(api, PAULA)
    await quote(api, GUS)
    assert await api.conn.fetchval("SELECT count(*) FROM audit_events") == before
    assert api.processor.charges == []


# ---------------------------------------------------------------------------------------------
# startTrial returns its order; the seed's trial and removals are what the live mutations write

START_TRIAL = f"""
mutation ($product: ID!) {{
  startTrial(productId: $product) {{
    subscription {{ quantity status unitPrice {{ amount currency }} }}
    order {{ kind quantityDelta quantityAfter unitPrice {{ amount currency }} total {{ amount currency }} }}
    {ERRORS}
  }}
}}
"""
SEEDED_TRIAL = """
query ($s: ID!) { node(id: $s) { ... on Subscription {
  quantity status unitPrice { amount currency }
  orders { nodes { kind quantityDelta quantityAfter unitPrice { amount currency } total { amount currency } } } } } }
"""


async def test_start_trial_returns_its_order(api: Api) -> None:
    # Visio Plan 1: Contoso allows trials only (without a card), and Paula never had one.
    started = await mutate(api, START_TRIAL, PAULA, product=VISIO_PLAN_1)
    assert started["userErrors"] == []
    price = await api.conn.fetchrow(SELF_SERVICE_PRICE, CONTOSO_ID, VISIO_PLAN_1)
    free = {"amount": "0.00", "currency": price["currency"]}
    assert started["order"] == {
        "kind": "TRIAL",
        "quantityDelta": 1,
        "quantityAfter": 1,
        "unitPrice": free,
        "total": free,
    }
    # The trial carries the price it converts at.
    assert started["subscription"]["unitPrice"] == {"amount": str(price["unit_price"]), "currency": price["currency"]}


async def test_the_seeded_trial_is_what_start_trial_writes(api: Api) -> None:
    started = await mutate(api, START_TRIAL, PAULA, product=VISIO_PLAN_1)
    seeded = (await api.data(SEEDED_TRIAL, as_user=PETE, variables={"s": subscription_gid("pete-visio-plan-1-trial")}))[
        "node"
    ]
    assert seeded["quantity"] == started["subscription"]["quantity"] == 1
    assert seeded["status"] == started["subscription"]["status"] == "TRIAL"
    assert seeded["unitPrice"] == started["subscription"]["unitPrice"]
    assert seeded["orders"]["nodes"] == [started["order"]]


async def test_every_seeded_removal_order_is_free_like_a_live_one(api: Api) -> None:
    rows = await api.conn.fetch("SELECT total FROM orders WHERE kind = 'remove_licenses'")
    assert rows, "the seed has removal orders"
    assert {r["total"] for r in rows} == {Decimal("0.00")}


async def test_every_seeded_trial_is_priced_at_its_conversion_price_with_one_license(api: Api) -> None:
    rows = await api.conn.fetch(
        """SELECT s.unit_price, pp.unit_price AS conversion, o.quantity_after, o.unit_price AS order_price, o.total
             FROM orders o
             JOIN subscriptions s ON s.tenant_id = o.tenant_id AND s.id = o.subscription_id
             JOIN tenants t ON t.id = s.tenant_id
             JOIN product_prices pp ON pp.product_id = s.product_id AND pp.market = t.country
                                   AND pp.channel = 'self_service'
            WHERE o.kind = 'trial'"""
    )
    assert rows, "the seed has trials"
    for row in rows:
        assert row["unit_price"] == row["conversion"]
        assert (row["quantity_after"], row["order_price"], row["total"]) == (1, Decimal("0.00"), Decimal("0.00"))


# ---------------------------------------------------------------------------------------------
# Assignment.assignedBy: a user like any other, on both read paths

ASSIGNED_BY = """
query ($a: ID!) { node(id: $a) { ... on Assignment { id assignedBy { userPrincipalName } } } }
"""
ASSIGNED_BY_IN_TENANT = """
query ($t: ID!) { tenant(id: $t) { assignments(first: 100) { nodes { id assignedBy { userPrincipalName } } } } }
"""


@pytest.fixture(params=["resolvers", "engine"])
def reader(request: pytest.FixtureRequest, conn: asyncpg.Connection, demo_ids: dict[str, DemoUserIds]) -> Api:
    kind = EngineApi if request.param == "engine" else Api
    return kind(conn=conn, ids=demo_ids)


def assignment_gid(label: str, upn: str) -> str:
    return encode_id("Assignment", demo_id(f"assignment:{label}:{upn}"), CONTOSO_ID)


# Lee's license of Paula's Power BI Pro, which Paula assigned: who reads it, and whom they see.
LEES_LICENSE_READERS = [
    pytest.param(PAULA, {"userPrincipalName": PAULA}, id="purchaser"),
    pytest.param(LEE, {"userPrincipalName": PAULA}, id="licensed_user-sees-the-directory"),
    pytest.param(ALEX, {"userPrincipalName": PAULA}, id="global_admin"),
    pytest.param(RITA, {"userPrincipalName": PAULA}, id="global_reader"),
    pytest.param(PAT, {"userPrincipalName": PAULA}, id="active_partner"),
    pytest.param(PETE, None, id="other_purchaser-sees-no-such-license"),
    pytest.param(OLGA, None, id="outsider"),
    pytest.param(None, None, id="anonymous"),
]


@pytest.mark.parametrize(("upn", "expected"), LEES_LICENSE_READERS)
async def test_assigned_by_is_the_user_who_assigned_the_license_as_far_as_the_reader_sees_users(
    reader: Api, upn: str | None, expected: dict[str, str] | None
) -> None:
    node = (await reader.data(ASSIGNED_BY, as_user=upn, variables={"a": assignment_gid("paula-power-bi-pro", LEE)}))[
        "node"
    ]
    if expected is None:
        assert node is None  # the license itself is out of reach
    else:
        assert node == {"id": assignment_gid("paula-power-bi-pro", LEE), "assignedBy": expected}


async def test_a_guest_sees_their_license_but_not_who_assigned_it(reader: Api) -> None:
    node = (await reader.data(ASSIGNED_BY, as_user=GUS, variables={"a": assignment_gid("paula-power-bi-pro", GUS)}))[
        "node"
    ]
    # A guest sees only themselves in the directory: the purchaser is as unknown to them as anywhere.
    assert node == {"id": assignment_gid("paula-power-bi-pro", GUS), "assignedBy": None}


async def test_assigned_by_is_the_same_on_both_read_paths_for_every_license_of_the_tenant(api: Api) -> None:
    for upn in (ALEX, PAULA, LEE, GUS, PETE):
        for query, variables in (
            (ASSIGNED_BY_IN_TENANT, {"t": str(CONTOSO_ID)}),
            (ASSIGNED_BY, {"a": assignment_gid("paula-power-bi-pro", LEE)}),
            (ASSIGNED_BY, {"a": assignment_gid("paula-power-bi-pro", GUS)}),
        ):
            resolved = await api.data(query, as_user=upn, variables=variables)
            assert await compiled(api, query, upn, variables) == resolved, upn


# ---------------------------------------------------------------------------------------------
# A removal racing the payments that choose the card (committed data, separate connections)

PURCHASE_WITH_CARD = """
mutation ($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code } }
}
"""
LIVE_SUBSCRIPTIONS_ON_REMOVED_CARDS = """
SELECT count(*) FROM subscriptions s
  JOIN payment_methods pm ON pm.tenant_id = s.tenant_id AND pm.id = s.payment_method_id
 WHERE s.tenant_id = $1 AND pm.removed_at IS NOT NULL AND effective_status(s) <> 'deleted'
"""


async def test_a_card_removed_while_purchases_choose_it_never_leaves_a_live_subscription_on_a_removed_card(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=2)
    buyer, card = tenant.user_ids[1], uuid.uuid4()
    await pool.execute(INSERT_CARD, tenant.tenant_id, card, buyer, 12, 2090, f"tok_{uuid.uuid4().hex}")
    processor = SandboxProcessor()
    card_id = encode_id("PaymentMethod", card, tenant.tenant_id)

    def purchase_request(n: int) -> dict[str, Any]:
        return {
            "input": {
                "tenantId": str(tenant.tenant_id),
                "productId": POWER_BI_PRO,
                "quantity": 1,
                "paymentMethodId": card_id,
                "idempotencyKey": f"race-{n}",
            }
        }

    requests = [
        execute_as(gateway_pool, buyer, tenant.tenant_id, PURCHASE_WITH_CARD, purchase_request(n), processor)
        for n in range(6)
    ]
    requests.insert(3, execute_as(gateway_pool, buyer, tenant.tenant_id, REMOVE_CARD, {"pm": card_id}, processor))
    results = await asyncio.gather(*requests)
    assert all(r.errors is None and r.data is not None for r in results)
    removal = results[3].data["removePaymentMethod"] if results[3].data else {}
    removed = removal["userErrors"] == []
    bought = [r.data["purchaseSubscription"] for r in results if r.data and "purchaseSubscription" in r.data]
    # Either the card went first (and every later purchase found no such card), or a purchase
    # committed on it first (and the removal, naming no replacement, was refused).
    assert removed or [e["code"] for e in removal["userErrors"]] == ["PAYMENT_METHOD_IN_USE"]
    assert {tuple(e["code"] for e in p["userErrors"]) for p in bought} <= {(), ("NOT_FOUND",)}
    assert await pool.fetchval(LIVE_SUBSCRIPTIONS_ON_REMOVED_CARDS, tenant.tenant_id) == 0
    accepted = sum(1 for p in bought if p["userErrors"] == [])
    assert len(processor.settled()) == accepted


@pytest.mark.parametrize("actor", [pytest.param(actor, id=name) for name, actor in APP_ACTORS.items()])
async def test_an_application_gets_no_quote_it_buys_nothing_on_either_read_path(api: Api, actor: AppActor) -> None:
    variables = {"product": POWER_BI_PRO, "quantity": 3, "frequency": "MONTHLY"}
    resolved = await as_app(api, actor, QUOTE, variables)
    assert resolved["quote"]["quote"] is None
    assert [e["code"] for e in resolved["quote"]["userErrors"]] == ["NOT_AUTHORIZED"]
    assert await compiled_as_app(api, actor, QUOTE, variables) == resolved
