"""Enums of the purchase graph; Python values are the database's, GraphQL names SCREAMING_CASE."""

from __future__ import annotations

import enum

import strawberry

from purchasegraph.eligibility import Reason
from purchasegraph.policy import Access


@strawberry.enum(description="The product families offered for self-service purchase.")
class ProductFamily(enum.Enum):
    POWER_BI = "power_bi"
    POWER_APPS = "power_apps"
    POWER_AUTOMATE = "power_automate"
    PROJECT = "project"
    VISIO = "visio"


@strawberry.enum(description="How a subscription was bought.")
class SubscriptionChannel(enum.Enum):
    SELF_SERVICE = strawberry.enum_value("self_service", description="Bought by a user with a credit card.")
    CENTRAL = strawberry.enum_value("central", description="Bought centrally by the organization.")


@strawberry.enum(description="Which subscriptions a list shows, as in the admin center's product list.")
class ChannelFilter(enum.Enum):
    INCLUDE_SELF_SERVICE = strawberry.enum_value("all", description="Central and self-service.")
    CENTRAL_ONLY = strawberry.enum_value("central", description="Centrally bought only.")
    SELF_SERVICE_ONLY = strawberry.enum_value("self_service", description="Self-service only.")


@strawberry.enum(description="Lifecycle of a subscription, as in Microsoft 365.")
class SubscriptionStatus(enum.Enum):
    TRIAL = strawberry.enum_value("trial", description="A free trial.")
    ACTIVE = strawberry.enum_value("active", description="Paid and running.")
    EXPIRED = strawberry.enum_value("expired", description="Up to 30 days after the end date: everyone keeps access.")
    DISABLED = strawberry.enum_value(
        "disabled", description="Up to 90 days after: only admins reach the data; no new assignments."
    )
    DELETED = strawberry.enum_value("deleted", description="Final: canceled or lapsed; cannot be reactivated.")


@strawberry.enum(description="Who governs a self-service subscription.")
class ControlledBy(enum.Enum):
    PURCHASER = strawberry.enum_value("purchaser", description="The user who bought it.")
    ADMINS = strawberry.enum_value("admins", description="The tenant's admins, after a take-over or central.")


@strawberry.enum(description="What an order line did to its subscription.")
class OrderKind(enum.Enum):
    PURCHASE = "purchase"
    TRIAL = "trial"
    ADD_LICENSES = "add_licenses"
    REMOVE_LICENSES = "remove_licenses"
    CANCEL = "cancel"
    RENEW = "renew"
    TAKE_OVER = "take_over"
    REACTIVATE = "reactivate"


@strawberry.enum(description="Billing state of an invoice.")
class InvoiceStatus(enum.Enum):
    OPEN = "open"
    PAID = "paid"
    PAST_DUE = "past_due"


@strawberry.enum(description="How often a subscription is billed.")
class BillingFrequency(enum.Enum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


@strawberry.enum(description="The MSCommerce AllowSelfServicePurchase policy value of a product.")
class SelfServicePolicyValue(enum.Enum):
    ENABLED = strawberry.enum_value("enabled", description="Users may buy and start trials.")
    DISABLED = strawberry.enum_value("disabled", description="Neither purchases nor trials.")
    ONLY_TRIALS_WITHOUT_PAYMENT_METHOD = strawberry.enum_value(
        "only_trials_without_payment_method", description="Trials that need no payment method only."
    )


@strawberry.enum(description="Kind of organization; government and education cannot buy self-service.")
class OrganizationType(enum.Enum):
    COMMERCIAL = "commercial"
    GOVERNMENT = "government"
    EDUCATION = "education"
    NONPROFIT = "nonprofit"


@strawberry.enum(description="Member of the directory, or a guest from another organization.")
class UserType(enum.Enum):
    MEMBER = "member"
    GUEST = "guest"


@strawberry.enum(description="Where a user account is mastered.")
class UserSource(enum.Enum):
    CLOUD = strawberry.enum_value("cloud", description="Created in the cloud directory.")
    SYNCED = strawberry.enum_value("synced", description="Synchronized from on-premises Active Directory.")


@strawberry.enum(description="Directory roles that matter to purchases.")
class DirectoryRole(enum.Enum):
    GLOBAL_ADMIN = "global_admin"
    BILLING_ADMIN = "billing_admin"
    GLOBAL_READER = "global_reader"


@strawberry.enum(description="State of a delegated-admin (GDAP) relationship.")
class PartnerRelationshipStatus(enum.Enum):
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"


AccessLevel = strawberry.enum(
    Access,
    name="AccessLevel",
    description=(
        "Why the viewer reaches a tenant: ADMIN and READER by directory role, PARTNER through an "
        "active delegated relationship (all three see the whole tenant), MEMBER (own purchases and "
        "licenses), GUEST (own licenses only)."
    ),
)

EligibilityReason = strawberry.enum(
    Reason,
    name="EligibilityReason",
    description="Why a user cannot buy a product self-service; the purchase mutations use the same codes.",
)
