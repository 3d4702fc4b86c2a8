"""The admin's worklists: date filters on subscriptions and purchases, a purchase's channel, and
cancellation requests as first-class objects (the tenant's list, a subscription's request, the
purchaser's answer, closing on cancel and take-over). Every read is held to the compiled path."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.demo import ALEX, CONTOSO
from tests.test_compiled_reads import agree

SMOKE = """query ($t: ID!) { tenant(id: $t) {
  subscriptions(first: 50) { nodes { id expiresAt cancellationRequest { id status message requestedBy { displayName } subscription { id } } } }
  purchases(first: 50, channel: SELF_SERVICE_ONLY) { nodes { id channel purchasedAt } }
  cancellationRequests { totalCount nodes { id status createdAt resolvedAt responseMessage } }
} }"""


async def test_smoke(api: Api) -> None:
    data: Any = await agree(api, SMOKE, ALEX, {"t": CONTOSO})
    print(data["tenant"]["cancellationRequests"])
