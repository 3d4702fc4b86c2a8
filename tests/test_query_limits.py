"""Every query limit refuses with HTTP 400 and its own code before a single SQL statement runs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from purchasegraph.settings import QueryLimits
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

ADMIN = ("alex.admin@contoso.example", "contoso.example")
LIMITS = QueryLimits(max_batch=3)


@pytest.fixture(scope="module")
async def client(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url, limits=LIMITS)) as http:
        yield http


def statements_of_last_request(caplog: pytest.LogCaptureFixture) -> int:
    [record] = [r for r in caplog.records if r.name == "purchasegraph.request"][-1:]
    statements: int = record.__dict__["statements"]
    return statements


async def refused(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, body: Any, *, token: bool = True
) -> dict[str, Any]:
    """Send as the admin; expect a 400 whose every error has a code, and no SQL run at all."""
    headers = {"Authorization": f"Bearer {token_for(*ADMIN)}"} if token else {}
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 400, response.text
    payload: dict[str, Any] = response.json()
    assert "data" not in payload
    assert statements_of_last_request(caplog) == 0
    return payload


def code_of(payload: dict[str, Any]) -> str:
    code: str = payload["errors"][0]["extensions"]["code"]
    return code


def nested(levels: int) -> str:
    """Subscription → orders → subscription → ..., ``levels`` deep counting the leaf ``id``."""
    inner = "id"
    fields = ["viewer", "homeTenant", "subscriptions(first: 1)", "nodes"]
    while len(fields) < levels - 1:
        fields += ["orders(first: 1)", "nodes", "subscription"][: levels - 1 - len(fields)]
    for field in reversed(fields):
        inner = f"{field} {{ {inner} }}"
    return "{ " + inner + " }"


async def test_a_normal_request_runs_statements_so_zero_means_something(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { homeTenant { name } } }"},
            headers={"Authorization": f"Bearer {token_for(*ADMIN)}"},
        )
    assert response.status_code == 200
    assert statements_of_last_request(caplog) >= 1


async def test_a_query_deeper_than_the_limit_is_refused(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    payload = await refused(client, caplog, {"query": nested(LIMITS.max_depth + 1)})
    assert code_of(payload) == "MAX_DEPTH_EXCEEDED"
    assert payload["errors"][0]["extensions"]["depth"] == LIMITS.max_depth + 1


async def test_a_query_as_deep_as_the_limit_runs(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": nested(LIMITS.max_depth)},
        headers={"Authorization": f"Bearer {token_for(*ADMIN)}"},
    )
    assert response.status_code == 200
    assert "errors" not in response.json()


async def test_depth_counts_through_fragments(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    query = (
        "query { viewer { ...A } } fragment A on Viewer { homeTenant { ...B } } "
        "fragment B on Tenant { users { nodes { homeTenant: id tenant { users { nodes { tenant { users { nodes "
        "{ tenant { name } } } } } } } } } }"
    )
    assert code_of(await refused(client, caplog, {"query": query})) == "MAX_DEPTH_EXCEEDED"


async def test_a_document_with_more_tokens_than_the_limit_is_refused(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = "{ " + " ".join("__typename" for _ in range(LIMITS.max_tokens)) + " }"
    assert code_of(await refused(client, caplog, {"query": query})) == "MAX_TOKENS_EXCEEDED"


async def test_too_many_aliases_are_refused(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    query = "{ viewer { " + " ".join(f"a{i}: id" for i in range(LIMITS.max_aliases + 1)) + " } }"
    assert code_of(await refused(client, caplog, {"query": query})) == "MAX_ALIASES_EXCEEDED"


async def test_aliases_are_counted_through_fragment_spreads(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # 8 aliases, spread 4 times: 32 aliases although the text holds only 8.
    fragment = "fragment F on Viewer { " + " ".join(f"a{i}: id" for i in range(8)) + " }"
    query = "{ v1: viewer { ...F } v2: viewer { ...F } v3: viewer { ...F } v4: viewer { ...F } } " + fragment
    payload = await refused(client, caplog, {"query": query})
    assert code_of(payload) == "MAX_ALIASES_EXCEEDED"
    assert payload["errors"][0]["extensions"]["aliases"] == 36


async def test_a_fragment_bomb_is_refused_without_expanding_it(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Each fragment spreads the next twice: 2^40 aliases if anything expanded it naively.
    fragments = " ".join(f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    query = "{ viewer { ...F0 } } " + fragments + " fragment F40 on Viewer { x: id }"
    payload = await refused(client, caplog, {"query": query})
    assert code_of(payload) == "MAX_ALIASES_EXCEEDED"


async def test_too_many_root_fields_are_refused(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    query = "{ " + " ".join("__typename" for _ in range(LIMITS.max_root_fields + 1)) + " }"
    assert code_of(await refused(client, caplog, {"query": query})) == "MAX_ROOT_FIELDS_EXCEEDED"


async def test_a_page_larger_than_100_is_refused_before_execution(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = "{ viewer { homeTenant { subscriptions(first: 101) { totalCount } } } }"
    assert code_of(await refused(client, caplog, {"query": query})) == "PAGE_SIZE_EXCEEDED"


async def test_a_page_size_given_as_a_variable_is_checked_too(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = "query($n: Int) { viewer { homeTenant { subscriptions(last: $n) { totalCount } } } }"
    payload = await refused(client, caplog, {"query": query, "variables": {"n": 500}})
    assert code_of(payload) == "PAGE_SIZE_EXCEEDED"


async def test_a_query_costing_more_than_the_budget_is_refused(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # 1 + 100 subscriptions + 100 x 100 for each of five child connections = 50,101 > 50,000
    query = (
        "{ viewer { homeTenant { subscriptions(first: 100) { nodes { assignments(first: 100) { nodes { id } } "
        "a2: assignments(first: 100) { nodes { id } } orders(first: 100) { nodes { id } } "
        "o2: orders(first: 100) { nodes { id } } invoices(first: 100) { nodes { id } } } } } } }"
    )
    payload = await refused(client, caplog, {"query": query})
    assert code_of(payload) == "QUERY_COST_EXCEEDED"
    assert payload["errors"][0]["extensions"]["cost"] == 1 + 100 + 5 * 100 * 100


async def test_a_batch_is_refused_when_batching_is_off(database_url: str, pool: object) -> None:
    async with serving(gateway_settings(database_url)) as http:
        response = await http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert response.status_code == 400
    assert code_of(response.json()) == "BATCHING_DISABLED"


async def test_a_batch_larger_than_the_limit_is_refused(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    payload = await refused(client, caplog, [{"query": "{ __typename }"}] * (LIMITS.max_batch + 1))
    assert code_of(payload) == "BATCH_LIMIT_EXCEEDED"


async def test_a_batch_within_the_limit_answers_each_operation(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json=[{"query": "{ __typename }"}, {"query": "{ viewer { homeTenant { name } } }"}],
        headers={"Authorization": f"Bearer {token_for(*ADMIN)}"},
    )
    assert response.status_code == 200
    assert [item["data"] for item in response.json()] == [
        {"__typename": "Query"},
        {"viewer": {"homeTenant": {"name": "Contoso"}}},
    ]


async def test_a_body_larger_than_the_limit_is_refused(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    big = {"query": "{ __typename }", "variables": {"pad": "x" * LIMITS.max_body_bytes}}
    assert code_of(await refused(client, caplog, big)) == "REQUEST_TOO_LARGE"


async def test_limits_are_checked_before_the_token(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    """An abusive query with a bogus token is refused for its shape: no statement reads the user."""
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        response = await client.post(
            "/graphql",
            json={"query": nested(LIMITS.max_depth + 1)},
            headers={"Authorization": "Bearer not-even-a-jwt"},
        )
    assert response.status_code == 400
    assert statements_of_last_request(caplog) == 0


# Five child connections of 100 under 100 subscriptions, every page size from the variable `$n`.
FIVE_CHILDREN_OF = (
    "{ viewer { homeTenant { subscriptions(first: $n) { nodes { assignments(first: $n) { nodes { id } } "
    "a2: assignments(first: $n) { nodes { id } } orders(first: $n) { nodes { id } } "
    "o2: orders(first: $n) { nodes { id } } invoices(first: $n) { nodes { id } } } } } } }"
)


async def test_a_page_size_from_a_variables_default_is_counted(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    payload = await refused(client, caplog, {"query": "query($n: Int = 100) " + FIVE_CHILDREN_OF})
    assert code_of(payload) == "QUERY_COST_EXCEEDED"
    assert payload["errors"][0]["extensions"]["cost"] == 1 + 100 + 5 * 100 * 100
    too_big = "query($n: Int = 500) { viewer { homeTenant { subscriptions(first: $n) { totalCount } } } }"
    assert code_of(await refused(client, caplog, {"query": too_big})) == "PAGE_SIZE_EXCEEDED"


async def test_a_page_size_from_a_float_variable_is_counted(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # JSON has one number type: 100.0 is the Int 100 once coerced, as execution would run it.
    payload = await refused(client, caplog, {"query": "query($n: Int) " + FIVE_CHILDREN_OF, "variables": {"n": 100.0}})
    assert code_of(payload) == "QUERY_COST_EXCEEDED"
    assert payload["errors"][0]["extensions"]["cost"] == 1 + 100 + 5 * 100 * 100


async def test_a_list_that_is_not_a_connection_multiplies_what_each_item_asks_for(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # A partner's `viewer.tenants` is not paged: it counts as a page of 100, each asking for 100 x 100.
    query = (
        "{ viewer { tenants { tenant { subscriptions(first: 100) { nodes { assignments(first: 100) "
        "{ nodes { id } } } } } } } }"
    )
    payload = await refused(client, caplog, {"query": query})
    assert code_of(payload) == "QUERY_COST_EXCEEDED"
    assert payload["errors"][0]["extensions"]["cost"] == 1 + 100 + 100 * (100 + 100 * 100)


async def test_a_connection_sized_by_nothing_counts_the_default_page(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { notifications { nodes { message } } } }"},
        headers={"Authorization": f"Bearer {token_for(*ADMIN)}"},
    )
    assert response.status_code == 200, response.text
    # 1 + the 20 notifications a connection pages when neither `first` nor `last` is given.
    assert response.json()["extensions"]["cost"]["requestedQueryCost"] == 1 + 20


async def test_variables_that_do_not_fit_are_refused_before_any_sql(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = "query($n: Int) { viewer { homeTenant { subscriptions(first: $n) { totalCount } } } }"
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": {"n": 2**40}},
            headers={"Authorization": f"Bearer {token_for(*ADMIN)}", "Accept": "application/graphql-response+json"},
        )
    assert response.status_code == 400, response.text
    assert code_of(response.json()) == "BAD_VARIABLES"
    assert statements_of_last_request(caplog) == 0
