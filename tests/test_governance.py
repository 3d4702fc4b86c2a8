"""What admins govern: self-service policies per product, centralizing (take-over, moving users),
departed purchasers' subscriptions, partners' grants, reactivation and license requests."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from purchasegraph.catalogue import POWER_BI_PRO, PROJECT_PLAN_3, VISIO_PLAN_1
from purchasegraph.demo.actors import (
    ALEX,
    BEA,
    CONTOSO_ID,
    DANA,
    GUS,
    LEE,
    LIA,
    MIA,
    NOAH,
    OLGA,
    OLIVIA,
    PAT,
    PAULA,
    PETE,
    RITA,
    SAM,
    UNA,
    WILL,
    WOODGROVE_ID,
    demo_id,
    demo_tenant_id,
    demo_user_id,
)
from purchasegraph.demo.global_ids import (
    CENTRAL_POWER_APPS,
    CENTRAL_POWER_BI,
    GOOD_CARD,
    PAULAS_POWER_BI,
    PAULAS_POWER_BI_UUID,
    PETES_PROJECT_EXPIRED,
    PETES_RPA_DELETED,
    SAMS_VISIO_DISABLED,
    subscription,
    user,
)
from purchasegraph.gateway.refusals import RequestCode, RequestError
from tests.conftest import Api
from tests.mutations import (
    SUBSCRIPTION,
    add,
    assign,
    holders,
    mutate,
    problems,
    purchase,
    read,
    remove,
    unassign,
)

DANAS_TAKEN_OVER = subscription("dana-power-apps-taken-over")
PETES_TRIAL = subscription("pete-visio-plan-1-trial")

SET_POLICY = """
mutation ($t: ID!, $p: ID!, $v: SelfServicePolicyValue!) {
  setSelfServicePolicy(tenantId: $t, productId: $p, value: $v) {
    policy { value updatedAt product { productId } }
    userErrors { code field message }
  }
}
"""
REQUEST_CANCELLATION = (
    "mutation ($s: ID!, $m: String!) { requestCancellation(subscriptionId: $s, message: $m) {"
    + SUBSCRIPTION.replace("id status quantity", "id status quantity controlledBy")
    + "} }"
)
TAKE_CONTROL = (
    "mutation ($s: ID!) { takeControlOfSubscription(subscriptionId: $s) {"
    + SUBSCRIPTION.replace("id status quantity", "id status quantity controlledBy")
    + "} }"
)
CANCEL = 'mutation ($s: ID!) { cancelSubscription(subscriptionId: $s, reason: "done") {' + SUBSCRIPTION + "} }"
MOVE_USERS = """
mutation ($from: ID!, $to: ID!) {
  moveUsers(fromSubscriptionId: $from, toSubscriptionId: $to) {
    fromSubscription { id status assignments(first: 100) { totalCount } }
    toSubscription { id status quantity assignments(first: 100) { totalCount nodes { user { userPrincipalName } } } }
    userErrors { code field message }
  }
}
"""
REACTIVATE = (
    "mutation ($s: ID!) { reactivateSubscription(subscriptionId: $s) {"
    + SUBSCRIPTION.replace("id status quantity", "id status quantity isTrial termStart expiresAt")
    + "} }"
)
MARK_DEPARTED = """
mutation ($u: ID!, $on: Date) {
  markUserDeparted(userId: $u, departedOn: $on) {
    user { userPrincipalName accountEnabled departedAt }
    userErrors { code field message }
  }
}
"""
LICENSE_REQUEST = """
  licenseRequest {
    id status decidedAt product { productId } requester { userPrincipalName } forUsers { userPrincipalName }
  }
  userErrors { code field message }
"""
REQUEST_LICENSE = (
    "mutation ($p: ID!, $for: [ID!]) { requestLicense(productId: $p, forUserIds: $for) {" + LICENSE_REQUEST + "} }"
)
APPROVE = "mutation ($r: ID!) { approveLicenseRequest(requestId: $r) {" + LICENSE_REQUEST + "} }"
DENY = "mutation ($r: ID!) { denyLicenseRequest(requestId: $r) {" + LICENSE_REQUEST + "} }"
LICENSE_REQUESTS = """
query ($t: ID!) {
  tenant(id: $t) {
    licenseRequests(first: 100) { nodes { id status product { productId } requester { userPrincipalName } } }
  }
}
"""
NOTIFICATIONS = "{ viewer { notifications(first: 100) { nodes { kind subjectId message } } } }"
START_TRIAL = """
mutation ($p: ID!, $card: CardInput) {
  startTrial(productId: $p, card: $card) { subscription { id status } userErrors { code field message } }
}
"""


async def set_policy(api: Api, value: str, product: str = POWER_BI_PRO, as_user: str = ALEX) -> dict[str, Any]:
    return await mutate(api, SET_POLICY, as_user, t=str(CONTOSO_ID), p=product, v=value)


async def take_control(api: Api, subscription_id: str = PAULAS_POWER_BI, as_user: str = ALEX) -> dict[str, Any]:
    return await mutate(api, TAKE_CONTROL, as_user, s=subscription_id)


async def move_users(api: Api, source: str, target: str, as_user: str = ALEX) -> dict[str, Any]:
    return await mutate(api, MOVE_USERS, as_user, **{"from": source, "to": target})


async def notifications(api: Api, as_user: str) -> list[dict[str, Any]]:
    data = await api.data(NOTIFICATIONS, as_user=as_user)
    found: list[dict[str, Any]] = data["viewer"]["notifications"]["nodes"]
    return found


async def request_license(api: Api, as_user: str, product: str, colleagues: list[str]) -> dict[str, Any]:
    return await mutate(api, REQUEST_LICENSE, as_user, p=product, **{"for": colleagues})


async def db_now(api: Api) -> datetime.datetime:
    now: datetime.datetime = await api.conn.fetchval("SELECT app_now()")
    return now


def parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


# -- self-service policies: a new purchase needs the product Enabled ----------------------------


async def test_disabling_a_policy_never_touches_existing_subscriptions(api: Api) -> None:
    payload = await set_policy(api, "DISABLED")
    assert payload["userErrors"] == []
    assert payload["policy"]["value"] == "DISABLED"
    assert payload["policy"]["product"] == {"productId": POWER_BI_PRO}

    mine = await read(api, PAULAS_POWER_BI, as_user=PAULA)
    assert mine["status"] == "ACTIVE"
    assert {LEE, MIA, NOAH, OLIVIA, GUS} <= holders(mine)
    assigned = await assign(api, PAULA, PAULAS_POWER_BI, [user(UNA)])
    assert assigned["userErrors"] == []
    assert UNA in holders(assigned["subscription"])
    assert (await unassign(api, PAULA, PAULAS_POWER_BI, [user(LEE)]))["userErrors"] == []


async def test_a_disabled_policy_refuses_new_purchases_and_trials(api: Api) -> None:
    assert (await set_policy(api, "DISABLED"))["userErrors"] == []
    bought = await purchase(api)
    assert [e["code"] for e in bought["userErrors"]] == ["POLICY_DISABLED"]
    trial = await mutate(api, START_TRIAL, UNA, p=POWER_BI_PRO, card=GOOD_CARD)
    assert [e["code"] for e in trial["userErrors"]] == ["POLICY_DISABLED"]
    assert api.processor.settled() == []


async def test_every_policy_change_is_audited_with_previous_and_new_value(api: Api) -> None:
    assert (await set_policy(api, "DISABLED"))["userErrors"] == []
    assert (await set_policy(api, "ENABLED"))["userErrors"] == []
    rows = await api.conn.fetch(
        "SELECT actor_user_id, outcome, details FROM audit_events"
        " WHERE tenant_id = $1 AND action = 'self_service_policy.update' ORDER BY id DESC LIMIT 2",
        CONTOSO_ID,
    )
    assert [(r["actor_user_id"], r["outcome"]) for r in rows] == [(demo_user_id(ALEX), "accepted")] * 2
    assert [(r["details"]["old_value"], r["details"]["new_value"]) for r in rows] == [
        ("disabled", "enabled"),
        ("enabled", "disabled"),
    ]
    assert {r["details"]["product_id"] for r in rows} == {POWER_BI_PRO}


async def test_only_admins_of_the_tenant_change_its_policies(api: Api) -> None:
    for reader in (RITA, PAULA):
        assert problems(await set_policy(api, "DISABLED", as_user=reader)) == [("NOT_AUTHORIZED", ["tenantId"])]
    # Outside Contoso altogether: another tenant's admin and a partner whose relationship expired.
    for outsider in (WILL, LIA):
        assert problems(await set_policy(api, "DISABLED", as_user=outsider)) == [("NOT_FOUND", ["tenantId"])]
    assert problems(await set_policy(api, "DISABLED", product="CFQ7TTC0XXXX")) == [("NOT_FOUND", ["productId"])]
    assert problems(await set_policy(api, "DISABLED", as_user=BEA)) == []


async def test_a_partner_governs_only_with_a_global_admin_grant(api: Api) -> None:
    # Adatum's grant includes global admin: it may change policies and take control.
    assert (await set_policy(api, "DISABLED", as_user=PAT))["userErrors"] == []
    on_behalf = await api.conn.fetchval(
        "SELECT on_behalf_of_tenant_id FROM audit_events"
        " WHERE tenant_id = $1 AND action = 'self_service_policy.update' ORDER BY id DESC LIMIT 1",
        CONTOSO_ID,
    )
    assert on_behalf == CONTOSO_ID
    # With billing admin only, it may still ask a purchaser to cancel, but neither govern policies nor take over.
    await api.conn.execute(
        "UPDATE partner_relationships SET roles = '{billing_admin}' WHERE tenant_id = $1 AND partner_tenant_id = $2",
        CONTOSO_ID,
        demo_tenant_id("adatum-partners.example"),
    )
    assert problems(await set_policy(api, "ENABLED", as_user=PAT)) == [("NOT_AUTHORIZED", ["tenantId"])]
    assert problems(await take_control(api, as_user=PAT)) == [("NOT_AUTHORIZED", ["subscriptionId"])]
    asked = await mutate(api, REQUEST_CANCELLATION, PAT, s=PAULAS_POWER_BI, m="Please cancel.")
    assert asked["userErrors"] == []


# -- centralize: cancellation requests, take-over, moving users ---------------------------------


async def test_an_admin_asks_the_purchaser_to_cancel_and_the_purchaser_is_told(api: Api) -> None:
    payload = await mutate(api, REQUEST_CANCELLATION, ALEX, s=PAULAS_POWER_BI, m="We bought Power BI centrally.")
    assert payload["userErrors"] == []
    # Asking is not taking: Paula still governs it and it keeps running.
    assert payload["subscription"]["controlledBy"] == "PURCHASER"
    assert payload["subscription"]["status"] == "ACTIVE"
    request = await api.conn.fetchrow(
        "SELECT status, message, requested_by FROM cancellation_requests WHERE tenant_id = $1 AND subscription_id = $2",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert dict(request) == {
        "status": "pending",
        "message": "We bought Power BI centrally.",
        "requested_by": demo_user_id(ALEX),
    }
    told = await notifications(api, PAULA)
    assert [(n["kind"], n["subjectId"]) for n in told] == [("cancellation_requested", str(PAULAS_POWER_BI_UUID))]
    assert "We bought Power BI centrally." in told[0]["message"]


async def test_a_pending_cancellation_request_is_closed_when_the_purchaser_cancels(api: Api) -> None:
    assert (await mutate(api, REQUEST_CANCELLATION, ALEX, s=PAULAS_POWER_BI, m="Please."))["userErrors"] == []
    canceled = await mutate(api, CANCEL, PAULA, s=PAULAS_POWER_BI)
    assert canceled["userErrors"] == []
    status = await api.conn.fetchval(
        "SELECT status FROM cancellation_requests WHERE tenant_id = $1 AND subscription_id = $2",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert status == "accepted"


async def test_cancellation_is_asked_only_of_a_purchaser_governing_a_live_subscription(api: Api) -> None:
    async def ask(subscription_id: str, as_user: str = ALEX) -> list[tuple[str, list[str] | None]]:
        return problems(await mutate(api, REQUEST_CANCELLATION, as_user, s=subscription_id, m="Please."))

    assert await ask(CENTRAL_POWER_BI) == [("NOT_SELF_SERVICE", ["subscriptionId"])]
    assert await ask(DANAS_TAKEN_OVER) == [("ALREADY_CONTROLLED", ["subscriptionId"])]
    assert await ask(PETES_RPA_DELETED) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]
    assert await ask(PAULAS_POWER_BI, as_user=RITA) == [("NOT_AUTHORIZED", ["subscriptionId"])]
    assert await ask(PAULAS_POWER_BI, as_user=PETE) == [("NOT_AUTHORIZED", ["subscriptionId"])]
    pending = await api.conn.fetchval(
        "SELECT count(*) FROM cancellation_requests WHERE tenant_id = $1 AND status = 'pending'", CONTOSO_ID
    )
    assert pending == 1  # only the seeded request for Dana's Power BI Premium


async def test_admins_cannot_change_licenses_of_a_subscription_its_purchaser_controls(api: Api) -> None:
    not_in_control = [("NOT_IN_CONTROL", ["subscriptionId"])]
    assert problems(await assign(api, ALEX, PAULAS_POWER_BI, [user(UNA)])) == not_in_control
    assert problems(await unassign(api, ALEX, PAULAS_POWER_BI, [user(LEE)])) == not_in_control
    assert problems(await add(api, ALEX, PAULAS_POWER_BI, 1)) == not_in_control
    assert problems(await remove(api, ALEX, PAULAS_POWER_BI, 1)) == not_in_control
    assert problems(await mutate(api, CANCEL, ALEX, s=PAULAS_POWER_BI)) == not_in_control
    assert problems(await move_users(api, PAULAS_POWER_BI, CENTRAL_POWER_BI)) != []
    after = await read(api, PAULAS_POWER_BI)
    assert (after["status"], after["quantity"], after["assignments"]["totalCount"]) == ("ACTIVE", 10, 5)


async def test_taking_control_hands_the_subscription_to_the_admins(api: Api) -> None:
    payload = await take_control(api)
    assert payload["userErrors"] == []
    assert payload["subscription"]["controlledBy"] == "ADMINS"
    assert payload["subscription"]["status"] == "ACTIVE"
    assert (payload["order"]["kind"], payload["order"]["quantityDelta"]) == ("TAKE_OVER", 0)

    told = await notifications(api, PAULA)
    assert [(n["kind"], n["subjectId"]) for n in told] == [("subscription_taken_over", str(PAULAS_POWER_BI_UUID))]

    # The purchaser lost control; the admins have it.
    assert problems(await assign(api, PAULA, PAULAS_POWER_BI, [user(UNA)])) == [("NOT_IN_CONTROL", ["subscriptionId"])]
    assert problems(await mutate(api, CANCEL, PAULA, s=PAULAS_POWER_BI)) == [("NOT_IN_CONTROL", ["subscriptionId"])]
    assigned = await assign(api, ALEX, PAULAS_POWER_BI, [user(UNA)])
    assert assigned["userErrors"] == []
    assert UNA in holders(assigned["subscription"])


async def test_a_subscription_is_taken_over_once(api: Api) -> None:
    assert (await take_control(api))["userErrors"] == []
    assert problems(await take_control(api)) == [("ALREADY_CONTROLLED", ["subscriptionId"])]
    assert problems(await take_control(api, DANAS_TAKEN_OVER, as_user=BEA)) == [
        ("ALREADY_CONTROLLED", ["subscriptionId"])
    ]
    takeovers = await api.conn.fetchval(
        "SELECT count(*) FROM orders WHERE tenant_id = $1 AND subscription_id = $2 AND kind = 'take_over'",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    assert takeovers == 1


async def test_a_central_subscription_cannot_be_taken_over(api: Api) -> None:
    assert problems(await take_control(api, CENTRAL_POWER_BI)) == [("NOT_SELF_SERVICE", ["subscriptionId"])]


async def test_only_admins_take_control(api: Api) -> None:
    for someone in (RITA, PAULA, LEE):
        assert problems(await take_control(api, as_user=someone)) == [("NOT_AUTHORIZED", ["subscriptionId"])]
    assert problems(await take_control(api, as_user=WILL)) == [("NOT_FOUND", ["subscriptionId"])]


async def test_moving_users_off_a_taken_over_subscription_cancels_it(api: Api) -> None:
    assert (await take_control(api))["userErrors"] == []
    payload = await move_users(api, PAULAS_POWER_BI, CENTRAL_POWER_BI)
    assert payload["userErrors"] == []
    assert payload["fromSubscription"]["status"] == "DELETED"
    assert payload["fromSubscription"]["assignments"]["totalCount"] == 0
    target = payload["toSubscription"]
    assert target["status"] == "ACTIVE"
    assert {LEE, MIA, NOAH, OLIVIA, GUS} <= holders(target)
    assert target["assignments"]["totalCount"] == 6 + 5

    assert (await read(api, PAULAS_POWER_BI))["status"] == "DELETED"
    kinds = [(n["kind"], n["subjectId"]) for n in await notifications(api, PAULA)]
    assert ("subscription_canceled", str(PAULAS_POWER_BI_UUID)) in kinds


async def test_moving_users_needs_one_free_license_per_user(api: Api) -> None:
    assert (await take_control(api))["userErrors"] == []
    # The central subscription keeps 6 users; with 10 licenses it has 4 free for Paula's 5 users.
    await api.conn.execute(
        "UPDATE subscriptions SET quantity = 10 WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_id("subscription:contoso-central-power-bi-pro"),
    )
    refused = await move_users(api, PAULAS_POWER_BI, CENTRAL_POWER_BI)
    assert problems(refused) == [("NO_LICENSES_LEFT", ["toSubscriptionId"])]
    source = await read(api, PAULAS_POWER_BI)
    assert source["status"] == "ACTIVE"
    assert holders(source) == {LEE, MIA, NOAH, OLIVIA, GUS}
    assert (await read(api, CENTRAL_POWER_BI))["assignments"]["totalCount"] == 6

    # One more license is exactly enough.
    await api.conn.execute(
        "UPDATE subscriptions SET quantity = 11 WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_id("subscription:contoso-central-power-bi-pro"),
    )
    moved = await move_users(api, PAULAS_POWER_BI, CENTRAL_POWER_BI)
    assert moved["userErrors"] == []
    assert moved["toSubscription"]["assignments"]["totalCount"] == 11


async def test_users_move_only_to_a_subscription_of_the_same_product(api: Api) -> None:
    assert (await take_control(api))["userErrors"] == []
    refused = await move_users(api, PAULAS_POWER_BI, CENTRAL_POWER_APPS)
    assert problems(refused) == [("PRODUCT_MISMATCH", ["toSubscriptionId"])]
    assert (await read(api, PAULAS_POWER_BI))["status"] == "ACTIVE"


async def test_users_cannot_move_to_the_subscription_they_are_on(api: Api) -> None:
    assert (await take_control(api))["userErrors"] == []
    refused = await move_users(api, PAULAS_POWER_BI, PAULAS_POWER_BI)
    assert problems(refused) == [("SAME_SUBSCRIPTION", ["toSubscriptionId"])]


async def test_users_move_only_off_a_subscription_the_admins_took_over(api: Api) -> None:
    refused = await move_users(api, PAULAS_POWER_BI, CENTRAL_POWER_BI)
    # The refusal names the argument at fault: moveUsers has fromSubscriptionId, not subscriptionId.
    assert problems(refused) == [("NOT_IN_CONTROL", ["fromSubscriptionId"])]
    assert (await read(api, PAULAS_POWER_BI))["status"] == "ACTIVE"


# -- reactivation -------------------------------------------------------------------------------


async def test_an_expired_subscription_is_reactivated_for_a_new_term(api: Api) -> None:
    assert (await read(api, PETES_PROJECT_EXPIRED))["status"] == "EXPIRED"
    payload = await mutate(api, REACTIVATE, PETE, s=PETES_PROJECT_EXPIRED)
    assert payload["userErrors"] == []
    reactivated = payload["subscription"]
    assert reactivated["status"] == "ACTIVE"
    now = await db_now(api)
    assert parse(reactivated["termStart"]) == now
    assert parse(reactivated["expiresAt"]) > now  # a new term from today
    assert payload["order"]["kind"] == "REACTIVATE"
    assert holders(reactivated) == {PETE, OLIVIA}


async def test_a_disabled_subscription_is_reactivated(api: Api) -> None:
    payload = await mutate(api, REACTIVATE, SAM, s=SAMS_VISIO_DISABLED)
    assert payload["userErrors"] == []
    assert payload["subscription"]["status"] == "ACTIVE"
    # Active again: its purchaser sees it again.
    assert (await read(api, SAMS_VISIO_DISABLED, as_user=SAM))["status"] == "ACTIVE"


async def test_a_deleted_subscription_cannot_be_reactivated(api: Api) -> None:
    payload = await mutate(api, REACTIVATE, PETE, s=PETES_RPA_DELETED)
    assert problems(payload) == [("CANNOT_REACTIVATE", ["subscriptionId"])]
    assert (await read(api, PETES_RPA_DELETED))["status"] == "DELETED"


async def test_an_active_or_trial_subscription_cannot_be_reactivated(api: Api) -> None:
    for purchaser, running in ((PAULA, PAULAS_POWER_BI), (PETE, PETES_TRIAL)):
        payload = await mutate(api, REACTIVATE, purchaser, s=running)
        assert problems(payload) == [("CANNOT_REACTIVATE", ["subscriptionId"])]


async def test_only_whoever_controls_a_subscription_reactivates_it(api: Api) -> None:
    # Pete controls his Project Plan 3: the admins would have to take control first; a reader reads.
    assert problems(await mutate(api, REACTIVATE, ALEX, s=PETES_PROJECT_EXPIRED)) == [
        ("NOT_IN_CONTROL", ["subscriptionId"])
    ]
    assert problems(await mutate(api, REACTIVATE, RITA, s=PETES_PROJECT_EXPIRED)) == [
        ("NOT_AUTHORIZED", ["subscriptionId"])
    ]
    assert (await read(api, PETES_PROJECT_EXPIRED))["status"] == "EXPIRED"


# -- a purchaser who left: the subscription runs to its term, then expires ----------------------


async def test_a_departed_purchasers_subscriptions_keep_running_for_their_users(api: Api) -> None:
    left = (await api.conn.fetchval("SELECT app_now()::date - 11")).isoformat()  # a date by the app clock
    payload = await mutate(api, MARK_DEPARTED, ALEX, u=user(PAULA), on=left)
    assert payload["userErrors"] == []
    assert payload["user"] == {"userPrincipalName": PAULA, "accountEnabled": False, "departedAt": left}

    power_bi = await read(api, PAULAS_POWER_BI)
    assert power_bi["status"] == "ACTIVE"
    assert holders(power_bi) == {LEE, MIA, NOAH, OLIVIA, GUS}
    assert (await read(api, subscription("paula-power-apps")))["status"] == "ACTIVE"


async def test_a_departure_is_never_dated_before_the_users_account_was_created(api: Api) -> None:
    joined: datetime.date = await api.conn.fetchval(
        "SELECT (created_at AT TIME ZONE 'UTC')::date FROM users WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_user_id(UNA),
    )
    for too_early in ("0001-01-01", (joined - datetime.timedelta(days=1)).isoformat()):
        payload = await mutate(api, MARK_DEPARTED, ALEX, u=user(UNA), on=too_early)
        assert problems(payload) == [("INVALID_INPUT", ["departedOn"])], too_early
        assert payload["user"] is None
    assert await api.conn.fetchval(
        "SELECT account_enabled AND departed_at IS NULL FROM users WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        demo_user_id(UNA),
    )
    payload = await mutate(api, MARK_DEPARTED, ALEX, u=user(UNA), on=joined.isoformat())
    assert (payload["userErrors"], payload["user"]["departedAt"]) == ([], joined.isoformat())


async def test_a_departed_purchaser_can_no_longer_buy(api: Api) -> None:
    assert (await mutate(api, MARK_DEPARTED, ALEX, u=user(PAULA)))["userErrors"] == []
    # Her account is disabled: it signs in to nothing, so she neither buys nor adds licenses.
    for attempt in (purchase(api), add(api, PAULA, PAULAS_POWER_BI, 1)):
        with pytest.raises(RequestError) as refused:
            await attempt
        assert refused.value.code is RequestCode.UNAUTHENTICATED
    assert api.processor.settled() == []


async def test_after_a_take_over_admins_add_licenses_to_a_departed_purchasers_subscription(api: Api) -> None:
    assert (await mutate(api, MARK_DEPARTED, ALEX, u=user(PAULA)))["userErrors"] == []
    assert (await take_control(api))["userErrors"] == []
    payload = await add(api, ALEX, PAULAS_POWER_BI, 2)
    assert payload["userErrors"] == []
    assert payload["subscription"]["quantity"] == 12
    assert (payload["order"]["kind"], payload["order"]["quantityDelta"]) == ("ADD_LICENSES", 2)
    # Billed centrally: the card of the purchaser who left is not charged.
    assert api.processor.settled() == []


async def test_a_purchaser_who_left_cancels_nothing_but_what_she_bought_runs_on(api: Api) -> None:
    # Dana left 20 days ago: her account signs in to nothing, and her Power BI Premium runs on until
    # an admin has it canceled (the rule to term is about the subscription, not the person).
    dana_premium = subscription("dana-power-bi-premium")
    with pytest.raises(RequestError) as refused:
        await mutate(api, CANCEL, DANA, s=dana_premium)
    assert refused.value.code is RequestCode.UNAUTHENTICATED
    assert (await read(api, dana_premium))["status"] == "ACTIVE"


async def test_only_global_admins_mark_a_user_departed(api: Api) -> None:
    for not_a_global_admin in (PAULA, RITA, BEA):
        payload = await mutate(api, MARK_DEPARTED, not_a_global_admin, u=user(LEE))
        assert problems(payload) == [("NOT_AUTHORIZED", ["userId"])]
    for nobody in (str(uuid.uuid4()), user(OLGA, WOODGROVE_ID)):
        assert problems(await mutate(api, MARK_DEPARTED, ALEX, u=nobody)) == [("NOT_FOUND", ["userId"])]
    departed = await api.conn.fetchval(
        "SELECT departed_at FROM users WHERE tenant_id = $1 AND id = $2", CONTOSO_ID, demo_user_id(LEE)
    )
    assert departed is None


# -- license requests ---------------------------------------------------------------------------


async def test_a_user_requests_a_blocked_product_and_admins_see_the_request(api: Api) -> None:
    payload = await request_license(api, NOAH, PROJECT_PLAN_3, [user(UNA)])
    assert payload["userErrors"] == []
    request = payload["licenseRequest"]
    assert request["status"] == "PENDING"
    assert request["product"] == {"productId": PROJECT_PLAN_3}
    assert request["requester"] == {"userPrincipalName": NOAH}
    assert {u["userPrincipalName"] for u in request["forUsers"]} == {NOAH, UNA}

    data = await api.data(LICENSE_REQUESTS, as_user=ALEX, variables={"t": str(CONTOSO_ID)})
    seen = {n["id"]: n for n in data["tenant"]["licenseRequests"]["nodes"]}
    assert seen[request["id"]] == {
        "id": request["id"],
        "status": "PENDING",
        "product": {"productId": PROJECT_PLAN_3},
        "requester": {"userPrincipalName": NOAH},
    }


async def test_a_product_allowing_only_trials_may_be_requested(api: Api) -> None:
    payload = await request_license(api, UNA, VISIO_PLAN_1, [])
    assert payload["userErrors"] == []
    assert payload["licenseRequest"]["status"] == "PENDING"


async def test_a_product_that_can_be_bought_needs_no_request(api: Api) -> None:
    payload = await request_license(api, LEE, POWER_BI_PRO, [])
    assert problems(payload) == [("PRODUCT_NOT_BLOCKED", ["productId"])]
    assert payload["licenseRequest"] is None


async def test_admins_approve_a_request_once_and_the_requester_is_told(api: Api) -> None:
    request_id = (await request_license(api, NOAH, PROJECT_PLAN_3, []))["licenseRequest"]["id"]
    approved = await mutate(api, APPROVE, ALEX, r=request_id)
    assert approved["userErrors"] == []
    assert approved["licenseRequest"]["status"] == "APPROVED"
    assert approved["licenseRequest"]["decidedAt"] is not None
    # Noah was told of his earlier request's denial (seeded) before: the newest is this decision.
    told = [n["kind"] for n in await notifications(api, NOAH)]
    assert told[0] == "license_request_approved"

    assert problems(await mutate(api, APPROVE, ALEX, r=request_id)) == [("ALREADY_DECIDED", ["requestId"])]
    assert problems(await mutate(api, DENY, BEA, r=request_id)) == [("ALREADY_DECIDED", ["requestId"])]
    assert [n["kind"] for n in await notifications(api, NOAH)] == told


async def test_admins_deny_a_request_once_and_the_requester_is_told(api: Api) -> None:
    request_id = (await request_license(api, UNA, PROJECT_PLAN_3, []))["licenseRequest"]["id"]
    denied = await mutate(api, DENY, ALEX, r=request_id)
    assert denied["userErrors"] == []
    assert denied["licenseRequest"]["status"] == "DENIED"
    assert [n["kind"] for n in await notifications(api, UNA)] == ["license_request_denied"]
    assert problems(await mutate(api, APPROVE, ALEX, r=request_id)) == [("ALREADY_DECIDED", ["requestId"])]


async def test_a_request_decided_before_cannot_be_decided_again(api: Api) -> None:
    # Seeded: Noah's request for Project Plan 3 was denied a month ago.
    data = await api.data(LICENSE_REQUESTS, as_user=ALEX, variables={"t": str(CONTOSO_ID)})
    (noahs,) = [n for n in data["tenant"]["licenseRequests"]["nodes"] if n["requester"]["userPrincipalName"] == NOAH]
    assert noahs["status"] == "DENIED"
    assert problems(await mutate(api, APPROVE, ALEX, r=noahs["id"])) == [("ALREADY_DECIDED", ["requestId"])]


async def test_only_admins_decide_license_requests(api: Api) -> None:
    request_id = (await request_license(api, NOAH, PROJECT_PLAN_3, []))["licenseRequest"]["id"]
    for someone in (LEE, PAULA, RITA):
        assert problems(await mutate(api, APPROVE, someone, r=request_id)) == [("NOT_AUTHORIZED", ["requestId"])]
    assert problems(await mutate(api, DENY, WILL, r=request_id)) == [("NOT_FOUND", ["requestId"])]


async def test_a_license_request_is_only_for_colleagues_of_the_same_tenant(api: Api) -> None:
    payload = await request_license(api, LEE, PROJECT_PLAN_3, [user(UNA), user(OLGA, WOODGROVE_ID)])
    # The index is that of the colleague in forUserIds (the requester is not part of that list).
    assert problems(payload) == [("USER_NOT_IN_TENANT", ["forUserIds", "1"])]
    assert payload["licenseRequest"] is None


async def test_a_license_request_names_at_most_20_colleagues(api: Api) -> None:
    payload = await request_license(api, LEE, PROJECT_PLAN_3, [str(uuid.uuid4()) for _ in range(21)])
    assert problems(payload) == [("TOO_MANY_USERS", ["forUserIds"])]


async def test_admins_are_notified_of_a_license_request(api: Api) -> None:
    before = await api.data("{ viewer { notifications { nodes { kind } } } }", as_user="alex.admin@contoso.example")
    requested = await api.data(
        'mutation { requestLicense(productId: "CFQ7TTC0HDB0") { licenseRequest { status } userErrors { code } } }',
        as_user="una.unlicensed@contoso.example",
    )
    assert requested["requestLicense"] == {"licenseRequest": {"status": "PENDING"}, "userErrors": []}
    after = await api.data("{ viewer { notifications { nodes { kind } } } }", as_user="alex.admin@contoso.example")
    assert len(after["viewer"]["notifications"]["nodes"]) == len(before["viewer"]["notifications"]["nodes"]) + 1
    assert after["viewer"]["notifications"]["nodes"][0] == {"kind": "license_requested"}
