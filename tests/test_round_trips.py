"""A read request waits on PostgreSQL at most three times, connection set-up and release included.

Round trips are counted on the wire, not in the code that sends them: the gateway reaches the
database through a proxy that reads the frontend protocol and counts every message the client
then waits on, a Sync (the end of an extended-protocol exchange: a prepared statement's parse, or
its bind and execute) or a simple Query (asyncpg's reset on release, a BEGIN). A statement asyncpg
has not prepared on a connection yet costs a round trip more; the requests measured here are
warmed up first, as every request but a connection's first is.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from purchasegraph.demo.actors import ALEX, CONTOSO, OLGA
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

WORKLOADS = Path(__file__).parent.parent / "bench" / "workloads"
PURCHASE_GRAPH = (WORKLOADS / "purchase_graph.graphql").read_text()
# The compiler declines `viewer`: the resolvers answer it (one statement for the user).
RESOLVED = "query Me { viewer { user { displayName } } }"
TENANT_NAME = "query Name($t: ID!) { tenant(id: $t) { name } }"

# Frontend messages the client sends and then waits for ReadyForQuery on.
WAITED_ON = (b"S", b"Q")
SSL_REQUEST, GSS_REQUEST = 80877103, 80877104


@dataclass
class RoundTrips:
    """Round trips clients made through the proxy, all connections together."""

    count: int = 0

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, socket: str) -> None:
        server_reader, server_writer = await asyncio.open_unix_connection(socket)
        downstream = asyncio.create_task(_pump(server_reader, writer))
        try:
            await self._client_messages(reader, server_writer)
        finally:
            server_writer.close()
            with contextlib.suppress(Exception):
                await downstream
            writer.close()

    async def _client_messages(self, reader: asyncio.StreamReader, server: asyncio.StreamWriter) -> None:
        started = False
        while True:
            try:
                if not started:  # untyped: SSL/GSS requests, then the startup message
                    header = await reader.readexactly(8)
                    length, code = struct.unpack("!ii", header)
                    body = header + await reader.readexactly(length - 8)
                    started = code not in (SSL_REQUEST, GSS_REQUEST)
                else:
                    header = await reader.readexactly(5)
                    (length,) = struct.unpack("!i", header[1:])
                    body = header + await reader.readexactly(length - 4)
                    if header[:1] in WAITED_ON:
                        self.count += 1
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            server.write(body)
            await server.drain()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The server's side, as it comes; when the server hangs up, so does the proxy."""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def counting_proxy(database_url: str) -> AsyncIterator[tuple[str, RoundTrips]]:
    """A database URL that reaches ``database_url`` (a Unix-socket one) through a counting proxy."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    port = parts.port or 5432
    socket = f"{query['host'][0]}/.s.PGSQL.{port}"
    counter = RoundTrips()
    with tempfile.TemporaryDirectory(prefix="pg-proxy-") as folder:
        server = await asyncio.start_unix_server(
            lambda r, w: counter.relay(r, w, socket), path=f"{folder}/.s.PGSQL.{port}"
        )
        query["host"] = [folder]
        proxied = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        try:
            yield proxied, counter
        finally:
            server.close()


@dataclass
class Gateway:
    http: httpx.AsyncClient
    trips: RoundTrips

    async def ask(self, query: str, upn: str | None, variables: dict[str, str] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token_for(upn, upn.split('@')[1])}"} if upn else {}
        return await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)

    async def round_trips(self, query: str, upn: str | None, variables: dict[str, str] | None = None) -> int:
        """The round trips of one request, after a first one has prepared its statements."""
        assert (await self.ask(query, upn, variables)).status_code == 200
        before = self.trips.count
        response = await self.ask(query, upn, variables)
        assert response.status_code == 200
        assert "errors" not in response.json(), response.json()
        return self.trips.count - before


@pytest.fixture(scope="module")
async def gateway(database_url: str, pool: object) -> AsyncIterator[Gateway]:
    if "host" not in parse_qs(urlsplit(database_url).query):
        pytest.skip("the counting proxy relays Unix-socket databases (the embedded server) only")
    # One pooled connection: every request of the module runs on the same one.
    async with (
        counting_proxy(database_url) as (proxied, trips),
        serving(gateway_settings(proxied, pool_max_size=1)) as http,
    ):
        yield Gateway(http, trips)


async def test_a_compiled_read_makes_at_most_three_round_trips(gateway: Gateway) -> None:
    trips = await gateway.round_trips(PURCHASE_GRAPH, ALEX, {"tenantId": CONTOSO})
    print(f"compiled read, signed in: {trips} round trips")
    assert trips <= 3


async def test_an_anonymous_compiled_read_makes_at_most_three_round_trips(gateway: Gateway) -> None:
    trips = await gateway.round_trips(TENANT_NAME, None, {"t": CONTOSO})
    print(f"compiled read, anonymous: {trips} round trips")
    assert trips <= 3


async def test_a_resolver_read_makes_its_statements_and_at_most_two_more(gateway: Gateway) -> None:
    """Sign-in (with the tenant and the throttle) and release around the resolvers' one statement."""
    trips = await gateway.round_trips(RESOLVED, ALEX)
    print(f"resolver read, signed in: {trips} round trips")
    assert trips <= 3


async def test_a_pooled_connection_never_carries_a_viewer_into_the_next_request(gateway: Gateway) -> None:
    """One connection, two principals in turn, then nobody: each sees only what it may."""
    alex = await gateway.ask(TENANT_NAME, ALEX, {"t": CONTOSO})
    olga = await gateway.ask(TENANT_NAME, OLGA, {"t": CONTOSO})
    anonymous = await gateway.ask(TENANT_NAME, None, {"t": CONTOSO})
    me_alex = await gateway.ask(RESOLVED, ALEX)
    me_olga = await gateway.ask(RESOLVED, OLGA)
    me_anonymous = await gateway.ask(RESOLVED, None)
    assert alex.json()["data"] == {"tenant": {"name": "Contoso"}}
    assert olga.json()["data"] == {"tenant": None}
    assert anonymous.json()["data"] == {"tenant": None}
    assert me_alex.json()["data"]["viewer"]["user"]["displayName"] == "Alex Admin"
    assert me_olga.json()["data"]["viewer"]["user"]["displayName"] != "Alex Admin"
    assert me_anonymous.json()["data"]["viewer"] is None
