"""Who may buy a product self-service, and why not: which organizations and markets, which users,
the tenant's policy per product, and every reason together.

Most cases go through `viewer.eligibility(productId)` as a demo user; a few fresh tenants, users
and policies are inserted with SQL inside the test's rolled-back transaction. The decision
itself (`purchasegraph.eligibility.assess`) is also tested directly for markets and trials the
demo world has no tenant for.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from purchasegraph.catalogue import POWER_APPS_PER_USER, POWER_BI_PRO, PROJECT_PLAN_3, VISIO_PLAN_1, VISIO_PLAN_2
from purchasegraph.demo.actors import BRUNO, DANA, ED, GAIL, GUS, INES, PAULA, SAM, VIC
from purchasegraph.eligibility import Facts, Reason, assess
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api, DemoUserIds

CONTACT_IT_ADMIN = "Contact your IT admin"

ELIGIBILITY = """
query Eligibility($productId: ID!) {
  viewer { eligibility(productId: $productId) { eligible reasons message canStartTrial } }
}
"""

SET_POLICY = """
INSERT INTO self_service_policies (tenant_id, product_id, value) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, product_id) DO UPDATE SET value = EXCLUDED.value, updated_at = app_now()
"""
INSERT_TENANT = """
INSERT INTO tenants (id, name, primary_domain, managed, organization_type, country, currency)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
INSERT_USER = """
INSERT INTO users (tenant_id, id, display_name, user_principal_name, user_type, source, account_enabled,
                   departed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""


# ---------------------------------------------------------------------------------------------
# Helpers


async def eligibility_of(api: Api, upn: str, product_id: str) -> dict[str, Any] | None:
    """The `eligibility` object the user sees for a product (None when the field is null)."""
    data = await api.data(ELIGIBILITY, as_user=upn, variables={"productId": product_id})
    viewer = data["viewer"]
    assert viewer is not None, upn
    result: dict[str, Any] | None = viewer["eligibility"]
    return result


async def refused(api: Api, upn: str, product_id: str) -> dict[str, Any]:
    """The eligibility of a purchase that must be refused, with the contact-your-admin message."""
    result = await eligibility_of(api, upn, product_id)
    assert result is not None
    assert result["eligible"] is False
    assert CONTACT_IT_ADMIN in result["message"]
    return result


async def signs_in_to_nothing(api: Api, upn: str, product_id: str) -> None:
    """A disabled account, or one whose user left, is refused at authentication as Azure AD refuses
    it: it buys nothing because it reaches nothing, not even its own eligibility."""
    with pytest.raises(RequestError) as at_sign_in:
        await eligibility_of(api, upn, product_id)
    assert (at_sign_in.value.code, at_sign_in.value.status) == (RequestCode.UNAUTHENTICATED, 401)


async def allowed(api: Api, upn: str, product_id: str) -> dict[str, Any]:
    result = await eligibility_of(api, upn, product_id)
    assert result is not None
    assert result["eligible"] is True
    assert result["reasons"] == []
    assert CONTACT_IT_ADMIN not in result["message"]
    return result


async def add_tenant(
    api: Api,
    *,
    organization_type: str = "commercial",
    country: str = "US",
    currency: str = "USD",
    managed: bool = True,
) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    domain = f"t{tenant_id.hex[:12]}.example"
    await api.conn.execute(
        INSERT_TENANT, tenant_id, "Fresh Tenant", domain, managed, organization_type, country, currency
    )
    return tenant_id


async def add_user(
    api: Api,
    tenant_id: uuid.UUID,
    *,
    guest: bool = False,
    synced: bool = False,
    account_enabled: bool = True,
    departed_at: date | None = None,
) -> str:
    """A fresh directory user, registered in `api.ids` so queries can run as them; returns the UPN."""
    user_id = uuid.uuid4()
    upn = f"fresh.{user_id.hex[:12]}@fresh.example"
    await api.conn.execute(
        INSERT_USER,
        tenant_id,
        user_id,
        "Fresh User",
        upn,
        "guest" if guest else "member",
        "synced" if synced else "cloud",
        account_enabled,
        departed_at,
    )
    api.ids[upn] = DemoUserIds(user_id=user_id, tenant_id=tenant_id)
    return upn


async def set_policy(api: Api, upn: str, product_id: str, value: str) -> None:
    """What `Update-MSCommerceProductPolicy` does, for the tenant of the given user."""
    await api.conn.execute(SET_POLICY, api.ids[upn].tenant_id, product_id, value)


def contoso_facts(**changes: Any) -> Facts:
    """Facts of an active member of a managed US commercial tenant buying Power BI Pro."""
    facts = Facts(
        tenant_managed=True,
        organization_type="commercial",
        country="US",
        is_guest=False,
        account_enabled=True,
        product_name="Power BI Pro",
        product_family="power_bi",
        product_self_service=True,
        sold_in_market=True,
        trial_available=True,
        trial_requires_payment_method=True,
        policy="enabled",
    )
    return replace(facts, **changes)


# ---------------------------------------------------------------------------------------------
# Who may buy: signed-in members of a managed tenant, never guests, synced users if active


async def test_user_of_unmanaged_tenant_cannot_buy(api: Api) -> None:
    result = await refused(api, VIC, POWER_BI_PRO)
    assert result["reasons"] == ["UNMANAGED_TENANT"]
    assert result["canStartTrial"] is False


async def test_guest_cannot_buy_in_host_tenant(api: Api) -> None:
    result = await refused(api, GUS, POWER_BI_PRO)
    assert result["reasons"] == ["GUEST_USER"]
    assert result["canStartTrial"] is False


async def test_user_who_left_the_organization_cannot_buy(api: Api) -> None:
    await signs_in_to_nothing(api, DANA, POWER_BI_PRO)


async def test_disabled_account_cannot_buy(api: Api) -> None:
    upn = await add_user(api, api.ids[PAULA].tenant_id, account_enabled=False)
    await signs_in_to_nothing(api, upn, POWER_BI_PRO)


async def test_user_who_left_cannot_buy_even_before_the_account_is_disabled(api: Api) -> None:
    upn = await add_user(api, api.ids[PAULA].tenant_id, departed_at=date.today() - timedelta(days=1))
    await signs_in_to_nothing(api, upn, POWER_BI_PRO)


async def test_disabled_synced_account_cannot_buy(api: Api) -> None:
    upn = await add_user(api, api.ids[PAULA].tenant_id, synced=True, account_enabled=False)
    await signs_in_to_nothing(api, upn, POWER_APPS_PER_USER)


def test_an_account_disabled_after_sign_in_is_still_refused_with_its_reason() -> None:
    """A purchase reads the buyer's account again in its own transaction: disabled since the request
    signed in, it is refused with ACCOUNT_DISABLED and the contact-your-admin message."""
    assessment = assess(contoso_facts(account_enabled=False))
    assert assessment.reasons == (Reason.ACCOUNT_DISABLED,)
    assert Reason.ACCOUNT_DISABLED.value in assessment.message
    assert assessment.can_start_trial is False


async def test_active_user_synced_from_on_premises_ad_can_buy(api: Api) -> None:
    await allowed(api, SAM, POWER_APPS_PER_USER)


async def test_fresh_active_synced_user_can_buy(api: Api) -> None:
    upn = await add_user(api, api.ids[PAULA].tenant_id, synced=True)
    await allowed(api, upn, POWER_APPS_PER_USER)


async def test_member_of_managed_tenant_can_buy_and_start_a_trial(api: Api) -> None:
    result = await allowed(api, PAULA, POWER_BI_PRO)
    assert result["canStartTrial"] is True
    assert "Power BI Pro" in result["message"]


async def test_anonymous_caller_has_no_viewer(api: Api) -> None:
    data = await api.data(ELIGIBILITY, variables={"productId": POWER_BI_PRO})
    assert data == {"viewer": None}


# ---------------------------------------------------------------------------------------------
# Which organizations and markets: not India, government or education; not every product in every market


@pytest.mark.parametrize("upn", [GAIL, ED], ids=["government", "education"])
async def test_government_and_education_organizations_cannot_buy(api: Api, upn: str) -> None:
    result = await refused(api, upn, POWER_BI_PRO)
    assert result["reasons"] == ["ORGANIZATION_TYPE_NOT_ELIGIBLE"]
    assert result["canStartTrial"] is False


async def test_nonprofit_organizations_can_buy(api: Api) -> None:
    tenant_id = await add_tenant(api, organization_type="nonprofit")
    upn = await add_user(api, tenant_id)
    await allowed(api, upn, PROJECT_PLAN_3)


@pytest.mark.parametrize("product_id", [POWER_BI_PRO, PROJECT_PLAN_3])
async def test_tenants_in_india_cannot_buy(api: Api, product_id: str) -> None:
    result = await refused(api, INES, product_id)
    assert result["reasons"] == ["MARKET_NOT_ELIGIBLE"]
    assert result["canStartTrial"] is False


@pytest.mark.parametrize("product_id", [PROJECT_PLAN_3, VISIO_PLAN_1, VISIO_PLAN_2])
async def test_project_and_visio_are_not_sold_self_service_in_brazil(api: Api, product_id: str) -> None:
    result = await refused(api, BRUNO, product_id)
    assert result["reasons"] == ["PRODUCT_NOT_AVAILABLE_IN_MARKET"]
    assert result["canStartTrial"] is False


@pytest.mark.parametrize("product_id", [POWER_BI_PRO, POWER_APPS_PER_USER])
async def test_other_products_are_sold_self_service_in_brazil(api: Api, product_id: str) -> None:
    await allowed(api, BRUNO, product_id)


@pytest.mark.parametrize("family", ["project", "visio"])
def test_project_and_visio_are_not_sold_self_service_in_the_drc(family: str) -> None:
    # Even if the catalogue listed a price there, the market restriction still holds.
    assessment = assess(contoso_facts(country="CD", product_family=family, product_name="X", sold_in_market=True))
    assert assessment.reasons == (Reason.PRODUCT_NOT_AVAILABLE_IN_MARKET,)
    assert not assessment.eligible
    assert not assessment.can_start_trial
    assert CONTACT_IT_ADMIN in assessment.message


def test_power_bi_is_sold_self_service_in_the_drc() -> None:
    assessment = assess(contoso_facts(country="CD"))
    assert assessment.reasons == ()
    assert assessment.eligible


def test_india_is_reported_as_the_market_not_the_product() -> None:
    assessment = assess(contoso_facts(country="IN", product_family="project", sold_in_market=True))
    assert assessment.reasons == (Reason.MARKET_NOT_ELIGIBLE,)


# ---------------------------------------------------------------------------------------------
# The tenant's policy per product: Enabled buys, OnlyTrialsWithoutPaymentMethod trials only, Disabled neither


async def test_disabled_policy_refuses_purchase_and_trial(api: Api) -> None:
    result = await refused(api, PAULA, PROJECT_PLAN_3)
    assert result["reasons"] == ["POLICY_DISABLED"]
    assert result["canStartTrial"] is False


async def test_trials_only_policy_refuses_purchase_but_allows_a_trial_without_payment_method(
    api: Api,
) -> None:
    result = await refused(api, PAULA, VISIO_PLAN_1)
    assert result["reasons"] == ["TRIALS_ONLY"]
    assert result["canStartTrial"] is True


async def test_trials_only_policy_refuses_a_trial_that_needs_a_payment_method(api: Api) -> None:
    # Power BI Pro's 60-day trial asks for a payment method.
    await set_policy(api, PAULA, POWER_BI_PRO, "only_trials_without_payment_method")
    result = await refused(api, PAULA, POWER_BI_PRO)
    assert result["reasons"] == ["TRIALS_ONLY"]
    assert result["canStartTrial"] is False


def test_assess_trials_only_with_a_trial_that_needs_a_payment_method_allows_no_trial() -> None:
    assessment = assess(
        contoso_facts(
            trial_available=True,
            trial_requires_payment_method=True,
            policy="only_trials_without_payment_method",
        )
    )
    assert assessment.reasons == (Reason.TRIALS_ONLY,)
    assert not assessment.eligible
    assert not assessment.can_start_trial
    assert CONTACT_IT_ADMIN in assessment.message


def test_assess_trials_only_with_a_trial_without_payment_method_allows_the_trial() -> None:
    assessment = assess(
        contoso_facts(
            trial_available=True,
            trial_requires_payment_method=False,
            policy="only_trials_without_payment_method",
        )
    )
    assert assessment.reasons == (Reason.TRIALS_ONLY,)
    assert assessment.can_start_trial


def test_assess_trials_only_for_a_product_without_trial_allows_nothing() -> None:
    assessment = assess(contoso_facts(trial_available=False, policy="only_trials_without_payment_method"))
    assert assessment.reasons == (Reason.TRIALS_ONLY,)
    assert not assessment.can_start_trial


async def test_product_without_policy_row_counts_as_enabled(api: Api) -> None:
    row_count = await api.conn.fetchval(
        "SELECT count(*) FROM self_service_policies WHERE tenant_id = $1 AND product_id = $2",
        api.ids[PAULA].tenant_id,
        POWER_APPS_PER_USER,
    )
    assert row_count == 0
    await allowed(api, PAULA, POWER_APPS_PER_USER)


async def test_removing_a_policy_row_makes_the_product_enabled(api: Api) -> None:
    await api.conn.execute(
        "DELETE FROM self_service_policies WHERE tenant_id = $1 AND product_id = $2",
        api.ids[PAULA].tenant_id,
        PROJECT_PLAN_3,
    )
    await allowed(api, PAULA, PROJECT_PLAN_3)


async def test_enabling_a_disabled_product_takes_effect_on_the_next_query(api: Api) -> None:
    assert (await refused(api, PAULA, PROJECT_PLAN_3))["reasons"] == ["POLICY_DISABLED"]
    await set_policy(api, PAULA, PROJECT_PLAN_3, "enabled")
    await allowed(api, PAULA, PROJECT_PLAN_3)


async def test_disabling_a_product_takes_effect_on_the_next_query(api: Api) -> None:
    await allowed(api, PAULA, POWER_APPS_PER_USER)
    await set_policy(api, PAULA, POWER_APPS_PER_USER, "disabled")
    result = await refused(api, PAULA, POWER_APPS_PER_USER)
    assert result["reasons"] == ["POLICY_DISABLED"]
    assert result["canStartTrial"] is False


async def test_switching_a_product_to_trials_only_takes_effect_on_the_next_query(api: Api) -> None:
    await allowed(api, PAULA, POWER_BI_PRO)
    await set_policy(api, PAULA, POWER_BI_PRO, "only_trials_without_payment_method")
    assert (await refused(api, PAULA, POWER_BI_PRO))["reasons"] == ["TRIALS_ONLY"]


async def test_a_policy_of_one_tenant_does_not_apply_to_another(api: Api) -> None:
    # Contoso disabled Project Plan 3; Woodgrove (Germany) did not.
    await allowed(api, "petra.purchaser@woodgrove.example", PROJECT_PLAN_3)
    # Woodgrove disabled Power Apps; Contoso did not.
    assert (await refused(api, "petra.purchaser@woodgrove.example", POWER_APPS_PER_USER))["reasons"] == [
        "POLICY_DISABLED"
    ]
    await allowed(api, PAULA, POWER_APPS_PER_USER)


# ---------------------------------------------------------------------------------------------
# Reasons together: every reason a user cannot buy, with the same codes the refused purchase gives


async def test_guest_in_an_education_tenant_gets_both_reasons(api: Api) -> None:
    upn = await add_user(api, api.ids[ED].tenant_id, guest=True)
    result = await refused(api, upn, POWER_BI_PRO)
    assert result["reasons"] == ["GUEST_USER", "ORGANIZATION_TYPE_NOT_ELIGIBLE"]
    assert result["canStartTrial"] is False


async def test_every_reason_that_applies_is_listed(api: Api) -> None:
    tenant_id = await add_tenant(api, organization_type="government", country="IN", currency="INR", managed=False)
    # Enabled: a disabled account signs in to nothing, so it never asks (its ACCOUNT_DISABLED comes
    # from a purchase that finds it disabled after signing in: the test above).
    upn = await add_user(api, tenant_id, guest=True)
    await set_policy(api, upn, POWER_BI_PRO, "disabled")
    result = await refused(api, upn, POWER_BI_PRO)
    assert result["reasons"] == [
        "UNMANAGED_TENANT",
        "GUEST_USER",
        "ORGANIZATION_TYPE_NOT_ELIGIBLE",
        "MARKET_NOT_ELIGIBLE",
        "POLICY_DISABLED",
    ]
    assert result["canStartTrial"] is False
    # The message explains every reason, then says whom to ask.
    for reason in Reason:
        if reason.name in result["reasons"]:
            assert reason.value in result["message"]
    assert result["message"].endswith("Contact your IT admin for help.")


async def test_trials_only_does_not_let_a_blocked_user_start_a_trial(api: Api) -> None:
    # Contoso's Visio Plan 1 trial needs no payment method, but a guest may not start it either.
    result = await refused(api, GUS, VISIO_PLAN_1)
    assert result["reasons"] == ["GUEST_USER", "TRIALS_ONLY"]
    assert result["canStartTrial"] is False


async def test_product_restricted_in_market_and_disabled_by_policy_lists_both(api: Api) -> None:
    await set_policy(api, BRUNO, PROJECT_PLAN_3, "disabled")
    result = await refused(api, BRUNO, PROJECT_PLAN_3)
    assert result["reasons"] == ["PRODUCT_NOT_AVAILABLE_IN_MARKET", "POLICY_DISABLED"]


# ---------------------------------------------------------------------------------------------
# Naming the product


async def test_unknown_product_has_no_eligibility(api: Api) -> None:
    assert await eligibility_of(api, PAULA, "CFQ7TTC0ZZZZ") is None


async def test_garbage_product_id_has_no_eligibility(api: Api) -> None:
    assert await eligibility_of(api, PAULA, "not a product") is None


async def test_global_id_of_another_type_is_not_a_product(api: Api) -> None:
    assert await eligibility_of(api, PAULA, encode_id("Subscription", POWER_BI_PRO)) is None


async def test_product_may_be_named_by_its_global_id(api: Api) -> None:
    by_global_id = await allowed(api, PAULA, encode_id("Product", POWER_BI_PRO))
    by_commerce_id = await allowed(api, PAULA, POWER_BI_PRO)
    assert by_global_id == by_commerce_id


async def test_refusal_by_global_id_matches_refusal_by_commerce_id(api: Api) -> None:
    result = await refused(api, PAULA, encode_id("Product", PROJECT_PLAN_3))
    assert result["reasons"] == ["POLICY_DISABLED"]


async def test_several_products_in_one_query_each_get_their_own_answer(api: Api) -> None:
    data = await api.data(
        f"""{{ viewer {{
              bi: eligibility(productId: "{POWER_BI_PRO}") {{ eligible reasons canStartTrial }}
              project: eligibility(productId: "{PROJECT_PLAN_3}") {{ eligible reasons canStartTrial }}
              visio: eligibility(productId: "{VISIO_PLAN_1}") {{ eligible reasons canStartTrial }}
              unknown: eligibility(productId: "CFQ7TTC0ZZZZ") {{ eligible }}
            }} }}""",
        as_user=PAULA,
    )
    assert data["viewer"] == {
        "bi": {"eligible": True, "reasons": [], "canStartTrial": True},
        "project": {"eligible": False, "reasons": ["POLICY_DISABLED"], "canStartTrial": False},
        "visio": {"eligible": False, "reasons": ["TRIALS_ONLY"], "canStartTrial": True},
        "unknown": None,
    }
