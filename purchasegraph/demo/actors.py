"""The demo world's cast, declared once: its tenants and users, and the stable ids they go by.

Ids come from ``demo_id`` so that a token minted for ``paula.purchaser@contoso.example`` today still
names the same user after the database is rebuilt; the seed, the playground, the README and the
tests all name demo rows through these.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from purchasegraph.catalogue import MARKET_CURRENCY

DEMO_NAMESPACE = uuid.UUID("5b0c2f0e-6a4e-4c1e-9a51-7a3f0a9d2c11")


def demo_id(name: str) -> uuid.UUID:
    """Stable across rebuilds, so tokens, bookmarks and tests can name demo rows by id."""
    return uuid.uuid5(DEMO_NAMESPACE, name)


def demo_tenant_id(domain: str) -> uuid.UUID:
    return demo_id(f"tenant:{domain}")


def demo_user_id(upn: str) -> uuid.UUID:
    return demo_id(f"user:{upn}")


# -- Tenants, by primary domain -----------------------------------------------------------------

CONTOSO_DOMAIN = "contoso.example"
WOODGROVE = "woodgrove.example"
FABRIKAM = "fabrikam.example"
TAILSPIN = "tailspin.example"
NORTHWIND_SCHOOL = "northwind-school.example"
CITY_OF_SAMPLE = "cityofsample.example"
VIRAL = "viral.example"
ADATUM = "adatum-partners.example"
LITWARE = "litware-partners.example"
KINSHASA = "kinshasa-traders.example"
PROSEWARE = "proseware-partners.example"

CONTOSO_ID = demo_tenant_id(CONTOSO_DOMAIN)
CONTOSO = str(CONTOSO_ID)  # as the API's tenant ID arguments take it
WOODGROVE_ID = demo_tenant_id(WOODGROVE)


@dataclass(frozen=True)
class DemoTenant:
    domain: str
    name: str
    organization_type: str
    country: str
    managed: bool = True
    created_days_ago: int = 2000

    @property
    def currency(self) -> str:
        return MARKET_CURRENCY[self.country]


TENANTS = (
    DemoTenant(CONTOSO_DOMAIN, "Contoso", "commercial", "US"),
    DemoTenant(WOODGROVE, "Woodgrove Bank", "commercial", "DE"),
    DemoTenant(FABRIKAM, "Fabrikam Brasil", "commercial", "BR"),
    DemoTenant(TAILSPIN, "Tailspin Toys India", "commercial", "IN"),
    DemoTenant(NORTHWIND_SCHOOL, "Northwind School", "education", "GB"),
    DemoTenant(CITY_OF_SAMPLE, "City of Sample", "government", "US"),
    # Created by a self-service sign-up, not by an admin: no one manages it.
    DemoTenant(VIRAL, "Viral Signups", "commercial", "US", managed=False, created_days_ago=60),
    DemoTenant(ADATUM, "Adatum Partners", "commercial", "US"),
    DemoTenant(LITWARE, "Litware Partners", "commercial", "US"),
    # Project and Visio are not sold in the Democratic Republic of the Congo.
    DemoTenant(KINSHASA, "Kinshasa Traders", "commercial", "CD"),
    # A partner whose grant only reads.
    DemoTenant(PROSEWARE, "Proseware Partners", "commercial", "US"),
)
TENANT_BY_DOMAIN = {t.domain: t for t in TENANTS}

# -- Users, by sign-in name ---------------------------------------------------------------------

ALEX = "alex.admin@contoso.example"
BEA = "bea.billing@contoso.example"
RITA = "rita.reader@contoso.example"
PAULA = "paula.purchaser@contoso.example"
PETE = "pete.purchaser@contoso.example"
SAM = "sam.synced@contoso.example"
DANA = "dana.departed@contoso.example"
LEE = "lee.licensed@contoso.example"
MIA = "mia.martin@contoso.example"
NOAH = "noah.novak@contoso.example"
OLIVIA = "olivia.ortiz@contoso.example"
RAJ = "raj.rao@contoso.example"
TESS = "tess.tan@contoso.example"
UNA = "una.unlicensed@contoso.example"
GUS = "gus_fabrikam.example#EXT#@contoso.example"
WILL = "will.admin@woodgrove.example"
PETRA = "petra.purchaser@woodgrove.example"
OLGA = "olga.outsider@woodgrove.example"
BRUNO = "bruno@fabrikam.example"
INES = "ines@tailspin.example"
ED = "ed@northwind-school.example"
GAIL = "gail@cityofsample.example"
VIC = "vic@viral.example"
PAT = "pat.partner@adatum-partners.example"  # Adatum: active relationship with Contoso, global-admin grant
LIA = "lia.partner@litware-partners.example"  # Litware: its relationship with Contoso expired
KOFI = "kofi.admin@kinshasa-traders.example"
AMANI = "amani@kinshasa-traders.example"
ROSA = "rosa.partner@proseware-partners.example"


@dataclass(frozen=True)
class DemoUser:
    """A demo user; ``actor`` is the kind of caller it shows (the playground's and demo-tokens' label)."""

    user_principal_name: str
    display_name: str
    actor: str
    roles: tuple[str, ...] = ()
    mail: str | None = None
    guest: bool = False
    synced: bool = False
    departed_days_ago: int | None = None
    created_days_ago: int = 1500

    @property
    def tenant_domain(self) -> str:
        """Every demo user signs in under its home tenant's domain, guests included (``#EXT#@``)."""
        return self.user_principal_name.partition("@")[2]


# The global admin comes first: the start-up banner's example of `purchasegraph token EMAIL`.
DEMO_USERS = (
    DemoUser(ALEX, "Alex Admin", "global_admin", roles=("global_admin",)),
    DemoUser(BEA, "Bea Billing", "billing_admin", roles=("billing_admin",)),
    DemoUser(RITA, "Rita Reader", "global_reader", roles=("global_reader",)),
    DemoUser(PAULA, "Paula Purchaser", "purchaser"),
    DemoUser(PETE, "Pete Purchaser", "purchaser"),
    DemoUser(SAM, "Sam Synced", "synced_user", synced=True),
    DemoUser(DANA, "Dana Departed", "departed_user", departed_days_ago=20),
    DemoUser(LEE, "Lee Licensed", "licensed_user"),
    DemoUser(MIA, "Mia Martin", "licensed_user"),
    DemoUser(NOAH, "Noah Novak", "licensed_user"),
    DemoUser(OLIVIA, "Olivia Ortiz", "licensed_user"),
    DemoUser(RAJ, "Raj Rao", "licensed_user"),
    DemoUser(TESS, "Tess Tan", "licensed_user"),
    # A plain member with neither roles nor licenses: what "nothing to see" looks like from inside.
    DemoUser(UNA, "Una Unlicensed", "licensed_user"),
    DemoUser(GUS, "Gus Guest", "guest", mail="gus@fabrikam.example", guest=True, created_days_ago=300),
    DemoUser(WILL, "Will Admin", "outsider", roles=("global_admin",)),
    DemoUser(PETRA, "Petra Purchaser", "outsider"),
    DemoUser(OLGA, "Olga Outsider", "outsider"),
    DemoUser(BRUNO, "Bruno Barros", "outsider"),
    DemoUser(INES, "Ines Iyer", "outsider"),
    DemoUser(ED, "Ed Evans", "outsider"),
    DemoUser(GAIL, "Gail Green", "outsider"),
    DemoUser(VIC, "Vic Viral", "outsider", created_days_ago=60),
    DemoUser(PAT, "Pat Partner", "partner_active"),
    DemoUser(LIA, "Lia Partner", "partner_expired"),
    DemoUser(KOFI, "Kofi Admin", "outsider", roles=("global_admin",)),
    DemoUser(AMANI, "Amani Mbuyi", "outsider"),
    DemoUser(ROSA, "Rosa Partner", "partner_reader"),
)


def home_tenant_id(upn: str) -> uuid.UUID:
    return demo_tenant_id(upn.partition("@")[2])
