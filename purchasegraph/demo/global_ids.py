"""What API callers send to name the demo world: global IDs of its rows, and a card that pays.

Apart from ``actors`` because a global ID is the schema's encoding, which the seed does not need.
"""

from __future__ import annotations

import uuid

from purchasegraph.demo.actors import CONTOSO_ID, demo_id, demo_user_id
from purchasegraph.schema.ids import encode_id

# The sandbox processor approves this card.
GOOD_CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"}


def subscription(label: str) -> str:
    """The global ID of a demo subscription of Contoso."""
    return encode_id("Subscription", demo_id(f"subscription:{label}"), CONTOSO_ID)


def user(upn: str, tenant_id: uuid.UUID = CONTOSO_ID) -> str:
    """The global ID of a demo user (of Contoso unless ``tenant_id`` says otherwise)."""
    return encode_id("User", demo_user_id(upn), tenant_id)


PAULAS_POWER_BI_UUID = demo_id("subscription:paula-power-bi-pro")
PAULAS_POWER_BI = subscription("paula-power-bi-pro")  # 10 licenses: Lee, Mia, Noah, Olivia, Gus hold 5
DANAS_PREMIUM = subscription("dana-power-bi-premium")
SAMS_VISIO_DISABLED = subscription("sam-visio-plan-2-disabled")
PETES_RPA_DELETED = subscription("pete-power-automate-rpa-deleted")
PETES_PROJECT_EXPIRED = subscription("pete-project-plan-3-expired")  # 2 licenses: Pete and Olivia hold both
DANAS_PREMIUM_UUID = demo_id("subscription:dana-power-bi-premium")
CENTRAL_POWER_BI = subscription("contoso-central-power-bi-pro")  # 50 licenses, 6 assigned
CENTRAL_POWER_APPS = subscription("contoso-central-power-apps")
