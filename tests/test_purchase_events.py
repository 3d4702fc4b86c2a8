"""Live purchase events over graphql-transport-ws, against the app served for real by uvicorn.

A PostgreSQL of its own for the module: purchases made over HTTP commit, and the session's
database, whose rows other tests count, must not see them. Subscribers speak the protocol
with the `websockets` client; changes are made over HTTP or, for what no API does (revoking a
role, ending a relationship), as the owner.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from purchasegraph.app import create_app
from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.demo.actors import (
    ALEX,
    CONTOSO,
    CONTOSO_ID,
    DANA,
    LIA,
    OLGA,
    PAT,
    PAULA,
    PETE,
    demo_id,
    demo_tenant_id,
    demo_user_id,
)
from purchasegraph.demo.global_ids import GOOD_CARD
from purchasegraph.events import transport
from purchasegraph.events.hub import APPLICATION_NAME, QUEUE_LIMIT, EventHub, FeedEnded, Interest, Notice
from purchasegraph.gateway.documents import MANIFEST_FORMAT, document_hash
from purchasegraph.identity import AppRole, mint_app_token
from purchasegraph.payments import CARD_DECLINED_NUMBER
from purchasegraph.schema.ids import decode_uuid
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings, ThrottleSettings
from tests.live_server import live_server
from tests.mutations import PURCHASE
from tests.settings import SECRET, gateway_settings
from tests.test_http import token_for

ADATUM_ID = demo_tenant_id("adatum-partners.example")
PROTOCOL = Subprotocol("graphql-transport-ws")
# Long enough for a loaded machine; an event normally arrives within milliseconds.
WAIT = 10.0

PURCHASE_EVENTS = """
subscription ($tenant: ID!) {
  purchaseEvents(tenantId: $tenant) {
    eventId action tenantId outcome occurredAt
    subscription { id quantity purchaser { userPrincipalName } }
    product { productId }
    actor { userPrincipalName }
  }
}
"""
MY_EVENTS = "subscription { mySubscriptionEvents { eventId action subscription { id } } }"


def domain_of(upn: str) -> str:
    return upn.rpartition("@")[2]


def bearer(upn: str) -> str:
    return f"Bearer {token_for(upn, domain_of(upn))}"


# -- The app, served -----------------------------------------------------------------------------


@dataclass
class Served:
    """One app process (a uvicorn in a thread) and the state its lifespan yielded."""

    url: str
    state: dict[str, Any]

    @property
    def hub(self) -> EventHub:
        return cast(EventHub, self.state["events"])

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    async def wait_for_subscribers(self, count: int) -> None:
        """graphql-transport-ws acknowledges no subscribe: wait until the hub has the feed."""
        deadline = time.monotonic() + WAIT
        while self.hub.subscribers != count:
            assert time.monotonic() < deadline, f"{self.hub.subscribers} subscribers, not {count}"
            await asyncio.sleep(0.01)


def capture_state(app: Starlette, into: dict[str, Any]) -> None:
    """Keep what the lifespan yields (the hub) where the test can read it."""
    lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def capturing(app: Starlette) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            into.update(state or {})
            yield state

    app.router.lifespan_context = capturing


@contextmanager
def served(database_url: str, **changes: object) -> Iterator[Served]:
    settings = gateway_settings(database_url, seed_demo=True).with_changes(**changes)
    app = create_app(settings)
    state: dict[str, Any] = {}
    capture_state(app, state)
    with live_server(app) as live:
        yield Served(url=live.url, state=state)


@pytest.fixture(scope="module")
def app(own_database: str) -> Iterator[Served]:
    with served(own_database) as one:
        yield one


@pytest.fixture
async def owner(own_database: str, app: Served) -> AsyncIterator[asyncpg.Connection]:
    """The tables' owner, for what no API does; after `app`, which migrated and seeded."""
    conn = await asyncpg.connect(own_database)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def http(app: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        yield client


async def purchase(
    http: httpx.AsyncClient, upn: str = PAULA, *, card: dict[str, Any] = GOOD_CARD, request_id: str | None = None
) -> httpx.Response:
    variables = {
        "input": {
            "tenantId": CONTOSO,
            "productId": POWER_BI_PRO,
            "quantity": 1,
            "card": card,
            "idempotencyKey": uuid.uuid4().hex,
        }
    }
    headers = {"Authorization": bearer(upn)}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return await http.post("/graphql", json={"query": PURCHASE, "variables": variables}, headers=headers)


async def purchased(http: httpx.AsyncClient, upn: str = PAULA) -> str:
    """A purchase that succeeds; the subscription's global ID."""
    response = await purchase(http, upn)
    payload = response.json()["data"]["purchaseSubscription"]
    assert payload["userErrors"] == [], payload
    return cast(str, payload["subscription"]["id"])


# -- A graphql-transport-ws client ---------------------------------------------------------------


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))

    async def receive(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.recv(), WAIT)
        return cast(dict[str, Any], json.loads(message))

    async def silent_for(self, seconds: float) -> None:
        try:
            message = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return
        pytest.fail(f"unexpected message: {message!r}")


@asynccontextmanager
async def connected(served: Served, upn: str, *, authorization: str | None = None) -> AsyncIterator[Client]:
    async with connect(served.ws_url, subprotocols=[PROTOCOL]) as ws:
        header = authorization or bearer(upn)
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": header}}))
        client = Client(ws)
        assert await client.receive() == {"type": "connection_ack"}
        yield client


async def closed_with(served: Served, payload: dict[str, Any]) -> int | None:
    """Send connection_init with ``payload``; the close code the server answers with."""
    async with connect(served.ws_url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
        return closed.value.rcvd.code if closed.value.rcvd is not None else None


def event_of(message: dict[str, Any], id: str = "1") -> dict[str, Any]:
    assert (message["type"], message["id"]) == ("next", id), message
    assert "errors" not in message["payload"], message
    data = message["payload"]["data"]
    return cast(dict[str, Any], next(iter(data.values())))


# -- Delivery ------------------------------------------------------------------------------------


@pytest.mark.live_server
async def test_an_admin_receives_a_purchase_made_over_http(app: Served, http: httpx.AsyncClient) -> None:
    async with connected(app, ALEX) as alex:
        await alex.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await app.wait_for_subscribers(1)
        subscription_id = await purchased(http, PAULA)
        event = event_of(await alex.receive())
    await app.wait_for_subscribers(0)  # closing the socket ends the feed
    assert event["action"] == "subscription.purchase"
    assert event["tenantId"] == CONTOSO
    assert event["outcome"] == "accepted"
    assert event["subscription"] == {
        "id": subscription_id,
        "quantity": 1,
        "purchaser": {"userPrincipalName": PAULA},
    }
    assert event["product"] == {"productId": POWER_BI_PRO}
    assert event["actor"] == {"userPrincipalName": PAULA}


async def active_subscriptions() -> float:
    return float(REGISTRY.get_sample_value("purchasegraph_subscriptions_active") or 0.0)


async def until(condition: Callable[[], Awaitable[bool]]) -> bool:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.mark.live_server
async def test_an_open_subscription_is_counted_in_the_metrics_until_it_ends(app: Served) -> None:
    before = await active_subscriptions()
    async with connected(app, ALEX) as alex:
        await alex.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await app.wait_for_subscribers(1)

        async def counted() -> bool:
            return await active_subscriptions() == before + 1

        assert await until(counted), await active_subscriptions()
    await app.wait_for_subscribers(0)

    async def uncounted() -> bool:
        return await active_subscriptions() == before

    assert await until(uncounted), await active_subscriptions()


@pytest.mark.live_server
async def test_an_active_partner_receives_the_tenants_events(app: Served, http: httpx.AsyncClient) -> None:
    async with connected(app, PAT) as pat:
        await pat.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await app.wait_for_subscribers(1)
        subscription_id = await purchased(http, PAULA)
        event = event_of(await pat.receive())
    assert event["subscription"]["id"] == subscription_id
    assert event["actor"] == {"userPrincipalName": PAULA}


def app_bearer(roles: list[AppRole]) -> str:
    token = mint_app_token(
        secret=SECRET,
        app_id=demo_id("test-app:events-reader"),
        tenant_id=CONTOSO_ID,
        roles=roles,
        issuer=DEV_ISSUER,
        audience=DEFAULT_AUDIENCE,
    )
    return f"Bearer {token}"


@pytest.mark.live_server
async def test_a_reader_application_streams_the_tenants_events_but_has_no_purchases_of_its_own(
    app: Served, http: httpx.AsyncClient
) -> None:
    async with connected(app, "", authorization=app_bearer([AppRole.READ_ALL])) as tool:
        await tool.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await app.wait_for_subscribers(1)
        subscription_id = await purchased(http, PAULA)
        assert event_of(await tool.receive())["subscription"]["id"] == subscription_id
        await tool.subscribe("2", MY_EVENTS)
        refused = await tool.receive()
    assert refused["type"] == "error", refused
    assert refused["payload"][0]["extensions"]["code"] == "NOT_AUTHORIZED"


@pytest.mark.live_server
async def test_a_policy_only_application_sees_no_events(app: Served) -> None:
    async with connected(app, "", authorization=app_bearer([AppRole.POLICY_READ_WRITE])) as tool:
        await tool.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        refused = await tool.receive()
    assert refused["type"] == "error", refused


@pytest.mark.live_server
async def test_a_purchaser_receives_events_on_their_own_subscriptions_only(
    app: Served, http: httpx.AsyncClient
) -> None:
    async with connected(app, PAULA) as paula:
        await paula.subscribe("1", MY_EVENTS)
        await app.wait_for_subscribers(1)
        await purchased(http, PETE)  # Pete's: not Paula's business
        mine = await purchased(http, PAULA)
        event = event_of(await paula.receive())
        assert event == {"eventId": event["eventId"], "action": "subscription.purchase", "subscription": {"id": mine}}
        await paula.silent_for(0.3)


@pytest.mark.live_server
async def test_an_events_number_counts_its_own_tenants_audit_log_not_every_tenants(
    app: Served, own_database: str, http: httpx.AsyncClient
) -> None:
    """The global audit id would tell a subscriber how many events other tenants recorded."""
    async with connected(app, PAULA) as paula:
        await paula.subscribe("1", MY_EVENTS)
        await app.wait_for_subscribers(1)
        mine = await purchased(http, PAULA)
        event = event_of(await paula.receive())
    conn = await asyncpg.connect(own_database)
    try:
        seq, global_id = await conn.fetchrow(
            "SELECT tenant_seq, id FROM audit_events WHERE action = 'subscription.purchase' AND target_id = $1",
            str(decode_uuid(event["subscription"]["id"], "Subscription")),
        )
    finally:
        await conn.close()
    assert event["subscription"]["id"] == mine
    assert seq != global_id  # the demo world's other tenants have audited events too
    assert event["eventId"] == str(seq)


@pytest.mark.live_server
async def test_two_app_processes_on_one_database_both_deliver(
    app: Served, own_database: str, http: httpx.AsyncClient
) -> None:
    """Each process LISTENs and fans out to its own subscribers; the purchase goes through one."""
    with served(own_database) as other:
        async with connected(app, ALEX) as first, connected(other, ALEX) as second:
            await first.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
            await second.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
            await app.wait_for_subscribers(1)
            await other.wait_for_subscribers(1)
            subscription_id = await purchased(http, PAULA)
            events = [event_of(await first.receive()), event_of(await second.receive())]
    assert [e["subscription"]["id"] for e in events] == [subscription_id, subscription_id]
    assert events[0]["eventId"] == events[1]["eventId"]


# -- Authorization at the start ------------------------------------------------------------------


@pytest.mark.live_server
async def test_an_outsiders_subscription_is_refused_with_an_error(app: Served) -> None:
    async with connected(app, OLGA) as olga:
        await olga.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        message = await olga.receive()
    assert message["type"] == "error"
    assert message["id"] == "1"
    assert [e["extensions"]["code"] for e in message["payload"]] == ["NOT_FOUND"]
    await app.wait_for_subscribers(0)  # the feed opened for the check is gone


@pytest.mark.live_server
async def test_a_member_sees_no_tenant_wide_events(app: Served) -> None:
    async with connected(app, PAULA) as paula:
        await paula.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        message = await paula.receive()
    assert message["type"] == "error"
    assert [e["extensions"]["code"] for e in message["payload"]] == ["NOT_AUTHORIZED"]


@pytest.mark.live_server
@pytest.mark.parametrize(
    ("case", "payload"),
    [
        ("no token", {}),
        ("not a JWT", {"Authorization": "Bearer not-a-jwt"}),
        ("not bearer", {"Authorization": token_for(ALEX, "contoso.example")}),
        ("expired", {"Authorization": f"Bearer {token_for(ALEX, 'contoso.example', exp=int(time.time()) - 3600)}"}),
        ("unknown user", {"Authorization": f"Bearer {token_for('nobody@contoso.example', 'contoso.example')}"}),
    ],
)
async def test_a_connection_without_a_valid_token_is_closed_with_4403(
    app: Served, case: str, payload: dict[str, Any]
) -> None:
    assert await closed_with(app, payload) == 4403, case


@pytest.mark.live_server
async def test_a_connect_whose_token_names_nobody_pays_from_the_address_as_over_http(
    app: Served, owner: asyncpg.Connection
) -> None:
    """A signing key mints a subject per connection, never an address: the refused connect is
    charged to the address's bucket, as a refused HTTP request is."""
    bucket = "anonymous:127.0.0.1"
    await owner.execute("DELETE FROM throttle_buckets WHERE principal = $1", bucket)
    nobody = {"Authorization": f"Bearer {token_for('nobody@contoso.example', 'contoso.example')}"}
    assert await closed_with(app, nobody) == 4403
    assert await owner.fetchval("SELECT count(*) FROM throttle_buckets WHERE principal = $1", bucket) == 1


@pytest.mark.live_server
async def test_only_subscriptions_run_over_the_websocket_and_the_gateways_checks_apply(app: Served) -> None:
    async with connected(app, ALEX) as alex:
        await alex.subscribe("q", "{ viewer { user { displayName } } }")
        query = await alex.receive()
        await alex.subscribe("v", "subscription { purchaseEvents(tenantId: 1) { nope } }")
        invalid = await alex.receive()
        await alex.subscribe("i", "subscription { __typename }")
        introspection = await alex.receive()
    assert query["type"] == "error"
    assert query["payload"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert invalid["type"] == "error"
    assert {e["extensions"]["code"] for e in invalid["payload"]} == {"GRAPHQL_VALIDATION_FAILED"}
    assert introspection["type"] == "error"  # a subscription selects exactly one field, never __typename


@pytest.mark.live_server
async def test_a_websocket_message_larger_than_an_http_body_closes_the_socket_with_1009(app: Served) -> None:
    maximum = Settings().limits.max_body_bytes
    padded = "# " + "x" * 2 * 1024 * 1024 + "\n" + MY_EVENTS  # a 2 MB comment: valid, and far too big
    async with connected(app, ALEX) as alex:
        await alex.subscribe("1", padded)
        with pytest.raises(ConnectionClosed) as closed:
            await alex.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    assert str(maximum) in closed.value.rcvd.reason
    await app.wait_for_subscribers(0)


@pytest.mark.live_server
async def test_a_websocket_message_of_a_shape_the_protocol_does_not_define_closes_the_socket_with_4400(
    app: Served,
) -> None:
    # Each once ended the socket's task with a TypeError (an abnormal close, a stack trace logged)
    # or, for a subscribe, a logged crash of the operation instead of a refusal.
    subscribe = {"type": "subscribe", "id": "1", "payload": {"query": MY_EVENTS}}
    misshapen = [
        "[1, 2]",
        "5",
        '"ping"',
        "[" * 100_000 + "]" * 100_000,  # nested deeper than the decoder recurses
        json.dumps({"type": {}}),
        json.dumps({**subscribe, "id": {}}),
        json.dumps({**subscribe, "id": 5}),
        json.dumps({"type": "complete", "id": []}),
        json.dumps({**subscribe, "payload": []}),
        json.dumps({**subscribe, "payload": None}),
        json.dumps({**subscribe, "payload": {"query": 5}}),
        json.dumps({**subscribe, "payload": {"query": MY_EVENTS, "variables": [1]}}),
        json.dumps({**subscribe, "payload": {"query": MY_EVENTS, "operationName": {}}}),
    ]
    codes = []
    for message in misshapen:
        async with connected(app, ALEX) as alex:
            await alex.ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                await alex.receive()
            codes.append(closed.value.rcvd.code if closed.value.rcvd is not None else None)
    assert codes == [4400] * len(misshapen)
    async with connected(app, ALEX) as alex:  # and a well-formed one still runs
        await alex.ws.send(json.dumps(subscribe))
        await app.wait_for_subscribers(1)


@pytest.mark.live_server
async def test_a_principal_holds_a_bounded_number_of_live_subscriptions_however_many_sockets_it_opens(
    app: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten per socket held nothing: each new socket brought ten more, every one reading at every event.
    monkeypatch.setattr(transport, "MAX_SUBSCRIPTIONS_PER_PRINCIPAL", 3)
    async with connected(app, ALEX) as one, connected(app, ALEX) as two:
        await one.subscribe("1", MY_EVENTS)
        await one.subscribe("2", MY_EVENTS)
        await two.subscribe("1", MY_EVENTS)
        await app.wait_for_subscribers(3)
        await two.subscribe("2", MY_EVENTS)
        over = await two.receive()
        async with connected(app, PAULA) as paula:  # another principal has room of their own
            await paula.subscribe("1", MY_EVENTS)
            await app.wait_for_subscribers(4)
        await one.ws.send(json.dumps({"id": "1", "type": "complete"}))
        await app.wait_for_subscribers(2)
        await two.subscribe("3", MY_EVENTS)  # completing one made room again
        await app.wait_for_subscribers(3)
    assert (over["type"], over["id"]) == ("error", "2"), over
    assert [e["extensions"]["code"] for e in over["payload"]] == ["TOO_MANY_SUBSCRIPTIONS"]
    await app.wait_for_subscribers(0)


@pytest.mark.live_server
async def test_a_websocket_subscription_pays_from_the_same_cost_bucket_as_http(own_database: str) -> None:
    bea = "bea.billing@contoso.example"  # a bucket of her own in this module
    costly = PURCHASE_EVENTS.replace("subscription { id", "subscription { orders(first: 100) { nodes { id } } id")

    def pages_of_orders(pages: int) -> str:  # costs 1 + 99 + 99 x pages
        orders = f"orders(first: {pages}) {{ nodes {{ id }} }}"
        return f"{{ viewer {{ homeTenant {{ subscriptions(first: 99) {{ nodes {{ {orders} }} }} }} }} }}"

    with served(own_database, throttle=ThrottleSettings(maximum_available=1000, restore_rate=1)) as metered:
        async with connected(metered, bea) as client, httpx.AsyncClient(base_url=metered.url, timeout=30) as http:
            await client.subscribe("1", costly, {"tenant": CONTOSO})  # 1 + 100 points: 899 left
            await metered.wait_for_subscribers(1)
            headers = {"Authorization": bearer(bea)}
            # 991 points would fit an untouched bucket of 1,000; the subscription took its share.
            over = await http.post("/graphql", json={"query": pages_of_orders(9)}, headers=headers)
            fits = await http.post("/graphql", json={"query": pages_of_orders(8)}, headers=headers)  # 892
            await client.subscribe("2", costly, {"tenant": CONTOSO})
            message = await client.receive()
    assert over.status_code == 429, over.text
    assert over.json()["errors"][0]["extensions"]["cost"]["requestedQueryCost"] == 1 + 99 + 99 * 9
    assert fits.status_code == 200, fits.text
    assert (message["type"], message["id"]) == ("error", "2"), message
    assert [e["extensions"]["code"] for e in message["payload"]] == ["THROTTLED"]


@pytest.mark.live_server
async def test_with_trusted_documents_enforced_only_the_manifests_subscriptions_run(
    own_database: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    operation = {"id": document_hash(PURCHASE_EVENTS), "name": "Events", "type": "subscription"}
    manifest.write_text(
        json.dumps({"format": MANIFEST_FORMAT, "version": 1, "operations": [operation | {"body": PURCHASE_EVENTS}]})
    )
    with served(own_database, trusted_documents=manifest, require_trusted_documents=True) as strict:
        async with connected(strict, ALEX) as alex:
            await alex.subscribe("1", MY_EVENTS)
            untrusted = await alex.receive()
            await alex.subscribe("2", PURCHASE_EVENTS, {"tenant": CONTOSO})
            await strict.wait_for_subscribers(1)
    assert untrusted["type"] == "error"
    assert [e["extensions"]["code"] for e in untrusted["payload"]] == ["TRUSTED_DOCUMENT_REQUIRED"]


# -- Authorization for every event ---------------------------------------------------------------


@pytest.mark.live_server
async def test_a_revoked_role_ends_the_stream_before_the_next_event(
    app: Served, http: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    alex_id = demo_user_id(ALEX)
    async with connected(app, ALEX) as alex:
        await alex.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await app.wait_for_subscribers(1)
        await purchased(http, PAULA)
        event_of(await alex.receive())  # still an admin
        roles = await owner.fetch(
            "DELETE FROM directory_roles WHERE tenant_id = $1 AND user_id = $2 RETURNING *", CONTOSO_ID, alex_id
        )
        assert roles
        try:
            await purchased(http, PAULA)
            ended = await alex.receive()
            complete = await alex.receive()
        finally:
            await owner.executemany(
                "INSERT INTO directory_roles (tenant_id, user_id, role, granted_at) VALUES ($1, $2, $3, $4)",
                [(r["tenant_id"], r["user_id"], r["role"], r["granted_at"]) for r in roles],
            )
    assert ended["type"] == "next"
    assert ended["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["ACCESS_ENDED"]
    assert complete == {"id": "1", "type": "complete"}


DISABLE_ACCOUNT = "UPDATE users SET account_enabled = $3 WHERE tenant_id = $1 AND id = $2"
REQUEST_CANCELLATION = (
    'mutation ($s: ID!) { requestCancellation(subscriptionId: $s, message: "bye") { userErrors { code } } }'
)


@pytest.mark.live_server
async def test_a_departed_users_token_signs_in_to_nothing_over_http_or_the_websocket(
    app: Served, http: httpx.AsyncClient
) -> None:
    """Her token still verifies, but a disabled account signs in to nothing, as Azure AD refuses it:
    the request is refused 401 like an unknown user's, the websocket closed at connect."""
    response = await http.post(
        "/graphql", json={"query": "{ viewer { user { id } } }"}, headers={"Authorization": bearer(DANA)}
    )
    assert response.status_code == 401
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]
    assert await closed_with(app, {"Authorization": bearer(DANA)}) == 4403


@pytest.mark.live_server
async def test_a_disabled_account_ends_its_stream_before_the_next_event(
    app: Served, http: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    """A purchaser's own stream: what she bought stays hers to see while her account is enabled; once
    it is disabled, the next event (an admin's request about her subscription) ends the stream."""
    paula_id = demo_user_id(PAULA)
    async with connected(app, PAULA) as paula:
        await paula.subscribe("1", MY_EVENTS)
        await app.wait_for_subscribers(1)
        mine = await purchased(http, PAULA)
        event_of(await paula.receive())  # still enabled
        await owner.execute(DISABLE_ACCOUNT, CONTOSO_ID, paula_id, False)
        try:
            asked = await http.post(
                "/graphql",
                json={"query": REQUEST_CANCELLATION, "variables": {"s": mine}},
                headers={"Authorization": bearer(ALEX)},
            )
            assert asked.json()["data"]["requestCancellation"]["userErrors"] == []
            ended = await paula.receive()
            complete = await paula.receive()
        finally:
            await owner.execute(DISABLE_ACCOUNT, CONTOSO_ID, paula_id, True)
    assert ended["type"] == "next"
    assert ended["payload"]["data"] is None
    assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["ACCESS_ENDED"]
    assert complete == {"id": "1", "type": "complete"}


@pytest.mark.live_server
async def test_an_expired_partner_relationship_ends_the_stream(
    app: Served, http: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    async with connected(app, PAT) as pat:
        await pat.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await app.wait_for_subscribers(1)
        relationship = await owner.fetchrow(
            "SELECT id, ends_at FROM partner_relationships WHERE tenant_id = $1 AND partner_tenant_id = $2",
            CONTOSO_ID,
            ADATUM_ID,
        )
        assert relationship is not None
        await owner.execute(
            "UPDATE partner_relationships SET ends_at = app_now() WHERE tenant_id = $1 AND id = $2",
            CONTOSO_ID,
            relationship["id"],
        )
        try:
            await purchased(http, PAULA)
            ended = await pat.receive()
        finally:
            await owner.execute(
                "UPDATE partner_relationships SET ends_at = $3 WHERE tenant_id = $1 AND id = $2",
                CONTOSO_ID,
                relationship["id"],
                relationship["ends_at"],
            )
    assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["ACCESS_ENDED"]


LITWARE_ID = demo_tenant_id("litware-partners.example")
RELATIONSHIP = (
    "SELECT id, status, starts_at, ends_at FROM partner_relationships WHERE tenant_id = $1 AND partner_tenant_id = $2"
)
SET_RELATIONSHIP = (
    "UPDATE partner_relationships SET status = $3, starts_at = $4, ends_at = $5 WHERE tenant_id = $1 AND id = $2"
)
MAKE_PARTNER = """
INSERT INTO partner_relationships (tenant_id, id, partner_tenant_id, display_name, roles, status, starts_at, ends_at)
VALUES ($1, $2, $3, 'test', '{global_reader}', 'active', app_now() - interval '1 day', app_now() + interval '30 days')
"""


@pytest.mark.live_server
async def test_a_partner_never_learns_another_partner_as_the_actor_of_an_event(
    app: Served, http: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    """Litware, again a partner of Contoso, asks Paula to cancel. Adatum, Contoso's partner and
    Litware's too (so its scope would reach Lia), receives the event with no actor, as the audit
    trail withholds another partner's."""
    mine = await purchased(http, PAULA)
    litware = await owner.fetchrow(RELATIONSHIP, CONTOSO_ID, LITWARE_ID)
    now = await owner.fetchval("SELECT app_now()")
    await owner.execute(
        SET_RELATIONSHIP,
        CONTOSO_ID,
        litware["id"],
        "active",
        now - datetime.timedelta(days=1),
        now + datetime.timedelta(days=30),
    )
    adatum_of_litware = uuid.uuid4()
    await owner.execute(MAKE_PARTNER, LITWARE_ID, adatum_of_litware, ADATUM_ID)
    try:
        async with connected(app, PAT) as pat:
            await pat.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
            await app.wait_for_subscribers(1)
            asked = await http.post(
                "/graphql",
                json={"query": REQUEST_CANCELLATION, "variables": {"s": mine}},
                headers={"Authorization": bearer(LIA)},
            )
            assert asked.json()["data"]["requestCancellation"]["userErrors"] == []
            event = event_of(await pat.receive())
    finally:
        await owner.execute(
            "DELETE FROM partner_relationships WHERE tenant_id = $1 AND id = $2", LITWARE_ID, adatum_of_litware
        )
        await owner.execute(
            SET_RELATIONSHIP, CONTOSO_ID, litware["id"], litware["status"], litware["starts_at"], litware["ends_at"]
        )
    assert (event["action"], event["subscription"]["id"], event["actor"]) == (
        "subscription.request_cancellation",
        mine,
        None,
    )


# -- Only what commits is published --------------------------------------------------------------


@pytest.mark.live_server
async def test_an_aborted_or_refused_mutation_sends_nothing(
    app: Served, http: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    """Aborted: the purchase is accepted and audited (its NOTIFY issued), then its COMMIT fails
    on a deferred trigger this test installs; refused: a declined card, audited as refused."""
    await owner.execute(
        """
        CREATE FUNCTION test_abort_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the test aborts this transaction at commit'; END $$;
        CREATE CONSTRAINT TRIGGER test_abort_at_commit AFTER INSERT ON audit_events
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.client_request_id LIKE 'abort-%')
            EXECUTE FUNCTION test_abort_at_commit();
        """
    )
    aborted_request = f"abort-{uuid.uuid4().hex}"
    try:
        async with connected(app, ALEX) as alex:
            await alex.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
            await app.wait_for_subscribers(1)
            aborted = (await purchase(http, PAULA, request_id=aborted_request)).json()
            declined = (await purchase(http, PAULA, card=GOOD_CARD | {"number": CARD_DECLINED_NUMBER})).json()
            committed = await purchased(http, PAULA)
            event = event_of(await alex.receive())
            await alex.silent_for(0.3)
    finally:
        await owner.execute("DROP TRIGGER test_abort_at_commit ON audit_events; DROP FUNCTION test_abort_at_commit()")
    assert aborted["data"] is None
    assert aborted["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert not await owner.fetchval("SELECT count(*) FROM audit_events WHERE client_request_id = $1", aborted_request)
    assert [e["code"] for e in declined["data"]["purchaseSubscription"]["userErrors"]] == ["CARD_DECLINED"]
    assert event["subscription"]["id"] == committed  # the first event is the committed purchase's


# -- The listener --------------------------------------------------------------------------------


@pytest.mark.live_server
async def test_the_listener_reconnects_and_misses_nothing(
    app: Served, http: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    connections = app.hub.connections
    async with connected(app, ALEX) as alex:
        await alex.subscribe("1", PURCHASE_EVENTS, {"tenant": CONTOSO})
        await app.wait_for_subscribers(1)
        killed = await owner.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            APPLICATION_NAME,
        )
        assert killed == 1
        # Committed while no connection listens (the hub waits before reconnecting): caught up.
        during = await purchased(http, PAULA)
        deadline = time.monotonic() + WAIT
        while app.hub.connections == connections:
            assert time.monotonic() < deadline, "the listener did not reconnect"
            await asyncio.sleep(0.01)
        after = await purchased(http, PAULA)
        events = [event_of(await alex.receive()), event_of(await alex.receive())]
        await alex.silent_for(0.3)  # once each
    assert [e["subscription"]["id"] for e in events] == [during, after]


def notice(event_id: int, tenant_id: uuid.UUID = CONTOSO_ID) -> Notice:
    return Notice.from_json(
        json.dumps(
            {
                "id": event_id,
                "seq": event_id,
                "tenant_id": str(tenant_id),
                "action": "subscription.purchase",
                "target_type": "Subscription",
                "target_id": str(uuid.uuid4()),
                "subscription_id": None,
                "product_id": None,
                "purchaser_id": None,
                "actor_user_id": None,
                "actor_tenant_id": None,
                "occurred_at": "2025-01-01T00:00:00+00:00",
            }
        )
    )


async def test_the_hub_delivers_each_event_once_to_its_tenants_feeds_and_drops_a_laggard() -> None:
    hub = EventHub("postgresql://unused")  # never started: publish is what LISTEN would call
    contoso, woodgrove = hub.subscribe(Interest(CONTOSO_ID)), hub.subscribe(Interest(uuid.uuid4()))
    hub.publish(notice(1))
    hub.publish(notice(1))  # heard twice (LISTEN and a catch-up): delivered once
    hub.publish(notice(2))
    assert [(await anext(contoso)).event_id for _ in range(2)] == [1, 2]
    for event_id in range(3, 3 + QUEUE_LIMIT + 1):
        hub.publish(notice(event_id))
    with pytest.raises(FeedEnded) as ended:
        async for _ in contoso:
            pass
    assert ended.value.reason == FeedEnded.FELL_BEHIND
    assert hub.subscribers == 1  # the laggard is gone; woodgrove's feed heard nothing and stays
    woodgrove.close()
    assert hub.subscribers == 0
