"""Work a request leaves behind never reaches a connection after the request released it.

A field's error that propagates past a non-null field ends its selection early: graphql-core
cancels the sibling resolvers (or, for an error raised synchronously, settles them in the
background), and DataLoader batches run in tasks of their own. The response can be sent, and
the request's connection reset and given to the next request, while some of that work is still
on its way to the database. Once released, the request's executor refuses it: a statement of
one request must never run on a connection another request (another tenant) now holds, nor take
a connection of its own that nobody gives back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from purchasegraph.db.executor import ExecutorClosed, RequestExecutor
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.demo.actors import ALEX, CONTOSO, CONTOSO_ID, WILL, WOODGROVE_ID
from purchasegraph.settings import ThrottleSettings
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

TENANT_SETTING = "SELECT current_setting('purchasegraph.tenant_id', true) AS tenant"
# Long enough that close() is certainly called while it runs.
SLOW_TENANT_SETTING = "SELECT pg_sleep(0.2), current_setting('purchasegraph.tenant_id', true) AS tenant"

# `subscriptions` is non-null: its error nulls the whole tenant, while the sibling connections
# before and after it have already started their statements.
ERRING = (
    '{ tenant(id: "' + CONTOSO + '") { users(first: 50) { nodes { id } } auditEvents(first: 50) { nodes { action } } '
    'subscriptions(purchaserId: "not-a-user") { totalCount } purchases(first: 50) { totalCount nodes { id } } } }'
)
ERRING_ANSWER = {
    "data": {"tenant": None},
    "errors": [
        {
            "message": "`purchaserId` is not a user ID.",
            "locations": [{"line": 1, "column": 134}],
            "path": ["tenant", "subscriptions"],
            "extensions": {"code": "BAD_USER_INPUT", "field": "purchaserId"},
        }
    ],
}
WHO = "{ viewer { user { displayName } homeTenant { name } } }"
WILL_ANSWER = {"viewer": {"user": {"displayName": "Will Admin"}, "homeTenant": {"name": "Woodgrove Bank"}}}


@pytest.fixture
async def pool_of_one(database_url: str, pool: object) -> AsyncIterator[asyncpg.Pool]:
    """One connection, as the gateway's role: whoever holds it, nobody else can."""
    one = await create_pool(database_url, min_size=1, max_size=1, role=GATEWAY_ROLE)
    try:
        yield one
    finally:
        # A connection taken and never given back would keep close() waiting for ever.
        try:
            await asyncio.wait_for(one.close(), timeout=5)
        except TimeoutError:
            one.terminate()


async def tenant_seen_by(pool: asyncpg.Pool, tenant: Any) -> str:
    """What a fresh request for ``tenant`` finds named on the pool's connection (it waits at most
    a second for it: a connection nobody gave back fails this)."""
    executor = RequestExecutor(pool, tenant_id=tenant, acquire_timeout=1.0)
    try:
        row = await executor.fetchrow(TENANT_SETTING)
    finally:
        await executor.close()
    assert row is not None
    return str(row["tenant"])


async def test_a_statement_asked_after_release_runs_nowhere(pool_of_one: asyncpg.Pool) -> None:
    a = RequestExecutor(pool_of_one, tenant_id=CONTOSO_ID)
    await a.fetchrow(TENANT_SETTING)
    await a.close()
    with pytest.raises(ExecutorClosed):
        await a.fetchrow(TENANT_SETTING)
    with pytest.raises(ExecutorClosed):
        await a.fetch(TENANT_SETTING)
    with pytest.raises(ExecutorClosed):
        async with a.transaction():
            pass  # pragma: no cover - refused before it is entered
    assert a.statements == 1
    # The one connection went back and stayed back: the next request gets it, as its own tenant.
    assert await tenant_seen_by(pool_of_one, WOODGROVE_ID) == str(WOODGROVE_ID)


async def test_release_waits_for_the_statement_running_and_refuses_those_queued_behind_it(
    pool_of_one: asyncpg.Pool,
) -> None:
    a = RequestExecutor(pool_of_one, tenant_id=CONTOSO_ID)
    running = asyncio.ensure_future(a.fetchrow(SLOW_TENANT_SETTING))
    await asyncio.sleep(0.05)  # it holds the connection now
    queued = asyncio.ensure_future(a.fetchrow(TENANT_SETTING))
    await asyncio.sleep(0)  # waiting for the lock, behind the running one
    await a.close()
    assert running.done(), "the connection went back with a statement still running on it"
    row = running.result()
    assert row is not None
    assert row["tenant"] == str(CONTOSO_ID)
    with pytest.raises(ExecutorClosed):
        await queued
    assert await tenant_seen_by(pool_of_one, WOODGROVE_ID) == str(WOODGROVE_ID)


async def test_a_statement_of_a_released_request_never_runs_on_the_next_requests_connection(
    pool_of_one: asyncpg.Pool,
) -> None:
    a = RequestExecutor(pool_of_one, tenant_id=CONTOSO_ID, acquire_timeout=1.0)
    await a.fetchrow(TENANT_SETTING)
    await a.close()
    b = RequestExecutor(pool_of_one, tenant_id=WOODGROVE_ID, acquire_timeout=1.0)
    try:
        await b.fetchrow(TENANT_SETTING)  # B holds the only connection now
        with pytest.raises(ExecutorClosed):
            await a.fetchrow(TENANT_SETTING)  # A's late work: refused, not queued for B's connection
        row = await b.fetchrow(TENANT_SETTING)
        assert row is not None
        assert row["tenant"] == str(WOODGROVE_ID)
    finally:
        await b.close()


# -- through HTTP, on the resolvers ------------------------------------------------------------


@pytest.fixture(scope="module")
async def gateway(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    # One pooled connection, so the requests that follow the erring one get the very connection
    # it used; the resolvers answer (the compiled engine runs one statement and has no siblings).
    settings = gateway_settings(
        database_url,
        pool_max_size=1,
        compiled_reads=False,
        throttle=ThrottleSettings(restore_rate=0),
        acquire_timeout=2.0,
    )
    async with serving(settings) as http:
        yield http


@pytest.fixture
def late_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Statements a request's executor was asked for after its release: each must be refused."""
    asked: list[str] = []
    check = RequestExecutor._check_open

    def watching(self: RequestExecutor) -> None:
        try:
            check(self)
        except ExecutorClosed:
            asked.append("refused")
            raise

    monkeypatch.setattr(RequestExecutor, "_check_open", watching)
    return asked


async def ask(http: httpx.AsyncClient, query: str, upn: str) -> httpx.Response:
    token = token_for(upn, upn.split("@")[1])
    return await http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})


async def test_a_field_error_leaves_no_statement_running_after_release(
    gateway: httpx.AsyncClient, late_statements: list[str]
) -> None:
    for _ in range(5):
        erring = await ask(gateway, ERRING, ALEX)
        will = await ask(gateway, WHO, WILL)
        assert (erring.status_code, will.status_code) == (200, 200)
        assert {k: v for k, v in erring.json().items() if k != "extensions"} == ERRING_ANSWER
        assert will.json()["data"] == WILL_ANSWER
    # Side by side too: the other principal waits for the one connection, then reads as itself.
    together = await asyncio.gather(*(ask(gateway, q, u) for q, u in [(ERRING, ALEX), (WHO, WILL)] * 3))
    assert [r.status_code for r in together] == [200] * 6
    assert [r.json().get("data") for r in together[1::2]] == [WILL_ANSWER] * 3
    await asyncio.sleep(0.2)  # whatever the erring requests left behind has settled by now
    assert (await ask(gateway, WHO, WILL)).json()["data"] == WILL_ANSWER
    print(f"statements asked of a released executor (refused): {len(late_statements)}")
