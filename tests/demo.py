"""The demo world the seed builds, as the test modules name it: tenants, users, products, subscriptions, cards.

Constants shared by several test modules; a name only one module uses stays in that module.
"""

from __future__ import annotations

import uuid

from purchasegraph.db.seed import demo_id, demo_tenant_id, demo_user_id
from purchasegraph.schema.ids import encode_id

# -- Tenants ------------------------------------------------------------------------------------

CONTOSO_ID = demo_tenant_id("contoso.example")
CONTOSO = str(CONTOSO_ID)  # as the API's tenant ID arguments take it
WOODGROVE_ID = demo_tenant_id("woodgrove.example")

# -- Users, by sign-in name ---------------------------------------------------------------------

ALEX = "alex.admin@contoso.example"
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
OLGA = "olga.outsider@woodgrove.example"
WILL = "will.admin@woodgrove.example"

# -- Products -----------------------------------------------------------------------------------

POWER_BI_PRO = "CFQ7TTC0H9MP"
VISIO_PLAN_1 = "CFQ7TTC0HD33"  # 30-day trial without a card; trials only at Contoso

# -- Cards --------------------------------------------------------------------------------------

GOOD_CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"}

# -- Global IDs ---------------------------------------------------------------------------------


def subscription(label: str) -> str:
    """The global ID of a demo subscription of Contoso."""
    return encode_id("Subscription", demo_id(f"subscription:{label}"), CONTOSO_ID)


def user(upn: str, tenant_id: uuid.UUID = CONTOSO_ID) -> str:
    return encode_id("User", demo_user_id(upn), tenant_id)


# -- Subscriptions of Contoso -------------------------------------------------------------------

PAULAS_POWER_BI_UUID = demo_id("subscription:paula-power-bi-pro")
PAULAS_POWER_BI = subscription("paula-power-bi-pro")  # 10 licenses: Lee, Mia, Noah, Olivia, Gus hold 5
DANAS_PREMIUM = subscription("dana-power-bi-premium")
SAMS_VISIO_DISABLED = subscription("sam-visio-plan-2-disabled")
PETES_RPA_DELETED = subscription("pete-power-automate-rpa-deleted")
PETES_PROJECT_EXPIRED = subscription("pete-project-plan-3-expired")  # 2 licenses: Pete and Olivia hold both
