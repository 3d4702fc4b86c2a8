"""The admin's product list: central only or with self-service, by product, status, purchaser."""

from __future__ import annotations

from typing import Any

import pytest

from purchasegraph.demo.actors import ALEX, CONTOSO, demo_tenant_id, demo_user_id
from purchasegraph.schema.ids import encode_id
from tests.conftest import Api

FILTERED = """
query ($t: ID!, $channel: ChannelFilter!, $product: String, $status: [SubscriptionStatus!], $purchaser: ID) {
  tenant(id: $t) {
    subscriptions(
      first: 100, channel: $channel, productId: $product, status: $status, purchaserId: $purchaser
    ) {
      totalCount
      nodes { channel status product { productId } purchaser { userPrincipalName } }
    }
  }
}
"""


async def subscriptions(api: Api, **variables: Any) -> dict[str, Any]:
    data = await api.data(
        FILTERED, as_user=ALEX, variables={"t": CONTOSO, "channel": "INCLUDE_SELF_SERVICE"} | variables
    )
    result: dict[str, Any] = data["tenant"]["subscriptions"]
    return result


async def test_central_only_lists_the_centrally_bought_subscriptions(api: Api) -> None:
    expected = await api.conn.fetchval(
        "SELECT count(*) FROM subscriptions WHERE tenant_id = $1 AND channel = 'central'",
        demo_tenant_id("contoso.example"),
    )
    central = await subscriptions(api, channel="CENTRAL_ONLY")
    assert central["totalCount"] == expected == 2
    assert {n["channel"] for n in central["nodes"]} == {"CENTRAL"}
    everything = await subscriptions(api)
    self_service = await subscriptions(api, channel="SELF_SERVICE_ONLY")
    assert everything["totalCount"] == central["totalCount"] + self_service["totalCount"]


@pytest.mark.parametrize("status", ["TRIAL", "ACTIVE", "EXPIRED", "DISABLED", "DELETED"])
async def test_filtering_by_status_returns_only_that_status(api: Api, status: str) -> None:
    expected = await api.conn.fetchval(
        "SELECT count(*) FROM subscriptions WHERE tenant_id = $1 AND status = $2",
        demo_tenant_id("contoso.example"),
        status.lower(),
    )
    found = await subscriptions(api, status=[status])
    assert found["totalCount"] == expected >= 1
    assert {n["status"] for n in found["nodes"]} == {status}


async def test_filtering_by_product_and_purchaser_combines(api: Api) -> None:
    paula = encode_id("User", demo_user_id("paula.purchaser@contoso.example"), demo_tenant_id("contoso.example"))
    found = await subscriptions(api, product="CFQ7TTC0H9MP", purchaser=paula)
    assert found["totalCount"] == 1
    assert found["nodes"][0]["purchaser"]["userPrincipalName"] == "paula.purchaser@contoso.example"
    assert found["nodes"][0]["product"]["productId"] == "CFQ7TTC0H9MP"


async def test_a_purchaser_filter_that_is_not_a_user_id_is_a_bad_user_input_error(api: Api) -> None:
    result = await api.execute(
        FILTERED,
        as_user=ALEX,
        variables={
            "t": CONTOSO,
            "channel": "INCLUDE_SELF_SERVICE",
            "purchaser": encode_id("Tenant", CONTOSO),
        },
    )
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "purchaserId"}
