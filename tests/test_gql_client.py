"""Python's GraphQL client, `gql`, against the app served for real: HTTP (httpx) and websockets transports.

gql validates every document on the client against a schema before sending it: here the committed
schema.graphql for one client, and the schema it introspects from the gateway for another, so both
the artifact and the live schema are what a Python team's client checks against. The module has a
PostgreSQL of its own: the purchase a subscriber is told of commits.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from graphql import GraphQLError

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.demo.actors import CONTOSO, PAULA
from purchasegraph.demo.global_ids import GOOD_CARD, PAULAS_POWER_BI
from purchasegraph.gateway.refusals import RequestCode
from purchasegraph.identity import TokenReason
from tests.test_http import token_for
from tests.test_purchase_events import Served, served

pytestmark = pytest.mark.live_server

SCHEMA = (Path(__file__).parent.parent / "schema.graphql").read_text(encoding="utf-8")
WAIT = 10.0

VIEWER = GraphQLRequest("query Viewer { viewer { user { id displayName } homeTenant { id name } } }")
REMOVE_LICENSES = """
mutation RemoveLicenses($subscriptionId: ID!, $quantity: Int!) {
  removeLicenses(subscriptionId: $subscriptionId, quantity: $quantity) {
    subscription { id quantity }
    userErrors { code field message }
  }
}
"""
PURCHASE = """
mutation Purchase($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) {
    subscription { id quantity }
    userErrors { code field message }
  }
}
"""
MY_EVENTS = GraphQLRequest("subscription MyEvents { mySubscriptionEvents { action subscription { id quantity } } }")


def bearer(upn: str = PAULA) -> str:
    return f"Bearer {token_for(upn, upn.rpartition('@')[2])}"


@pytest.fixture(scope="module")
def app(own_database: str) -> Iterator[Served]:
    with served(own_database) as one:
        yield one


def http_client(app: Served, *, authorization: str | None = None, schema: str | None = SCHEMA) -> Client:
    headers = {"Authorization": authorization} if authorization is not None else {}
    transport = HTTPXAsyncTransport(url=f"{app.url}/graphql", headers=headers, timeout=30)
    return Client(transport=transport, schema=schema, fetch_schema_from_transport=schema is None)


@pytest.fixture
async def paula(app: Served) -> AsyncIterator[AsyncClientSession]:
    """An HTTP session of gql's as Paula, validating against the committed schema.graphql."""
    async with http_client(app, authorization=bearer()) as session:
        yield session


async def test_gql_runs_a_query_over_http_with_a_bearer_token(paula: AsyncClientSession) -> None:
    data = await paula.execute(VIEWER)
    assert data["viewer"]["user"]["displayName"] == "Paula Purchaser"
    assert data["viewer"]["homeTenant"]["name"] == "Contoso"


async def test_gql_validates_against_the_schema_it_introspects_from_the_gateway(app: Served) -> None:
    async with http_client(app, authorization=bearer(), schema=None) as session:
        data = await session.execute(VIEWER)
        assert data["viewer"]["user"]["displayName"] == "Paula Purchaser"
        assert session.client.schema is not None
        assert session.client.schema.get_type("PurchaseEvent") is not None
        with pytest.raises(GraphQLError, match="Cannot query field 'creditCardNumber'"):
            await session.execute(GraphQLRequest("{ viewer { user { creditCardNumber } } }"))


async def test_gql_reads_user_errors_of_a_refused_mutation_as_data(paula: AsyncClientSession) -> None:
    request = GraphQLRequest(REMOVE_LICENSES, variable_values={"subscriptionId": PAULAS_POWER_BI, "quantity": 9})
    payload = (await paula.execute(request))["removeLicenses"]
    assert [e["code"] for e in payload["userErrors"]] == [ErrorCode.LICENSES_ASSIGNED.name]
    assert payload["subscription"] is None


async def test_gql_raises_the_gateways_401_code_for_an_invalid_token(app: Served) -> None:
    async with http_client(app, authorization="Bearer not-a-token") as session:
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(VIEWER)
    assert refused.value.errors is not None
    extensions = refused.value.errors[0]["extensions"]
    assert (extensions["code"], extensions["reason"]) == (
        RequestCode.UNAUTHENTICATED.value,
        TokenReason.MALFORMED.value,
    )


async def test_gql_websockets_transport_receives_the_event_of_a_purchase(
    app: Served, paula: AsyncClientSession
) -> None:
    transport = WebsocketsTransport(
        url=app.url.replace("http://", "ws://") + "/graphql", init_payload={"Authorization": bearer()}
    )
    async with Client(transport=transport, schema=SCHEMA) as subscriber:
        events = subscriber.subscribe(MY_EVENTS)
        first_event = asyncio.ensure_future(anext(events))
        deadline = time.monotonic() + WAIT
        while app.hub.subscribers < 1:  # graphql-transport-ws acknowledges no subscribe
            assert time.monotonic() < deadline, "the gateway never held the subscription"
            await asyncio.sleep(0.01)
        purchase = GraphQLRequest(
            PURCHASE,
            variable_values={
                "input": {
                    "tenantId": CONTOSO,
                    "productId": POWER_BI_PRO,
                    "quantity": 2,
                    "card": GOOD_CARD,
                    "idempotencyKey": uuid.uuid4().hex,
                }
            },
        )
        bought = (await paula.execute(purchase))["purchaseSubscription"]
        assert bought["userErrors"] == []
        event = (await asyncio.wait_for(first_event, WAIT))["mySubscriptionEvents"]
        await events.aclose()
    assert transport.subprotocol == WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL
    assert event["action"] == "subscription.purchase"
    assert event["subscription"] == bought["subscription"]
