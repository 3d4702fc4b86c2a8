"""What has happened in the demo world: relationships, policies, cards, subscriptions with their
orders, licenses and bills, requests and notices, one record per row of each table.

Every date is relative to the app clock's today when the world is seeded, so an "active"
subscription is never found expired a year later and the lifecycle windows (expired for 30 days,
disabled for 90) hold whenever the playground starts. ``Ago(days, hour)`` is that many days before
today at that hour (negative: ahead); a ``timedelta`` is that long after the subscription's term began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from purchasegraph.catalogue import (
    POWER_APPS_PER_USER,
    POWER_AUTOMATE_PER_USER,
    POWER_AUTOMATE_RPA,
    POWER_BI_PREMIUM,
    POWER_BI_PRO,
    PROJECT_PLAN_3,
    VISIO_PLAN_1,
    VISIO_PLAN_2,
)
from purchasegraph.demo.actors import (
    ADATUM,
    ALEX,
    BEA,
    BRUNO,
    CONTOSO_DOMAIN,
    DANA,
    FABRIKAM,
    GUS,
    KINSHASA,
    LEE,
    LITWARE,
    MIA,
    NOAH,
    OLGA,
    OLIVIA,
    PAT,
    PAULA,
    PETE,
    PETRA,
    PROSEWARE,
    RAJ,
    RITA,
    SAM,
    TESS,
    WILL,
    WOODGROVE,
)


@dataclass(frozen=True)
class Ago:
    days: int
    hour: int = 9


When = Ago | timedelta


@dataclass(frozen=True)
class Partnership:
    customer: str
    partner: str
    roles: tuple[str, ...]
    status: str
    starts: Ago
    ends: Ago


PARTNERSHIPS = (
    # Adatum may act for Contoso now; its Woodgrove relationship ran its full two years and lapsed.
    Partnership(CONTOSO_DOMAIN, ADATUM, ("global_admin",), "active", Ago(100), Ago(-265)),
    Partnership(WOODGROVE, ADATUM, ("global_reader",), "expired", Ago(800), Ago(70)),
    Partnership(CONTOSO_DOMAIN, LITWARE, ("billing_admin",), "expired", Ago(370), Ago(5)),
    # Ended by the customer before its end date: the dates alone would still call it current.
    Partnership(FABRIKAM, LITWARE, ("global_reader",), "terminated", Ago(200), Ago(-165)),
    # Proseware reads for Kinshasa Traders and may change nothing there: a reader-only grant.
    Partnership(KINSHASA, PROSEWARE, ("global_reader",), "active", Ago(30), Ago(-335)),
)


@dataclass(frozen=True)
class PolicyChange:
    """``previous`` is None where the tenant had no row yet, i.e. the implicit default."""

    domain: str
    product_id: str
    value: str
    by: str
    at: Ago
    previous: str | None


POLICY_CHANGES = (
    # Enabled is also the default; the explicit row records that an admin decided it.
    PolicyChange(CONTOSO_DOMAIN, POWER_BI_PRO, "enabled", ALEX, Ago(60, 14), None),
    PolicyChange(CONTOSO_DOMAIN, PROJECT_PLAN_3, "disabled", ALEX, Ago(45, 14), "enabled"),
    PolicyChange(CONTOSO_DOMAIN, VISIO_PLAN_1, "only_trials_without_payment_method", ALEX, Ago(30, 14), "enabled"),
    PolicyChange(WOODGROVE, POWER_APPS_PER_USER, "disabled", WILL, Ago(90, 11), "enabled"),
)


@dataclass(frozen=True)
class Card:
    """``expires`` is (month, years from now), so no demo card is ever already out of date; a card
    without ``removed`` is its owner's current one, the card their self-service purchases pay with."""

    owner: str
    brand: str
    last4: str
    expires: tuple[int, int]
    added: Ago
    key: str = "current"
    removed: Ago | None = None


CARDS = (
    Card(PAULA, "visa", "4242", (8, 2), Ago(90)),
    Card(PAULA, "mastercard", "5454", (3, 1), Ago(400), key="replaced", removed=Ago(90)),
    Card(PETE, "mastercard", "4444", (11, 3), Ago(500)),
    Card(SAM, "visa", "1881", (6, 1), Ago(500)),
    Card(DANA, "amex", "8431", (1, 2), Ago(300)),
    Card(PETRA, "mastercard", "5100", (9, 2), Ago(200)),
    Card(BRUNO, "visa", "1111", (4, 3), Ago(100)),
)


@dataclass(frozen=True)
class Running:
    """An annual term ``months`` into its year, its current monthly period ``days_into_period`` old."""

    months: int
    days_into_period: int


@dataclass(frozen=True)
class Ended:
    """An annual term that reached its end date ``days_ago`` days ago without renewing."""

    days_ago: int


@dataclass(frozen=True)
class Trial:
    started: Ago
    days: int


Order = tuple[str, str, int, When]  # kind, actor, quantity delta, when
Holder = tuple[str, str, When, When | None]  # license holder, assigned by, assigned, removed


@dataclass(frozen=True)
class Purchase:
    """A subscription and what happened to it: orders, then its licenses, then its monthly bills to
    the purchaser (``bills`` is the status of the latest; None where no one is billed monthly)."""

    label: str
    domain: str
    product_id: str
    status: str
    term: Running | Ended | Trial
    orders: tuple[Order, ...]
    holders: tuple[Holder, ...]
    purchaser: str | None = None
    bills: str | None = "paid"
    is_trial: bool = False
    auto_renew: bool = True
    billing_frequency: str = "monthly"
    canceled: tuple[str, Ago, str] | None = None  # who canceled it, when, and why

    @property
    def channel(self) -> str:
        return "self_service" if self.purchaser else "central"


def _hour_by_hour(by: str, *holders: str, start: int = 1) -> tuple[Holder, ...]:
    """Licenses ``by`` handed out at the term's start, an hour apart."""
    return tuple((upn, by, timedelta(hours=hours), None) for hours, upn in enumerate(holders, start=start))


PURCHASES = (
    # Paula: the everyday purchaser, one bill still open.
    Purchase(
        "paula-power-bi-pro",
        CONTOSO_DOMAIN,
        POWER_BI_PRO,
        "active",
        Running(5, 3),
        orders=(("purchase", PAULA, 6, timedelta()), ("add_licenses", PAULA, 4, Ago(80, 10))),
        holders=(
            (LEE, PAULA, timedelta(hours=1), None),
            (MIA, PAULA, timedelta(days=1), None),
            (NOAH, PAULA, timedelta(days=1, hours=1), None),
            (RAJ, PAULA, timedelta(days=2), Ago(30, 15)),
            (OLIVIA, PAULA, Ago(79, 11), None),
            (GUS, PAULA, Ago(40, 16), None),
        ),
        purchaser=PAULA,
        bills="open",
    ),
    Purchase(
        "paula-power-apps",
        CONTOSO_DOMAIN,
        POWER_APPS_PER_USER,
        "active",
        Running(3, 9),
        orders=(("purchase", PAULA, 5, timedelta()),),
        holders=_hour_by_hour(PAULA, LEE, TESS, start=2),
        purchaser=PAULA,
    ),
    # Pete: one subscription in each of trial, expired and deleted, plus an active one he shrank.
    Purchase(
        "pete-power-automate",
        CONTOSO_DOMAIN,
        POWER_AUTOMATE_PER_USER,
        "active",
        Running(4, 20),
        orders=(("purchase", PETE, 4, timedelta()), ("remove_licenses", PETE, -1, Ago(50, 13))),
        holders=((RAJ, PETE, timedelta(days=1), None),),
        purchaser=PETE,
    ),
    # startTrial grants one license, to whoever starts it.
    Purchase(
        "pete-visio-plan-1-trial",
        CONTOSO_DOMAIN,
        VISIO_PLAN_1,
        "trial",
        Trial(Ago(10, 16), 30),
        orders=(("trial", PETE, 1, timedelta()),),
        holders=((PETE, PETE, timedelta(minutes=5), None),),
        purchaser=PETE,
        bills=None,
        is_trial=True,
        auto_renew=False,
    ),
    # Bought a year before Alex disabled Project: the policy change left it alone until it ran out.
    Purchase(
        "pete-project-plan-3-expired",
        CONTOSO_DOMAIN,
        PROJECT_PLAN_3,
        "expired",
        Ended(10),
        orders=(("purchase", PETE, 2, timedelta()),),
        holders=((PETE, PETE, timedelta(hours=1), None), (OLIVIA, PETE, timedelta(days=1), None)),
        purchaser=PETE,
        auto_renew=False,
    ),
    Purchase(
        "pete-power-automate-rpa-deleted",
        CONTOSO_DOMAIN,
        POWER_AUTOMATE_RPA,
        "deleted",
        Running(4, 15),
        orders=(("purchase", PETE, 1, timedelta()),),
        holders=((PETE, PETE, timedelta(hours=1), Ago(25, 12)),),
        purchaser=PETE,
        auto_renew=False,
        canceled=(PETE, Ago(25, 12), "The automation pilot ended."),
    ),
    # Sam (synced from on-premises AD) let his Visio lapse 40 days ago: disabled, data for admins only.
    Purchase(
        "sam-visio-plan-2-disabled",
        CONTOSO_DOMAIN,
        VISIO_PLAN_2,
        "disabled",
        Ended(40),
        orders=(("purchase", SAM, 1, timedelta()),),
        holders=((SAM, SAM, timedelta(minutes=10), None),),
        purchaser=SAM,
        auto_renew=False,
    ),
    # Dana left 20 days ago: a departed purchaser's subscriptions keep running until an admin acts
    # on them; her card no longer pays.
    Purchase(
        "dana-power-bi-premium",
        CONTOSO_DOMAIN,
        POWER_BI_PREMIUM,
        "active",
        Running(6, 12),
        orders=(("purchase", DANA, 2, timedelta()),),
        holders=((TESS, DANA, timedelta(days=1), None),),
        purchaser=DANA,
        bills="past_due",
    ),
    Purchase(
        "dana-power-apps-taken-over",
        CONTOSO_DOMAIN,
        POWER_APPS_PER_USER,
        "active",
        Running(7, 25),
        orders=(("purchase", DANA, 3, timedelta()), ("take_over", ALEX, 0, Ago(8, 10))),
        holders=((NOAH, DANA, timedelta(days=1), None),),
        purchaser=DANA,
    ),
    # Bought by the admins (and, once, by the partner acting for Contoso), billed to the company.
    Purchase(
        "contoso-central-power-bi-pro",
        CONTOSO_DOMAIN,
        POWER_BI_PRO,
        "active",
        Running(10, 5),
        orders=(("purchase", ALEX, 40, timedelta()), ("add_licenses", PAT, 10, Ago(40, 15))),
        holders=_hour_by_hour(ALEX, ALEX, BEA, RITA, PAULA, PETE, SAM),
        bills=None,
        billing_frequency="annual",
    ),
    Purchase(
        "contoso-central-power-apps",
        CONTOSO_DOMAIN,
        POWER_APPS_PER_USER,
        "active",
        Running(8, 14),
        orders=(("purchase", BEA, 20, timedelta()),),
        holders=_hour_by_hour(BEA, ALEX, MIA, RAJ),
        bills=None,
        billing_frequency="annual",
    ),
    Purchase(
        "woodgrove-petra-power-bi-pro",
        WOODGROVE,
        POWER_BI_PRO,
        "active",
        Running(2, 5),
        orders=(("purchase", PETRA, 3, timedelta()),),
        holders=((PETRA, PETRA, timedelta(minutes=5), None), (OLGA, PETRA, timedelta(days=3), None)),
        purchaser=PETRA,
    ),
    Purchase(
        "woodgrove-petra-visio-plan-2",
        WOODGROVE,
        VISIO_PLAN_2,
        "active",
        Running(1, 18),
        orders=(("purchase", PETRA, 2, timedelta()),),
        holders=((PETRA, PETRA, timedelta(minutes=5), None),),
        purchaser=PETRA,
    ),
    # Power Apps is disabled for self-service at Woodgrove; buying it centrally is unaffected.
    Purchase(
        "woodgrove-central-power-apps",
        WOODGROVE,
        POWER_APPS_PER_USER,
        "active",
        Running(6, 10),
        orders=(("purchase", WILL, 10, timedelta()),),
        holders=_hour_by_hour(WILL, WILL, OLGA),
        bills=None,
        billing_frequency="annual",
    ),
    Purchase(
        "fabrikam-bruno-power-bi-pro",
        FABRIKAM,
        POWER_BI_PRO,
        "active",
        Running(2, 7),
        orders=(("purchase", BRUNO, 2, timedelta()),),
        holders=((BRUNO, BRUNO, timedelta(minutes=5), None),),
        purchaser=BRUNO,
    ),
)


@dataclass(frozen=True)
class CancellationRequest:
    label: str  # of the subscription, which the request's id is named after
    requested_by: str
    message: str
    at: Ago


CANCELLATION_REQUESTS = (
    CancellationRequest(
        "dana-power-bi-premium",
        ALEX,
        "Dana has left Contoso. Please cancel this subscription so its users can move to licenses "
        "the company bought centrally.",
        Ago(7, 11),
    ),
)


@dataclass(frozen=True)
class LicenseRequest:
    key: str
    product_id: str
    requester: str
    for_users: tuple[str, ...]
    at: Ago
    denied: tuple[str, Ago] | None = None  # by whom and when; pending without


# Project is disabled, so Lee asks instead of buying; Noah asked earlier and was turned down.
LICENSE_REQUESTS = (
    LicenseRequest("lee-project-plan-3", PROJECT_PLAN_3, LEE, (LEE, MIA), Ago(6)),
    LicenseRequest("noah-project-plan-3", PROJECT_PLAN_3, NOAH, (NOAH,), Ago(30), denied=(ALEX, Ago(28, 10))),
)


@dataclass(frozen=True)
class Notice:
    """``subject`` is the demo-id name of what it is about; ``invoice:{label}`` names the latest bill."""

    key: str
    to: str
    kind: str
    subject: str
    message: str
    at: Ago
    read: Ago | None = None


NOTICES = (
    Notice(
        "dana-cancellation-requested",
        DANA,
        "cancellation_requested",
        "cancellation_request:dana-power-bi-premium",
        "Alex Admin asked you to cancel your Power BI Premium per user subscription.",
        Ago(7, 11),
    ),
    Notice(
        "dana-taken-over",
        DANA,
        "subscription_taken_over",
        "subscription:dana-power-apps-taken-over",
        "Your admins took control of your Power Apps per user subscription.",
        Ago(8, 10),
    ),
    Notice(
        "dana-invoice-past-due",
        DANA,
        "invoice_past_due",
        "invoice:dana-power-bi-premium",
        "Your Power BI Premium per user bill is past due.",
        Ago(4, 8),
    ),
    Notice(
        "alex-license-requested",
        ALEX,
        "license_requested",
        "license_request:lee-project-plan-3",
        "Lee Licensed requested Project Plan 3 for 2 users.",
        Ago(6),
    ),
    # Mia is named in Lee's request: told of it as requestLicense tells a named colleague.
    Notice(
        "mia-license-requested-for-you",
        MIA,
        "license_requested_for_you",
        "license_request:lee-project-plan-3",
        "Lee Licensed asked the admins for Project Plan 3 for you.",
        Ago(6),
    ),
    Notice(
        "noah-license-request-denied",
        NOAH,
        "license_request_denied",
        "license_request:noah-project-plan-3",
        "Your request for Project Plan 3 was denied.",
        Ago(28, 10),
        read=Ago(27),
    ),
)
