"""Who may buy a product self-service, as reasons, not booleans: a managed tenant outside the
excluded markets and organization types, a signed-in member (never a guest), a product sold
self-service in the tenant's market, and a tenant policy that allows it.

The purchase mutations refuse with exactly these codes, so the playground's eligibility check
and a refused purchase always agree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Self-service purchase is not offered in these markets at all, nor to these organization types.
INELIGIBLE_MARKETS = frozenset({"IN"})
INELIGIBLE_ORGANIZATION_TYPES = frozenset({"government", "education"})
# Project and Visio are not sold self-service in Brazil and the Democratic Republic of the Congo.
RESTRICTED_FAMILIES_BY_MARKET = {"BR": frozenset({"project", "visio"}), "CD": frozenset({"project", "visio"})}

CONTACT_IT_ADMIN = "Contact your IT admin for help."


class Reason(enum.Enum):
    UNMANAGED_TENANT = "Your organization's directory is not managed by an admin yet."
    GUEST_USER = "Guests can't buy in an organization where they are guests."
    ACCOUNT_DISABLED = "Your account is disabled."
    ORGANIZATION_TYPE_NOT_ELIGIBLE = "Self-service purchase isn't available to government or education organizations."
    MARKET_NOT_ELIGIBLE = "Self-service purchase isn't available in your organization's country."
    PRODUCT_NOT_AVAILABLE_IN_MARKET = "This product isn't sold self-service in your organization's country."
    POLICY_DISABLED = "Your organization has turned off self-service purchase of this product."
    TRIALS_ONLY = "Your organization allows only trials of this product, without a payment method."


@dataclass(frozen=True)
class Facts:
    tenant_managed: bool
    organization_type: str
    country: str
    is_guest: bool
    account_enabled: bool
    product_name: str
    product_family: str
    product_self_service: bool
    sold_in_market: bool
    trial_available: bool
    trial_requires_payment_method: bool
    policy: str


@dataclass(frozen=True)
class Assessment:
    reasons: tuple[Reason, ...]
    can_start_trial: bool
    message: str

    @property
    def eligible(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class MarketFacts:
    """What the public catalogue knows of a product in a market: no tenant, no user."""

    market: str
    product_family: str
    product_self_service: bool
    sold_in_market: bool


def market_reasons(facts: MarketFacts) -> tuple[Reason, ...]:
    """Whether anyone in ``market`` may buy the product self-service at all: no one in India, and
    Project and Visio no one in Brazil or the Democratic Republic of the Congo. The
    part of ``assess`` that depends on the market alone, which ``Product.availability`` answers."""
    if facts.market in INELIGIBLE_MARKETS:
        return (Reason.MARKET_NOT_ELIGIBLE,)
    if (
        not facts.product_self_service
        or not facts.sold_in_market
        or facts.product_family in RESTRICTED_FAMILIES_BY_MARKET.get(facts.market, frozenset())
    ):
        return (Reason.PRODUCT_NOT_AVAILABLE_IN_MARKET,)
    return ()


def assess(facts: Facts) -> Assessment:
    """Every reason that applies, in the order a person would fix them."""
    blocking: list[Reason] = []
    if not facts.tenant_managed:
        blocking.append(Reason.UNMANAGED_TENANT)
    if facts.is_guest:
        blocking.append(Reason.GUEST_USER)
    if not facts.account_enabled:
        blocking.append(Reason.ACCOUNT_DISABLED)
    if facts.organization_type in INELIGIBLE_ORGANIZATION_TYPES:
        blocking.append(Reason.ORGANIZATION_TYPE_NOT_ELIGIBLE)
    blocking.extend(
        market_reasons(
            MarketFacts(
                market=facts.country,
                product_family=facts.product_family,
                product_self_service=facts.product_self_service,
                sold_in_market=facts.sold_in_market,
            )
        )
    )
    if facts.policy == "disabled":
        blocking.append(Reason.POLICY_DISABLED)

    # A policy of trials-only refuses purchases but still lets an otherwise eligible user start
    # a trial that needs no payment method.
    trials_only = facts.policy == "only_trials_without_payment_method"
    reasons = (*blocking, Reason.TRIALS_ONLY) if trials_only else tuple(blocking)
    can_start_trial = (
        not blocking and facts.trial_available and (not trials_only or not facts.trial_requires_payment_method)
    )
    return Assessment(reasons=reasons, can_start_trial=can_start_trial, message=_message(facts, reasons))


def _message(facts: Facts, reasons: tuple[Reason, ...]) -> str:
    if not reasons:
        return f"You can buy {facts.product_name} yourself."
    why = " ".join(reason.value for reason in reasons)
    return f"You can't buy {facts.product_name} yourself. {why} {CONTACT_IT_ADMIN}"


def facts_from(row: Mapping[str, Any], *, is_guest: bool, account_enabled: bool) -> Facts:
    """Facts from a row of ``SELECT_ELIGIBILITY_FACTS`` and what is known of the user."""
    return Facts(
        tenant_managed=row["managed"],
        organization_type=row["organization_type"],
        country=row["country"],
        is_guest=is_guest,
        account_enabled=account_enabled,
        product_name=row["product_name"],
        product_family=row["family"],
        product_self_service=row["self_service"],
        sold_in_market=row["sold_in_market"],
        trial_available=row["trial_available"],
        trial_requires_payment_method=row["trial_requires_payment_method"],
        policy=row["policy"],
    )
