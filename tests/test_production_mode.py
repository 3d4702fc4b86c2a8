"""Production mode: no introspection, no playground, no "Did you mean …" hints to probe the schema."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from purchasegraph.cli import build_parser
from purchasegraph.settings import settings_from_env
from tests.settings import gateway_settings
from tests.test_http import serving

INTROSPECTION = "{ __schema { types { name } } }"
TYPO = "{ productz { name } }"


@pytest.fixture(scope="module")
async def production(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url, production=True)) as http:
        yield http


@pytest.fixture(scope="module")
async def development(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url)) as http:
        yield http


async def test_introspection_is_refused_in_production_before_any_sql(
    production: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        response = await production.post("/graphql", json={"query": INTROSPECTION})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert statements_of_last_request(caplog) == 0


async def test_introspection_works_in_development(development: httpx.AsyncClient) -> None:
    response = await development.post("/graphql", json={"query": INTROSPECTION})
    assert response.status_code == 200
    assert "Subscription" in {t["name"] for t in response.json()["data"]["__schema"]["types"]}


async def test_typename_is_not_introspection_and_still_works_in_production(production: httpx.AsyncClient) -> None:
    response = await production.post("/graphql", json={"query": "{ __typename }"})
    assert response.json()["data"] == {"__typename": "Query"}


def statements_of_last_request(caplog: pytest.LogCaptureFixture) -> int:
    [record] = [r for r in caplog.records if r.name == "purchasegraph.request"][-1:]
    statements: int = record.__dict__["statements"]
    return statements


async def test_the_playground_is_not_served_in_production(
    production: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        response = await production.get("/graphql", headers={"Accept": "text/html,application/json;q=0.9"})
    assert "graphiql" not in response.text.lower()
    assert response.status_code == 400
    assert statements_of_last_request(caplog) == 0


async def test_field_suggestions_are_hidden_in_production(
    production: httpx.AsyncClient, development: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        prod = (await production.post("/graphql", json={"query": TYPO})).json()["errors"][0]["message"]
    assert statements_of_last_request(caplog) == 0
    dev = (await development.post("/graphql", json={"query": TYPO})).json()["errors"][0]["message"]
    assert "Did you mean" in dev
    assert "Did you mean" not in prod
    assert "productz" in prod


async def test_argument_suggestions_are_hidden_in_production(production: httpx.AsyncClient) -> None:
    response = await production.post("/graphql", json={"query": '{ products(markt: "US") { name } }'})
    assert "Did you mean" not in response.json()["errors"][0]["message"]


def test_production_is_switched_on_by_the_environment_or_the_flag() -> None:
    assert settings_from_env({"PURCHASEGRAPH_ENV": "production"}).production
    assert not settings_from_env({}).production
    assert build_parser().parse_args(["serve", "--production"]).production
