"""Who may change what: every mutation tried by every kind of actor (a purchaser changes only their own,
only members buy, admins govern and centralize, a partner needs a global-admin grant to govern; the
docstrings of ``purchasegraph.policy``).

Each expectation below is written down from those two sources, never read back from the API. The answers:

- accepted: ``userErrors == []``, the payload carries the object, and the change is in the database (plain
  SQL on ``api.conn``);
- ``NOT_FOUND`` for anything outside the actor's reach; it must look exactly like an id that does not exist
  (every ``NOT_FOUND`` row below is asked again with a made-up id and must get the very same ``userErrors``);
- ``NOT_AUTHORIZED`` where the actor sees the object but their role does not change it (readers, admins facing
  a purchaser's own card or bill) and for admin-only mutations asked by a user of the tenant without the role:
  the role is checked before the target, so the answer is the same whether the target exists or not;
- ``NOT_IN_CONTROL`` for admins on a purchaser-controlled self-service subscription before they take control,
  and for its purchaser after they did;
- ``UNAUTHENTICATED`` without a token; eligibility codes (``GUEST_USER``) where a guest tries to buy.

A refusal changes nothing but the audit trail: exactly one ``refused`` audit event with its code (none for
an anonymous caller: there is no principal to record), and no other table gains a row. An acceptance writes
exactly one ``accepted`` event. It is recorded in Contoso when the actor reaches Contoso, else in the actor's
own tenant (whether the target exists never decides where).

The actors, as ``purchasegraph.policy`` scopes them in Contoso:

| actor                 | who                                                        | scope in Contoso          |
|-----------------------|------------------------------------------------------------|---------------------------|
| purchaser             | the purchaser of the target (Paula, unless a table says)    | MEMBER, owns the target   |
| other_purchaser       | another purchaser of Contoso (Pete, unless a table says)     | MEMBER                    |
| licensed_user         | Lee, holds licenses of Paula's subscriptions                 | MEMBER                    |
| global_admin          | Alex                                                       | ADMIN                     |
| billing_admin         | Bea                                                        | ADMIN                     |
| global_reader         | Rita                                                       | READER                    |
| partner_global_admin  | Pat (Adatum), relationship grants global_admin (the seed)   | PARTNER, administer+govern |
| partner_billing_admin | Pat, the relationship rewritten to grant billing_admin      | PARTNER, administer       |
| partner_reader        | Pat, the relationship rewritten to grant global_reader      | PARTNER, read only        |
| expired_partner       | Lia (Litware), relationship expired                        | none                      |
| guest                 | Gus, a guest in Contoso                                    | GUEST                     |
| outsider              | Olga of Woodgrove                                          | none                      |
| other_tenant_admin    | Will, global admin of Woodgrove                            | none                      |
| anonymous             | no token                                                   | none                      |

``startTrial``, ``addPaymentMethod`` and ``requestLicense`` name no tenant: they act in the caller's home
tenant, so a partner or an outsider does them at home and nothing lands in Contoso.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from purchasegraph.catalogue import POWER_BI_PRO, PROJECT_PLAN_3
from purchasegraph.demo.actors import (
    ADATUM,
    ALEX,
    BEA,
    CONTOSO_ID,
    DANA,
    GUS,
    LEE,
    LIA,
    LITWARE,
    NOAH,
    OLGA,
    PAT,
    PAULA,
    PETE,
    RITA,
    SAM,
    TESS,
    UNA,
    WILL,
    demo_id,
    demo_tenant_id,
    demo_user_id,
)
from purchasegraph.demo.global_ids import GOOD_CARD
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api

ADATUM_ID = demo_tenant_id(ADATUM)
LITWARE_ID = demo_tenant_id(LITWARE)

# The seed's objects the mutations aim at (checked against the database by the first test).
PAULAS_POWER_BI = "paula-power-bi-pro"  # purchaser-controlled, 10 licenses, Lee among its 5 users
PAULAS_POWER_APPS = "paula-power-apps"  # purchaser-controlled, 5 licenses
DANAS_POWER_APPS = "dana-power-apps-taken-over"  # taken over by Alex; Dana (departed) bought it; Noah uses it
CENTRAL_POWER_BI = "contoso-central-power-bi-pro"  # bought centrally, 50 licenses, Sam among its users
CENTRAL_POWER_APPS = "contoso-central-power-apps"  # bought centrally, 20 licenses, 3 used
PETES_EXPIRED_PROJECT = "pete-project-plan-3-expired"
PAULAS_OPEN_INVOICE = demo_id(f"invoice:{PAULAS_POWER_BI}:5")  # the latest of six monthly bills, open
LEES_PENDING_REQUEST = demo_id("license_request:lee-project-plan-3")


def subscription_uuid(label: str) -> uuid.UUID:
    return demo_id(f"subscription:{label}")


def subscription_gid(label: str) -> str:
    return encode_id("Subscription", subscription_uuid(label), CONTOSO_ID)


def contoso_gid(type_name: str, key: uuid.UUID) -> str:
    return encode_id(type_name, key, CONTOSO_ID)


def nowhere(type_name: str) -> str:
    """A well-formed ID of Contoso that names nothing."""
    return contoso_gid(type_name, uuid.uuid4())


# ---------------------------------------------------------------------------------------------
# Actors and outcomes

ACTORS = (
    "purchaser",
    "other_purchaser",
    "licensed_user",
    "global_admin",
    "billing_admin",
    "global_reader",
    "partner_global_admin",
    "partner_billing_admin",
    "partner_reader",
    "expired_partner",
    "guest",
    "outsider",
    "other_tenant_admin",
    "anonymous",
)
FIXED_ACTORS: dict[str, str | None] = {
    "licensed_user": LEE,
    "global_admin": ALEX,
    "billing_admin": BEA,
    "global_reader": RITA,
    "partner_global_admin": PAT,
    "partner_billing_admin": PAT,
    "partner_reader": PAT,
    "expired_partner": LIA,
    "guest": GUS,
    "outsider": OLGA,
    "other_tenant_admin": WILL,
    "anonymous": None,
}
# The seed's Adatum -> Contoso relationship grants global_admin; these actors rewrite it first.
PARTNER_ROLES = {"partner_billing_admin": ["billing_admin"], "partner_reader": ["global_reader"]}
SET_PARTNER_ROLES = "UPDATE partner_relationships SET roles = $3 WHERE tenant_id = $1 AND partner_tenant_id = $2"

ACCEPTED = "accepted"
NOT_FOUND = "NOT_FOUND"
NOT_AUTHORIZED = "NOT_AUTHORIZED"
NOT_IN_CONTROL = "NOT_IN_CONTROL"
UNAUTHENTICATED = "UNAUTHENTICATED"
GUEST_USER = "GUEST_USER"
PRODUCT_NOT_BLOCKED = "PRODUCT_NOT_BLOCKED"

Table = dict[str, str]

# Self-service subscription its purchaser controls: only the purchaser changes it; admins (and partners
# with an admin grant) see it but must take control first; readers only read; nobody else sees it.
PURCHASER_CONTROLS: Table = {
    "purchaser": ACCEPTED,
    "other_purchaser": NOT_FOUND,
    "licensed_user": NOT_FOUND,
    "global_admin": NOT_IN_CONTROL,
    "billing_admin": NOT_IN_CONTROL,
    "global_reader": NOT_AUTHORIZED,
    "partner_global_admin": NOT_IN_CONTROL,
    "partner_billing_admin": NOT_IN_CONTROL,
    "partner_reader": NOT_AUTHORIZED,
    "expired_partner": NOT_FOUND,
    "guest": NOT_FOUND,
    "outsider": NOT_FOUND,
    "other_tenant_admin": NOT_FOUND,
    "anonymous": UNAUTHENTICATED,
}
# A self-service subscription after the take-over: the admins govern it, its purchaser no longer does.
ADMINS_TOOK_CONTROL: Table = PURCHASER_CONTROLS | {
    "purchaser": NOT_IN_CONTROL,
    "global_admin": ACCEPTED,
    "billing_admin": ACCEPTED,
    "partner_global_admin": ACCEPTED,
    "partner_billing_admin": ACCEPTED,
}
# Bought centrally: the admins govern it; it has no purchaser, and members do not see it.
ADMINS_BOUGHT_IT: Table = ADMINS_TOOK_CONTROL | {"purchaser": NOT_FOUND}
# Admin actions (policy.may_administer): global and billing admins, partners with an admin grant.
ADMIN_ACTION: Table = {
    "purchaser": NOT_AUTHORIZED,
    "other_purchaser": NOT_AUTHORIZED,
    "licensed_user": NOT_AUTHORIZED,
    "global_admin": ACCEPTED,
    "billing_admin": ACCEPTED,
    "global_reader": NOT_AUTHORIZED,
    "partner_global_admin": ACCEPTED,
    "partner_billing_admin": ACCEPTED,
    "partner_reader": NOT_AUTHORIZED,
    "expired_partner": NOT_FOUND,
    "guest": NOT_AUTHORIZED,
    "outsider": NOT_FOUND,
    "other_tenant_admin": NOT_FOUND,
    "anonymous": UNAUTHENTICATED,
}
# Policies and take-over (policy.may_govern): a partner needs a global-admin grant in its relationship.
GOVERNANCE: Table = ADMIN_ACTION | {"partner_billing_admin": NOT_AUTHORIZED}
# Directory upkeep (policy.may_manage_users): global admins, partners with a global-admin grant. A
# billing admin manages billing, not users.
USER_ADMIN: Table = GOVERNANCE | {"billing_admin": NOT_AUTHORIZED}
# Only the billed purchaser pays, and only the purchaser chooses the card (admins never handle it).
# Whole-tenant viewers see the subscription and its bills, so theirs is a refusal, not a "no such".
PURCHASER_ONLY: Table = PURCHASER_CONTROLS | {
    "global_admin": NOT_AUTHORIZED,
    "billing_admin": NOT_AUTHORIZED,
    "partner_global_admin": NOT_AUTHORIZED,
    "partner_billing_admin": NOT_AUTHORIZED,
}
# Buying self-service in Contoso: any user of Contoso but a guest; a partner never buys for a customer.
BUY_IN_CONTOSO: Table = {
    "purchaser": ACCEPTED,
    "other_purchaser": ACCEPTED,
    "licensed_user": ACCEPTED,
    "global_admin": ACCEPTED,
    "billing_admin": ACCEPTED,
    "global_reader": ACCEPTED,
    "partner_global_admin": NOT_FOUND,
    "partner_billing_admin": NOT_FOUND,
    "partner_reader": NOT_FOUND,
    "expired_partner": NOT_FOUND,
    "guest": GUEST_USER,
    "outsider": NOT_FOUND,
    "other_tenant_admin": NOT_FOUND,
    "anonymous": UNAUTHENTICATED,
}
# Done in one's home tenant: everyone signed in, but a guest keeps and buys nothing where they are a guest.
AT_HOME: Table = dict.fromkeys(ACTORS, ACCEPTED) | {"guest": GUEST_USER, "anonymous": UNAUTHENTICATED}
# Asking for Project Plan 3, which Contoso disabled; at Adatum, Litware and Woodgrove it is not blocked.
REQUEST_PROJECT: Table = AT_HOME | dict.fromkeys(
    (
        "partner_global_admin",
        "partner_billing_admin",
        "partner_reader",
        "expired_partner",
        "outsider",
        "other_tenant_admin",
    ),
    PRODUCT_NOT_BLOCKED,
)
# Lee's request for it is pending (seeded): one pending request per user and product.
REQUEST_PROJECT = REQUEST_PROJECT | {"licensed_user": "LICENSE_ALREADY_REQUESTED"}
TABLES = {
    "PURCHASER_CONTROLS": PURCHASER_CONTROLS,
    "ADMINS_TOOK_CONTROL": ADMINS_TOOK_CONTROL,
    "ADMINS_BOUGHT_IT": ADMINS_BOUGHT_IT,
    "ADMIN_ACTION": ADMIN_ACTION,
    "GOVERNANCE": GOVERNANCE,
    "PURCHASER_ONLY": PURCHASER_ONLY,
    "BUY_IN_CONTOSO": BUY_IN_CONTOSO,
    "AT_HOME": AT_HOME,
    "REQUEST_PROJECT": REQUEST_PROJECT,
}


def matrix(table: Table) -> list[Any]:
    return [pytest.param(actor, table[actor], id=f"{actor}-{table[actor]}") for actor in ACTORS]


# ---------------------------------------------------------------------------------------------
# Scenarios: one mutation on one target, with the SQL that shows whether it happened

Variables = dict[str, Any]
ERRORS = "userErrors { code field message }"


@dataclass(frozen=True)
class Scenario:
    document: str
    field: str  # the mutation's field in the result
    returns: str  # the payload's object, null unless accepted
    action: str  # the audit event's action
    variables: Callable[[Api, str | None], Awaitable[Variables]]
    state: Callable[[Api, str | None], Awaitable[Any]]
    # The state once the mutation was accepted, from the state before it.
    after: Callable[[Any, str | None], Any]
    # The same variables naming an object that does not exist, where the mutation names one.
    nonexistent: Callable[[Variables], Variables] | None = None
    # Who plays "purchaser" and "other purchaser" for this target.
    purchaser: str = PAULA
    other_purchaser: str = PETE
    # Acts in the caller's home tenant (it names no tenant) rather than in Contoso.
    at_home: bool = False


def given(variables: Callable[[], Variables]) -> Callable[[Api, str | None], Awaitable[Variables]]:
    async def make(api: Api, upn: str | None) -> Variables:
        return variables()

    return make


def replacing(name: str, type_name: str) -> Callable[[Variables], Variables]:
    return lambda variables: variables | {name: nowhere(type_name)}


def home_of(api: Api, upn: str) -> uuid.UUID:
    return api.ids[upn].tenant_id


async def subscription_column(api: Api, label: str, column: str) -> Any:
    return await api.conn.fetchval(
        f"SELECT {column} FROM subscriptions s WHERE s.tenant_id = $1 AND s.id = $2",
        CONTOSO_ID,
        subscription_uuid(label),
    )


async def holders(api: Api, label: str) -> frozenset[uuid.UUID]:
    rows = await api.conn.fetch(
        "SELECT user_id FROM license_assignments WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL",
        CONTOSO_ID,
        subscription_uuid(label),
    )
    return frozenset(r["user_id"] for r in rows)


def sorted_rows(rows: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in rows), key=repr)


# -- purchaseSubscription

PURCHASE = f"""
mutation ($input: PurchaseSubscriptionInput!) {{
  purchaseSubscription(input: $input) {{ subscription {{ id }} {ERRORS} }}
}}
"""


async def bought_by(api: Api, upn: str | None, trials: bool) -> list[tuple[Any, ...]]:
    if upn is None:
        return []
    rows = await api.conn.fetch(
        "SELECT tenant_id, product_id, quantity, channel, controlled_by FROM subscriptions"
        " WHERE purchaser_user_id = $1 AND is_trial = $2",
        demo_user_id(upn),
        trials,
    )
    return sorted_rows(rows)


def purchase_variables() -> Variables:
    return {
        "input": {
            "tenantId": encode_id("Tenant", CONTOSO_ID),
            "productId": POWER_BI_PRO,
            "quantity": 2,
            "card": GOOD_CARD,
            "idempotencyKey": uuid.uuid4().hex,
        }
    }


async def purchases_of(api: Api, upn: str | None) -> list[tuple[Any, ...]]:
    return await bought_by(api, upn, trials=False)


PURCHASE_IN_CONTOSO = Scenario(
    document=PURCHASE,
    field="purchaseSubscription",
    returns="subscription",
    action="subscription.purchase",
    variables=given(purchase_variables),
    state=purchases_of,
    after=lambda before, upn: sorted([*before, (CONTOSO_ID, POWER_BI_PRO, 2, "self_service", "purchaser")], key=repr),
    nonexistent=lambda v: {"input": v["input"] | {"tenantId": encode_id("Tenant", uuid.uuid4())}},
)

# -- startTrial (Power BI Pro: 60 days, needs a card; nobody here had one of it)

START_TRIAL = f"""
mutation ($productId: ID!, $card: CardInput) {{
  startTrial(productId: $productId, card: $card) {{ subscription {{ id }} {ERRORS} }}
}}
"""


async def trials_of(api: Api, upn: str | None) -> list[tuple[Any, ...]]:
    return await bought_by(api, upn, trials=True)


def start_trial(api: Api) -> Scenario:
    def after(before: list[tuple[Any, ...]], upn: str | None) -> list[tuple[Any, ...]]:
        assert upn is not None
        return sorted([*before, (home_of(api, upn), POWER_BI_PRO, 1, "self_service", "purchaser")], key=repr)

    return Scenario(
        document=START_TRIAL,
        field="startTrial",
        returns="subscription",
        action="subscription.start_trial",
        variables=given(lambda: {"productId": POWER_BI_PRO, "card": GOOD_CARD}),
        state=trials_of,
        after=after,
        at_home=True,
    )


# -- addLicenses, removeLicenses, assignLicenses, unassignLicenses, cancelSubscription


@dataclass(frozen=True)
class Target:
    label: str
    purchaser: str  # plays "purchaser"
    other_purchaser: str  # plays "other purchaser"
    holder: str  # holds one of its licenses


SELF_SERVICE = Target(PAULAS_POWER_BI, PAULA, PETE, LEE)
TAKEN_OVER = Target(DANAS_POWER_APPS, DANA, PAULA, NOAH)  # Dana is reinstated to play "purchaser"
CENTRAL = Target(CENTRAL_POWER_BI, PAULA, PETE, SAM)  # Paula holds a license of it but did not buy it

ADD_LICENSES = f"""
mutation ($subscriptionId: ID!, $quantity: Int!, $key: String!) {{
  addLicenses(subscriptionId: $subscriptionId, quantity: $quantity, idempotencyKey: $key) {{
    subscription {{ id }} {ERRORS}
  }}
}}
"""
REMOVE_LICENSES = f"""
mutation ($subscriptionId: ID!, $quantity: Int!) {{
  removeLicenses(subscriptionId: $subscriptionId, quantity: $quantity) {{ subscription {{ id }} {ERRORS} }}
}}
"""
ASSIGN_LICENSES = f"""
mutation ($subscriptionId: ID!, $userIds: [ID!]!) {{
  assignLicenses(subscriptionId: $subscriptionId, userIds: $userIds) {{ subscription {{ id }} {ERRORS} }}
}}
"""
UNASSIGN_LICENSES = f"""
mutation ($subscriptionId: ID!, $userIds: [ID!]!) {{
  unassignLicenses(subscriptionId: $subscriptionId, userIds: $userIds) {{ subscription {{ id }} {ERRORS} }}
}}
"""
CANCEL_SUBSCRIPTION = f"""
mutation ($subscriptionId: ID!) {{
  cancelSubscription(subscriptionId: $subscriptionId, reason: "matrix") {{ subscription {{ id }} {ERRORS} }}
}}
"""


def on_subscription(
    target: Target,
    *,
    document: str,
    field: str,
    action: str,
    extra: Callable[[], Variables],
    state: Callable[[Api, str | None], Awaitable[Any]],
    after: Callable[[Any, str | None], Any],
) -> Scenario:
    return Scenario(
        document=document,
        field=field,
        returns="subscription",
        action=action,
        variables=given(lambda: {"subscriptionId": subscription_gid(target.label)} | extra()),
        state=state,
        after=after,
        nonexistent=replacing("subscriptionId", "Subscription"),
        purchaser=target.purchaser,
        other_purchaser=target.other_purchaser,
    )


def add_licenses(target: Target) -> Scenario:
    async def quantity(api: Api, upn: str | None) -> int:
        value: int = await subscription_column(api, target.label, "quantity")
        return value

    return on_subscription(
        target,
        document=ADD_LICENSES,
        field="addLicenses",
        action="subscription.add_licenses",
        extra=lambda: {"quantity": 1, "key": uuid.uuid4().hex},
        state=quantity,
        after=lambda before, upn: before + 1,
    )


def remove_licenses(target: Target) -> Scenario:
    async def quantity(api: Api, upn: str | None) -> int:
        value: int = await subscription_column(api, target.label, "quantity")
        return value

    return on_subscription(
        target,
        document=REMOVE_LICENSES,
        field="removeLicenses",
        action="subscription.remove_licenses",
        extra=lambda: {"quantity": 1},
        state=quantity,
        after=lambda before, upn: before - 1,
    )


def assign_licenses(target: Target) -> Scenario:
    async def users(api: Api, upn: str | None) -> frozenset[uuid.UUID]:
        return await holders(api, target.label)

    return on_subscription(
        target,
        document=ASSIGN_LICENSES,
        field="assignLicenses",
        action="license.assign",
        extra=lambda: {"userIds": [contoso_gid("User", demo_user_id(UNA))]},
        state=users,
        after=lambda before, upn: before | {demo_user_id(UNA)},
    )


def unassign_licenses(target: Target) -> Scenario:
    async def users(api: Api, upn: str | None) -> frozenset[uuid.UUID]:
        return await holders(api, target.label)

    return on_subscription(
        target,
        document=UNASSIGN_LICENSES,
        field="unassignLicenses",
        action="license.unassign",
        extra=lambda: {"userIds": [contoso_gid("User", demo_user_id(target.holder))]},
        state=users,
        after=lambda before, upn: before - {demo_user_id(target.holder)},
    )


def cancel_subscription(target: Target) -> Scenario:
    async def status(api: Api, upn: str | None) -> tuple[str, frozenset[uuid.UUID]]:
        return await subscription_column(api, target.label, "effective_status(s)"), await holders(api, target.label)

    return on_subscription(
        target,
        document=CANCEL_SUBSCRIPTION,
        field="cancelSubscription",
        action="subscription.cancel",
        extra=dict,
        state=status,
        after=lambda before, upn: ("deleted", frozenset()),
    )


# -- requestLicense

REQUEST_LICENSE = f"""
mutation ($productId: ID!) {{ requestLicense(productId: $productId) {{ licenseRequest {{ id }} {ERRORS} }} }}
"""


def request_license(api: Api) -> Scenario:
    async def requests(api: Api, upn: str | None) -> list[tuple[Any, ...]]:
        if upn is None:
            return []
        rows = await api.conn.fetch(
            "SELECT tenant_id, product_id, status FROM license_requests WHERE requester_user_id = $1",
            demo_user_id(upn),
        )
        return sorted_rows(rows)

    def after(before: list[tuple[Any, ...]], upn: str | None) -> list[tuple[Any, ...]]:
        assert upn is not None
        return sorted([*before, (home_of(api, upn), PROJECT_PLAN_3, "pending")], key=repr)

    return Scenario(
        document=REQUEST_LICENSE,
        field="requestLicense",
        returns="licenseRequest",
        action="license_request.create",
        variables=given(lambda: {"productId": PROJECT_PLAN_3}),
        state=requests,
        after=after,
        at_home=True,
    )


# -- addPaymentMethod

ADD_PAYMENT_METHOD = f"""
mutation ($card: CardInput!) {{ addPaymentMethod(card: $card) {{ paymentMethod {{ id }} {ERRORS} }} }}
"""


def add_payment_method(api: Api) -> Scenario:
    async def cards(api: Api, upn: str | None) -> list[tuple[Any, ...]]:
        if upn is None:
            return []
        rows = await api.conn.fetch(
            "SELECT tenant_id, brand, last4 FROM payment_methods WHERE owner_user_id = $1 AND removed_at IS NULL",
            demo_user_id(upn),
        )
        return sorted_rows(rows)

    def after(before: list[tuple[Any, ...]], upn: str | None) -> list[tuple[Any, ...]]:
        assert upn is not None
        return sorted([*before, (home_of(api, upn), "visa", "4242")], key=repr)

    return Scenario(
        document=ADD_PAYMENT_METHOD,
        field="addPaymentMethod",
        returns="paymentMethod",
        action="payment_method.add",
        variables=given(lambda: {"card": GOOD_CARD}),
        state=cards,
        after=after,
        at_home=True,
    )


# -- updateSubscriptionPaymentMethod: each actor offers a card of their own, saved in their home tenant

UPDATE_PAYMENT_METHOD = f"""
mutation ($subscriptionId: ID!, $paymentMethodId: ID!) {{
  updateSubscriptionPaymentMethod(subscriptionId: $subscriptionId, paymentMethodId: $paymentMethodId) {{
    subscription {{ id }} {ERRORS}
  }}
}}
"""
INSERT_CARD = """
INSERT INTO payment_methods (tenant_id, id, owner_user_id, kind, brand, last4, exp_month, exp_year, processor_token)
VALUES ($1, $2, $3, 'credit_card', 'visa', '1111', 12, 2030, $4)
"""


def own_card_id(upn: str | None) -> uuid.UUID:
    return demo_id(f"test-card:{upn}")


async def own_card_variables(api: Api, upn: str | None) -> Variables:
    home = CONTOSO_ID
    if upn is not None:
        home = home_of(api, upn)
        await api.conn.execute(INSERT_CARD, home, own_card_id(upn), demo_user_id(upn), f"tok_test_{uuid.uuid4().hex}")
    return {
        "subscriptionId": subscription_gid(PAULAS_POWER_BI),
        "paymentMethodId": encode_id("PaymentMethod", own_card_id(upn), home),
    }


async def paulas_power_bi_card(api: Api, upn: str | None) -> uuid.UUID:
    value: uuid.UUID = await subscription_column(api, PAULAS_POWER_BI, "payment_method_id")
    return value


UPDATE_PAYMENT_METHOD_OF_PAULAS_POWER_BI = Scenario(
    document=UPDATE_PAYMENT_METHOD,
    field="updateSubscriptionPaymentMethod",
    returns="subscription",
    action="subscription.update_payment_method",
    variables=own_card_variables,
    state=paulas_power_bi_card,
    after=lambda before, upn: own_card_id(upn),
    nonexistent=replacing("subscriptionId", "Subscription"),
)

# -- payInvoice

PAY_INVOICE = f"""
mutation ($invoiceId: ID!, $key: String!) {{
  payInvoice(invoiceId: $invoiceId, idempotencyKey: $key) {{ invoice {{ id }} {ERRORS} }}
}}
"""


async def paulas_invoice_status(api: Api, upn: str | None) -> str:
    value: str = await api.conn.fetchval(
        "SELECT status FROM invoices WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, PAULAS_OPEN_INVOICE
    )
    return value


PAY_PAULAS_OPEN_INVOICE = Scenario(
    document=PAY_INVOICE,
    field="payInvoice",
    returns="invoice",
    action="invoice.pay",
    variables=given(lambda: {"invoiceId": contoso_gid("Invoice", PAULAS_OPEN_INVOICE), "key": uuid.uuid4().hex}),
    state=paulas_invoice_status,
    after=lambda before, upn: "paid",
    nonexistent=replacing("invoiceId", "Invoice"),
)

# -- setSelfServicePolicy

SET_POLICY = f"""
mutation ($tenantId: ID!, $productId: ID!, $value: SelfServicePolicyValue!) {{
  setSelfServicePolicy(tenantId: $tenantId, productId: $productId, value: $value) {{ policy {{ value }} {ERRORS} }}
}}
"""


async def contoso_power_bi_policy(api: Api, upn: str | None) -> str:
    value: str = await api.conn.fetchval(
        "SELECT COALESCE((SELECT value FROM self_service_policies WHERE tenant_id = $1 AND product_id = $2),"
        " 'enabled')",
        CONTOSO_ID,
        POWER_BI_PRO,
    )
    return value


DISABLE_POWER_BI_IN_CONTOSO = Scenario(
    document=SET_POLICY,
    field="setSelfServicePolicy",
    returns="policy",
    action="self_service_policy.update",
    variables=given(
        lambda: {"tenantId": encode_id("Tenant", CONTOSO_ID), "productId": POWER_BI_PRO, "value": "DISABLED"}
    ),
    state=contoso_power_bi_policy,
    after=lambda before, upn: "disabled",
    nonexistent=lambda v: v | {"tenantId": encode_id("Tenant", uuid.uuid4())},
)

# -- requestCancellation, takeControlOfSubscription (on Paula's Power BI Pro)

REQUEST_CANCELLATION = f"""
mutation ($subscriptionId: ID!) {{
  requestCancellation(subscriptionId: $subscriptionId, message: "Please move to the central licenses.") {{
    subscription {{ id }} {ERRORS}
  }}
}}
"""
TAKE_CONTROL = f"""
mutation ($subscriptionId: ID!) {{
  takeControlOfSubscription(subscriptionId: $subscriptionId) {{ subscription {{ id }} {ERRORS} }}
}}
"""


async def cancellation_requesters(api: Api, upn: str | None) -> list[uuid.UUID]:
    rows = await api.conn.fetch(
        "SELECT requested_by FROM cancellation_requests WHERE tenant_id = $1 AND subscription_id = $2"
        " AND status = 'pending' ORDER BY created_at, requested_by",
        CONTOSO_ID,
        subscription_uuid(PAULAS_POWER_BI),
    )
    return [r["requested_by"] for r in rows]


ASK_PAULA_TO_CANCEL = Scenario(
    document=REQUEST_CANCELLATION,
    field="requestCancellation",
    returns="subscription",
    action="subscription.request_cancellation",
    variables=given(lambda: {"subscriptionId": subscription_gid(PAULAS_POWER_BI)}),
    state=cancellation_requesters,
    after=lambda before, upn: [*before, demo_user_id(upn or "")],
    nonexistent=replacing("subscriptionId", "Subscription"),
)


async def paulas_power_bi_control(api: Api, upn: str | None) -> str:
    value: str = await subscription_column(api, PAULAS_POWER_BI, "controlled_by")
    return value


TAKE_OVER_PAULAS_POWER_BI = Scenario(
    document=TAKE_CONTROL,
    field="takeControlOfSubscription",
    returns="subscription",
    action="subscription.take_over",
    variables=given(lambda: {"subscriptionId": subscription_gid(PAULAS_POWER_BI)}),
    state=paulas_power_bi_control,
    after=lambda before, upn: "admins",
    nonexistent=replacing("subscriptionId", "Subscription"),
)

# -- moveUsers: off Dana's taken-over Power Apps onto the central Power Apps

MOVE_USERS = f"""
mutation ($from: ID!, $to: ID!) {{
  moveUsers(fromSubscriptionId: $from, toSubscriptionId: $to) {{ fromSubscription {{ id }} {ERRORS} }}
}}
"""


async def power_apps_users(api: Api, upn: str | None) -> tuple[str, frozenset[uuid.UUID], frozenset[uuid.UUID]]:
    status: str = await subscription_column(api, DANAS_POWER_APPS, "effective_status(s)")
    return status, await holders(api, DANAS_POWER_APPS), await holders(api, CENTRAL_POWER_APPS)


MOVE_DANAS_USERS_TO_CENTRAL = Scenario(
    document=MOVE_USERS,
    field="moveUsers",
    returns="fromSubscription",
    action="subscription.move_users",
    variables=given(lambda: {"from": subscription_gid(DANAS_POWER_APPS), "to": subscription_gid(CENTRAL_POWER_APPS)}),
    state=power_apps_users,
    after=lambda before, upn: ("deleted", frozenset(), before[2] | before[1]),
    nonexistent=replacing("from", "Subscription"),
    purchaser=DANA,
    other_purchaser=PAULA,
)

# -- reactivateSubscription: Pete's Project Plan 3 ran out ten days ago

REACTIVATE = f"""
mutation ($subscriptionId: ID!) {{
  reactivateSubscription(subscriptionId: $subscriptionId) {{ subscription {{ id }} {ERRORS} }}
}}
"""


async def petes_project_status(api: Api, upn: str | None) -> str:
    value: str = await subscription_column(api, PETES_EXPIRED_PROJECT, "effective_status(s)")
    return value


REACTIVATE_PETES_PROJECT = Scenario(
    document=REACTIVATE,
    field="reactivateSubscription",
    returns="subscription",
    action="subscription.reactivate",
    variables=given(lambda: {"subscriptionId": subscription_gid(PETES_EXPIRED_PROJECT)}),
    state=petes_project_status,
    after=lambda before, upn: "active",
    nonexistent=replacing("subscriptionId", "Subscription"),
    purchaser=PETE,
    other_purchaser=PAULA,
)


async def petes_project_taken_over(api: Api, upn: str | None) -> Variables:
    """The same expired subscription, which the admins took control of before it ran out."""
    await api.conn.execute(
        "UPDATE subscriptions SET controlled_by = 'admins' WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        subscription_uuid(PETES_EXPIRED_PROJECT),
    )
    return {"subscriptionId": subscription_gid(PETES_EXPIRED_PROJECT)}


REACTIVATE_PETES_TAKEN_OVER_PROJECT = Scenario(
    document=REACTIVATE,
    field="reactivateSubscription",
    returns="subscription",
    action="subscription.reactivate",
    variables=petes_project_taken_over,
    state=petes_project_status,
    after=lambda before, upn: "active",
    nonexistent=replacing("subscriptionId", "Subscription"),
    purchaser=PETE,
    other_purchaser=PAULA,
)

# -- approveLicenseRequest, denyLicenseRequest: Lee's pending request for Project Plan 3

APPROVE = f"""
mutation ($requestId: ID!) {{ approveLicenseRequest(requestId: $requestId) {{ licenseRequest {{ id }} {ERRORS} }} }}
"""
DENY = f"""
mutation ($requestId: ID!) {{ denyLicenseRequest(requestId: $requestId) {{ licenseRequest {{ id }} {ERRORS} }} }}
"""


async def lees_request_status(api: Api, upn: str | None) -> str:
    value: str = await api.conn.fetchval(
        "SELECT status FROM license_requests WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, LEES_PENDING_REQUEST
    )
    return value


def decide_lees_request(approve: bool) -> Scenario:
    return Scenario(
        document=APPROVE if approve else DENY,
        field="approveLicenseRequest" if approve else "denyLicenseRequest",
        returns="licenseRequest",
        action="license_request.approve" if approve else "license_request.deny",
        variables=given(lambda: {"requestId": contoso_gid("LicenseRequest", LEES_PENDING_REQUEST)}),
        state=lees_request_status,
        after=lambda before, upn: "approved" if approve else "denied",
        nonexistent=replacing("requestId", "LicenseRequest"),
    )


# -- answerCancellationRequest: Alex asked Paula to cancel her Power BI Pro

ANSWER_CANCELLATION = f"""
mutation ($requestId: ID!, $accept: Boolean!) {{
  answerCancellationRequest(requestId: $requestId, accept: $accept, message: "Answered.") {{
    cancellationRequest {{ id }} {ERRORS}
  }}
}}
"""
PAULAS_CANCELLATION_REQUEST = demo_id("cancellation_request:matrix-paula-power-bi-pro")


async def alex_asks_paula_to_cancel(api: Api, accept: bool) -> Variables:
    await api.conn.execute(
        "INSERT INTO cancellation_requests (tenant_id, id, subscription_id, requested_by, requested_by_tenant_id,"
        " message, status, created_at) VALUES ($1, $2, $3, $4, $1, 'Please cancel.', 'pending', app_now())",
        CONTOSO_ID,
        PAULAS_CANCELLATION_REQUEST,
        subscription_uuid(PAULAS_POWER_BI),
        demo_user_id(ALEX),
    )
    return {"requestId": contoso_gid("CancellationRequest", PAULAS_CANCELLATION_REQUEST), "accept": accept}


async def paulas_cancellation_request(api: Api, upn: str | None) -> tuple[str, str]:
    status: str = await api.conn.fetchval(
        "SELECT status FROM cancellation_requests WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        PAULAS_CANCELLATION_REQUEST,
    )
    return status, await subscription_column(api, PAULAS_POWER_BI, "effective_status(s)")


def answer_paulas_request(accept: bool) -> Scenario:
    async def variables(api: Api, upn: str | None) -> Variables:
        return await alex_asks_paula_to_cancel(api, accept)

    return Scenario(
        document=ANSWER_CANCELLATION,
        field="answerCancellationRequest",
        returns="cancellationRequest",
        action="cancellation_request.accept" if accept else "cancellation_request.decline",
        variables=variables,
        state=paulas_cancellation_request,
        after=lambda before, upn: ("accepted", "deleted") if accept else ("declined", before[1]),
        nonexistent=replacing("requestId", "CancellationRequest"),
    )


# -- markUserDeparted: Una

MARK_DEPARTED = f"""
mutation ($userId: ID!) {{ markUserDeparted(userId: $userId) {{ user {{ id }} {ERRORS} }} }}
"""


async def unas_standing(api: Api, upn: str | None) -> tuple[bool, bool]:
    row = await api.conn.fetchrow(
        "SELECT departed_at IS NOT NULL AS departed, account_enabled FROM users WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_user_id(UNA),
    )
    return row["departed"], row["account_enabled"]


MARK_UNA_DEPARTED = Scenario(
    document=MARK_DEPARTED,
    field="markUserDeparted",
    returns="user",
    action="user.mark_departed",
    variables=given(lambda: {"userId": contoso_gid("User", demo_user_id(UNA))}),
    state=unas_standing,
    after=lambda before, upn: (True, False),
    nonexistent=replacing("userId", "User"),
)

# -- reinstateUser: Dana, who left

REINSTATE_USER = f"""
mutation ($userId: ID!) {{ reinstateUser(userId: $userId) {{ user {{ id }} {ERRORS} }} }}
"""


async def danas_standing(api: Api, upn: str | None) -> tuple[bool, bool]:
    row = await api.conn.fetchrow(
        "SELECT departed_at IS NOT NULL AS departed, account_enabled FROM users WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_user_id(DANA),
    )
    return row["departed"], row["account_enabled"]


REINSTATE_DANA = Scenario(
    document=REINSTATE_USER,
    field="reinstateUser",
    returns="user",
    action="user.reinstate",
    variables=given(lambda: {"userId": contoso_gid("User", demo_user_id(DANA))}),
    state=danas_standing,
    after=lambda before, upn: (False, True),
    nonexistent=replacing("userId", "User"),
)

# ---------------------------------------------------------------------------------------------
# Running one cell of the matrix

LATEST_AUDIT_EVENT = "SELECT COALESCE(max(id), 0) FROM audit_events"
REINSTATE_ACCOUNT = "UPDATE users SET account_enabled = true, departed_at = NULL WHERE tenant_id = $1 AND id = $2"
AUDIT_EVENTS_SINCE = """
SELECT action, outcome, error_codes, actor_user_id, actor_tenant_id, tenant_id, on_behalf_of_tenant_id
  FROM audit_events WHERE id > $1 ORDER BY id
"""


async def row_counts(api: Api) -> dict[str, int]:
    tables = [
        r["tablename"]
        for r in await api.conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    ]
    # Table names come from the catalogue, not from a request.
    counts = ", ".join(f'(SELECT count(*) FROM "{t}") AS "{t}"' for t in tables)
    row = await api.conn.fetchrow(f"SELECT {counts}")
    return dict(row)


async def sign_in(api: Api, scenario: Scenario, actor: str) -> str | None:
    if actor in PARTNER_ROLES:
        await api.conn.execute(SET_PARTNER_ROLES, CONTOSO_ID, ADATUM_ID, PARTNER_ROLES[actor])
    if actor == "purchaser":
        if scenario.purchaser == DANA:
            # She left, and a disabled account signs in to nothing: back (reinstated) to play the
            # purchaser of what the admins took over while she was gone.
            await api.conn.execute(REINSTATE_ACCOUNT, CONTOSO_ID, demo_user_id(DANA))
        return scenario.purchaser
    if actor == "other_purchaser":
        return scenario.other_purchaser
    return FIXED_ACTORS[actor]


async def perform(api: Api, scenario: Scenario, upn: str | None, variables: Variables) -> dict[str, Any]:
    data = await api.data(scenario.document, as_user=upn, variables=variables)
    payload: dict[str, Any] = data[scenario.field]
    return payload


async def attempt(api: Api, scenario: Scenario, actor: str, expected: str) -> None:
    upn = await sign_in(api, scenario, actor)
    variables = await scenario.variables(api, upn)
    before = await scenario.state(api, upn)
    counts = await row_counts(api)
    last_event = await api.conn.fetchval(LATEST_AUDIT_EVENT)

    payload = await perform(api, scenario, upn, variables)

    rows = await api.conn.fetch(AUDIT_EVENTS_SINCE, last_event)
    events = [(r["action"], r["outcome"], list(r["error_codes"])) for r in rows]
    if upn is not None:
        # Recorded in the tenant acted on, naming the actor; a partner acts on behalf of the customer.
        # An actor with no reach into Contoso is recorded at home: where a refusal lands never tells
        # whether what it named exists.
        home = home_of(api, upn)
        reaches_contoso = home == CONTOSO_ID or actor.startswith("partner_")
        tenant = home if scenario.at_home or not reaches_contoso else CONTOSO_ID
        assert [(r["actor_user_id"], r["actor_tenant_id"], r["tenant_id"]) for r in rows] == [
            (demo_user_id(upn), home, tenant)
        ]
        if actor.startswith("partner_") or home == CONTOSO_ID:
            assert [r["on_behalf_of_tenant_id"] for r in rows] == [None if tenant == home else tenant]
    if expected == ACCEPTED:
        assert payload["userErrors"] == []
        assert payload[scenario.returns] is not None
        assert await scenario.state(api, upn) == scenario.after(before, upn)
        assert events == [(scenario.action, "accepted", [])]
        return

    assert [e["code"] for e in payload["userErrors"]] == [expected], payload["userErrors"]
    assert payload[scenario.returns] is None
    assert await scenario.state(api, upn) == before
    if upn is None:
        assert events == []
        assert await row_counts(api) == counts
    else:
        assert events == [(scenario.action, "refused", [expected])]
        assert await row_counts(api) == counts | {"audit_events": counts["audit_events"] + 1}
    if expected == NOT_FOUND and scenario.nonexistent is not None:
        # Hidden and absent look alike: same code, same field, same message.
        absent = await perform(api, scenario, upn, scenario.nonexistent(variables))
        assert absent == payload


# ---------------------------------------------------------------------------------------------
# The world the matrix stands on


async def test_the_seed_facts_the_matrix_stands_on_match_the_database(api: Api) -> None:
    """Plain SQL, not the API: guards the targets above against a changed seed."""
    subscriptions = {
        r["id"]: (r["channel"], r["purchaser_user_id"], r["controlled_by"], r["quantity"], r["status"])
        for r in await api.conn.fetch(
            "SELECT s.id, s.channel, s.purchaser_user_id, s.controlled_by, s.quantity, effective_status(s) AS status"
            " FROM subscriptions s WHERE s.tenant_id = $1",
            CONTOSO_ID,
        )
    }
    assert subscriptions[subscription_uuid(PAULAS_POWER_BI)] == (
        "self_service",
        demo_user_id(PAULA),
        "purchaser",
        10,
        "active",
    )
    assert subscriptions[subscription_uuid(PAULAS_POWER_APPS)] == (
        "self_service",
        demo_user_id(PAULA),
        "purchaser",
        5,
        "active",
    )
    assert subscriptions[subscription_uuid(DANAS_POWER_APPS)] == (
        "self_service",
        demo_user_id(DANA),
        "admins",
        3,
        "active",
    )
    assert subscriptions[subscription_uuid(CENTRAL_POWER_BI)] == ("central", None, "admins", 50, "active")
    assert subscriptions[subscription_uuid(CENTRAL_POWER_APPS)] == ("central", None, "admins", 20, "active")
    assert subscriptions[subscription_uuid(PETES_EXPIRED_PROJECT)][1:] == (
        demo_user_id(PETE),
        "purchaser",
        2,
        "expired",
    )
    assert await holders(api, PAULAS_POWER_BI) >= {demo_user_id(LEE)}
    assert demo_user_id(UNA) not in await holders(api, PAULAS_POWER_BI)
    assert await holders(api, DANAS_POWER_APPS) == {demo_user_id(NOAH)}
    assert demo_user_id(SAM) in await holders(api, CENTRAL_POWER_BI)
    assert len(await holders(api, CENTRAL_POWER_APPS)) == 3
    assert await paulas_invoice_status(api, None) == "open"
    assert await api.conn.fetchval(
        "SELECT billed_user_id FROM invoices WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, PAULAS_OPEN_INVOICE
    ) == demo_user_id(PAULA)
    assert await lees_request_status(api, None) == "pending"
    assert await unas_standing(api, None) == (False, True)
    relationships = {
        r["partner_tenant_id"]: (list(r["roles"]), r["status"])
        for r in await api.conn.fetch(
            "SELECT partner_tenant_id, roles, status FROM partner_relationships WHERE tenant_id = $1", CONTOSO_ID
        )
    }
    assert relationships == {ADATUM_ID: (["global_admin"], "active"), LITWARE_ID: (["billing_admin"], "expired")}
    # Project Plan 3 is blocked only at Contoso; Power BI Pro is enabled there.
    policies = {
        (r["tenant_id"], r["product_id"]): r["value"]
        for r in await api.conn.fetch("SELECT tenant_id, product_id, value FROM self_service_policies")
    }
    assert [k for k, v in policies.items() if k[1] == PROJECT_PLAN_3 and v != "enabled"] == [
        (CONTOSO_ID, PROJECT_PLAN_3)
    ]
    assert policies[(CONTOSO_ID, POWER_BI_PRO)] == "enabled"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_names_every_actor_once(name: str) -> None:
    assert set(TABLES[name]) == set(ACTORS)


# ---------------------------------------------------------------------------------------------
# Buying


@pytest.mark.parametrize(("actor", "expected"), matrix(BUY_IN_CONTOSO))
async def test_any_user_of_contoso_but_a_guest_buys_there_and_a_partner_never_buys_for_it(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, PURCHASE_IN_CONTOSO, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(AT_HOME))
async def test_a_trial_starts_in_the_callers_own_tenant_and_never_for_a_guest(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, start_trial(api), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(REQUEST_PROJECT))
async def test_a_license_request_is_filed_in_the_callers_own_tenant_for_a_product_blocked_there(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, request_license(api), actor, expected)


# ---------------------------------------------------------------------------------------------
# Licenses and life of a purchaser-controlled subscription: its purchaser only


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_CONTROLS))
async def test_only_the_purchaser_adds_licenses_to_a_subscription_they_control(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, add_licenses(SELF_SERVICE), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_CONTROLS))
async def test_only_the_purchaser_removes_licenses_from_a_subscription_they_control(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, remove_licenses(SELF_SERVICE), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_CONTROLS))
async def test_only_the_purchaser_assigns_a_subscription_they_control_admins_must_take_control_first(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, assign_licenses(SELF_SERVICE), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_CONTROLS))
async def test_only_the_purchaser_unassigns_a_subscription_they_control_admins_must_take_control_first(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, unassign_licenses(SELF_SERVICE), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_CONTROLS))
async def test_only_the_purchaser_cancels_a_subscription_they_control(api: Api, actor: str, expected: str) -> None:
    await attempt(api, cancel_subscription(SELF_SERVICE), actor, expected)


# ---------------------------------------------------------------------------------------------
# ... and of one the admins took over (Dana's Power Apps): the admins only, never its purchaser


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_TOOK_CONTROL))
async def test_after_a_take_over_admins_add_licenses_and_the_purchaser_cannot(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, add_licenses(TAKEN_OVER), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_TOOK_CONTROL))
async def test_after_a_take_over_admins_remove_licenses_and_the_purchaser_cannot(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, remove_licenses(TAKEN_OVER), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_TOOK_CONTROL))
async def test_after_a_take_over_admins_assign_and_the_purchaser_cannot(api: Api, actor: str, expected: str) -> None:
    await attempt(api, assign_licenses(TAKEN_OVER), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_TOOK_CONTROL))
async def test_after_a_take_over_admins_unassign_and_the_purchaser_cannot(api: Api, actor: str, expected: str) -> None:
    await attempt(api, unassign_licenses(TAKEN_OVER), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_TOOK_CONTROL))
async def test_after_a_take_over_admins_cancel_and_the_purchaser_cannot(api: Api, actor: str, expected: str) -> None:
    await attempt(api, cancel_subscription(TAKEN_OVER), actor, expected)


# ---------------------------------------------------------------------------------------------
# ... and of a centrally bought one: admins and partners with an admin grant; members do not see it


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_BOUGHT_IT))
async def test_admins_add_licenses_to_a_central_subscription(api: Api, actor: str, expected: str) -> None:
    await attempt(api, add_licenses(CENTRAL), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_BOUGHT_IT))
async def test_admins_remove_licenses_from_a_central_subscription(api: Api, actor: str, expected: str) -> None:
    await attempt(api, remove_licenses(CENTRAL), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_BOUGHT_IT))
async def test_admins_assign_a_central_subscription(api: Api, actor: str, expected: str) -> None:
    await attempt(api, assign_licenses(CENTRAL), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_BOUGHT_IT))
async def test_admins_unassign_a_central_subscription(api: Api, actor: str, expected: str) -> None:
    await attempt(api, unassign_licenses(CENTRAL), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_BOUGHT_IT))
async def test_admins_cancel_a_central_subscription(api: Api, actor: str, expected: str) -> None:
    await attempt(api, cancel_subscription(CENTRAL), actor, expected)


# ---------------------------------------------------------------------------------------------
# Cards and bills: the purchaser's own, as the one billed


@pytest.mark.parametrize(("actor", "expected"), matrix(AT_HOME))
async def test_a_card_is_saved_to_its_owner_in_their_own_tenant_and_never_by_a_guest(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, add_payment_method(api), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_ONLY))
async def test_only_the_purchaser_bills_their_subscription_to_a_card_of_their_own(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, UPDATE_PAYMENT_METHOD_OF_PAULAS_POWER_BI, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_ONLY))
async def test_only_the_billed_purchaser_pays_an_invoice(api: Api, actor: str, expected: str) -> None:
    await attempt(api, PAY_PAULAS_OPEN_INVOICE, actor, expected)


# ---------------------------------------------------------------------------------------------
# Governance (rules 6, 10, 11, 12)


@pytest.mark.parametrize(("actor", "expected"), matrix(GOVERNANCE))
async def test_policies_are_set_by_global_or_billing_admins_or_a_partner_with_a_global_admin_grant(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, DISABLE_POWER_BI_IN_CONTOSO, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(GOVERNANCE))
async def test_take_over_is_for_global_or_billing_admins_or_a_partner_with_a_global_admin_grant(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, TAKE_OVER_PAULAS_POWER_BI, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMIN_ACTION))
async def test_admins_and_partners_with_an_admin_grant_ask_a_purchaser_to_cancel(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, ASK_PAULA_TO_CANCEL, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMIN_ACTION))
async def test_admins_move_the_users_of_a_taken_over_subscription_to_a_central_one(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, MOVE_DANAS_USERS_TO_CENTRAL, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_CONTROLS))
async def test_the_purchaser_reactivates_an_expired_subscription_they_control(
    api: Api, actor: str, expected: str
) -> None:
    await attempt(api, REACTIVATE_PETES_PROJECT, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMINS_TOOK_CONTROL))
async def test_admins_reactivate_an_expired_subscription_they_took_over(api: Api, actor: str, expected: str) -> None:
    await attempt(api, REACTIVATE_PETES_TAKEN_OVER_PROJECT, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMIN_ACTION))
async def test_admins_approve_license_requests_and_the_requester_cannot(api: Api, actor: str, expected: str) -> None:
    await attempt(api, decide_lees_request(approve=True), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_ONLY))
async def test_only_the_purchaser_asked_accepts_a_cancellation_request(api: Api, actor: str, expected: str) -> None:
    await attempt(api, answer_paulas_request(True), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(PURCHASER_ONLY))
async def test_only_the_purchaser_asked_declines_a_cancellation_request(api: Api, actor: str, expected: str) -> None:
    await attempt(api, answer_paulas_request(False), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(ADMIN_ACTION))
async def test_admins_deny_license_requests_and_the_requester_cannot(api: Api, actor: str, expected: str) -> None:
    await attempt(api, decide_lees_request(approve=False), actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(USER_ADMIN))
async def test_global_admins_record_that_a_user_left(api: Api, actor: str, expected: str) -> None:
    await attempt(api, MARK_UNA_DEPARTED, actor, expected)


@pytest.mark.parametrize(("actor", "expected"), matrix(USER_ADMIN))
async def test_global_admins_reinstate_a_user_who_left(api: Api, actor: str, expected: str) -> None:
    await attempt(api, REINSTATE_DANA, actor, expected)


# ---------------------------------------------------------------------------------------------
# The rules the matrix cells combine into


async def errors_of(api: Api, document: str, upn: str, variables: Variables) -> list[tuple[str, list[str] | None]]:
    data = await api.data(document, as_user=upn, variables=variables)
    (payload,) = data.values()
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_a_take_over_moves_control_from_the_purchaser_to_the_admins(api: Api) -> None:
    apps = {"subscriptionId": subscription_gid(PAULAS_POWER_APPS)}
    una = {"userIds": [contoso_gid("User", demo_user_id(UNA))]}
    # Before: Paula governs it, the admins do not.
    assert await errors_of(api, ASSIGN_LICENSES, ALEX, apps | una) == [(NOT_IN_CONTROL, ["subscriptionId"])]
    assert await errors_of(api, TAKE_CONTROL, ALEX, apps) == []
    assert await subscription_column(api, PAULAS_POWER_APPS, "controlled_by") == "admins"
    # After: the reverse, for every change to its licenses and life.
    key = {"quantity": 1, "key": uuid.uuid4().hex}
    purchaser_changes: list[tuple[str, Variables]] = [
        (ASSIGN_LICENSES, apps | una),
        (UNASSIGN_LICENSES, apps | {"userIds": [contoso_gid("User", demo_user_id(LEE))]}),
        (ADD_LICENSES, apps | key),
        (REMOVE_LICENSES, apps | {"quantity": 1}),
        (CANCEL_SUBSCRIPTION, apps),
    ]
    for document, variables in purchaser_changes:
        assert await errors_of(api, document, PAULA, variables) == [(NOT_IN_CONTROL, ["subscriptionId"])]
    assert await errors_of(api, ASSIGN_LICENSES, ALEX, apps | una) == []
    assert demo_user_id(UNA) in await holders(api, PAULAS_POWER_APPS)
    # Taking control twice is refused for what it is.
    assert await errors_of(api, TAKE_CONTROL, BEA, apps) == [("ALREADY_CONTROLLED", ["subscriptionId"])]


async def test_admins_move_no_users_off_a_subscription_its_purchaser_still_controls(api: Api) -> None:
    variables = {"from": subscription_gid(PAULAS_POWER_APPS), "to": subscription_gid(CENTRAL_POWER_APPS)}
    assert await errors_of(api, MOVE_USERS, ALEX, variables) == [(NOT_IN_CONTROL, ["fromSubscriptionId"])]
    assert await holders(api, PAULAS_POWER_APPS) == {demo_user_id(LEE), demo_user_id(TESS)}


async def test_a_purchaser_cannot_bill_her_subscription_to_a_card_that_is_not_hers(api: Api) -> None:
    petes_card = contoso_gid("PaymentMethod", demo_id(f"payment_method:{PETE}:current"))
    paulas_removed_card = contoso_gid("PaymentMethod", demo_id(f"payment_method:{PAULA}:replaced"))
    for card in (petes_card, paulas_removed_card, nowhere("PaymentMethod")):
        variables = {"subscriptionId": subscription_gid(PAULAS_POWER_BI), "paymentMethodId": card}
        assert await errors_of(api, UPDATE_PAYMENT_METHOD, PAULA, variables) == [(NOT_FOUND, ["paymentMethodId"])]
    assert await paulas_power_bi_card(api, None) == demo_id(f"payment_method:{PAULA}:current")


async def test_request_cancellation_is_only_for_a_self_service_subscription_its_purchaser_controls(api: Api) -> None:
    assert await errors_of(api, REQUEST_CANCELLATION, ALEX, {"subscriptionId": subscription_gid(CENTRAL_POWER_BI)}) == [
        ("NOT_SELF_SERVICE", ["subscriptionId"])
    ]
    assert await errors_of(api, REQUEST_CANCELLATION, ALEX, {"subscriptionId": subscription_gid(DANAS_POWER_APPS)}) == [
        ("ALREADY_CONTROLLED", ["subscriptionId"])
    ]


def in_unknown_tenant(type_name: str) -> str:
    """A well-formed ID whose tenant does not exist at all."""
    return encode_id(type_name, uuid.uuid4(), uuid.uuid4())


UNKNOWN_TENANT_CASES = [
    pytest.param(
        PURCHASE,
        purchase_variables,
        lambda: {"input": purchase_variables()["input"] | {"tenantId": encode_id("Tenant", uuid.uuid4())}},
        id="purchaseSubscription",
    ),
    pytest.param(
        ADD_LICENSES,
        lambda: {"subscriptionId": subscription_gid(PAULAS_POWER_BI), "quantity": 1, "key": uuid.uuid4().hex},
        lambda: {"subscriptionId": in_unknown_tenant("Subscription"), "quantity": 1, "key": uuid.uuid4().hex},
        id="addLicenses",
    ),
    pytest.param(
        PAY_INVOICE,
        lambda: {"invoiceId": contoso_gid("Invoice", PAULAS_OPEN_INVOICE), "key": uuid.uuid4().hex},
        lambda: {"invoiceId": in_unknown_tenant("Invoice"), "key": uuid.uuid4().hex},
        id="payInvoice",
    ),
    pytest.param(
        REMOVE_LICENSES,
        lambda: {"subscriptionId": subscription_gid(PAULAS_POWER_BI), "quantity": 1},
        lambda: {"subscriptionId": in_unknown_tenant("Subscription"), "quantity": 1},
        id="removeLicenses",
    ),
    pytest.param(
        SET_POLICY,
        lambda: {"tenantId": encode_id("Tenant", CONTOSO_ID), "productId": POWER_BI_PRO, "value": "DISABLED"},
        lambda: {"tenantId": encode_id("Tenant", uuid.uuid4()), "productId": POWER_BI_PRO, "value": "DISABLED"},
        id="setSelfServicePolicy",
    ),
]


@pytest.mark.parametrize(("document", "hidden", "unknown"), UNKNOWN_TENANT_CASES)
async def test_an_id_in_a_tenant_that_does_not_exist_is_refused_like_one_outside_reach(
    api: Api, document: str, hidden: Callable[[], Variables], unknown: Callable[[], Variables]
) -> None:
    """An outsider must not tell "Contoso exists but is not mine" from "no such tenant"."""
    last_event = await api.conn.fetchval(LATEST_AUDIT_EVENT)
    outside_reach = await api.execute(document, as_user=OLGA, variables=hidden())
    nonexistent = await api.execute(document, as_user=OLGA, variables=unknown())
    assert outside_reach.errors is None
    assert nonexistent.errors is None, nonexistent.errors
    assert nonexistent.data == outside_reach.data
    assert outside_reach.data is not None
    (payload,) = outside_reach.data.values()
    assert [e["code"] for e in payload["userErrors"]] == [NOT_FOUND]
    outcomes = [(r["outcome"], list(r["error_codes"])) for r in await api.conn.fetch(AUDIT_EVENTS_SINCE, last_event)]
    assert outcomes == [("refused", [NOT_FOUND])] * 2


MALFORMED_ID_CASES = [
    pytest.param(
        ADD_LICENSES,
        {"subscriptionId": "not-an-id", "quantity": 1, "key": "k"},
        "subscription.add_licenses",
        id="addLicenses",
    ),
    pytest.param(CANCEL_SUBSCRIPTION, {"subscriptionId": "not-an-id"}, "subscription.cancel", id="cancelSubscription"),
    pytest.param(
        PAY_INVOICE,
        {"invoiceId": contoso_gid("Subscription", uuid.uuid4()), "key": "k"},
        "invoice.pay",
        id="payInvoice",
    ),
    pytest.param(MARK_DEPARTED, {"userId": "not-an-id"}, "user.mark_departed", id="markUserDeparted"),
    pytest.param(
        ANSWER_CANCELLATION,
        {"requestId": "not-an-id", "accept": True},
        "cancellation_request.accept",
        id="answerCancellationRequest",
    ),
    pytest.param(REINSTATE_USER, {"userId": "not-an-id"}, "user.reinstate", id="reinstateUser"),
]


@pytest.mark.parametrize(("document", "variables", "action"), MALFORMED_ID_CASES)
async def test_a_refusal_for_an_id_that_names_nothing_is_audited_too(
    api: Api, document: str, variables: Variables, action: str
) -> None:
    """The audit trail records every mutation: a malformed or mistyped ID is refused, and recorded."""
    last_event = await api.conn.fetchval(LATEST_AUDIT_EVENT)
    assert [code for code, _ in await errors_of(api, document, ALEX, variables)] == [NOT_FOUND]
    events = [
        (r["action"], r["outcome"], list(r["error_codes"]))
        for r in await api.conn.fetch(AUDIT_EVENTS_SINCE, last_event)
    ]
    assert events == [(action, "refused", [NOT_FOUND])]
