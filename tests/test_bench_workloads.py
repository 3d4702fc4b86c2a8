"""The benchmark measures requests the gateway answers: its documents are valid, and they answer.

A workload whose document went stale (a renamed field, an argument dropped) would make
bench/run.py time a stream of errors, or skip. So every document under bench/workloads/ must
validate against the schema, and each read must answer without errors as the demo admin, on a
later page through the cursor the API gave (the runner's set-up, bench/paging.py, walks pages
the same way). No timing here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import parse, validate

from bench.paging import Body, Post, cursor_before_page
from purchasegraph.demo.actors import ALEX, CONTOSO
from purchasegraph.schema import schema
from tests.conftest import Api

WORKLOADS = Path(__file__).parent.parent / "bench" / "workloads"
DOCUMENTS = sorted(WORKLOADS.rglob("*.graphql"))


def read(name: str) -> str:
    return (WORKLOADS / name).read_text()


def as_admin(api: Api) -> Post:
    """A ``Post`` that runs a body as Contoso's admin, as the bench's set-ups use it over HTTP."""

    async def post(body: Body) -> dict[str, Any]:
        result = await api.execute(body["query"], as_user=ALEX, variables=body.get("variables"))
        assert result.errors is None, result.errors
        return {"data": result.data}

    return post


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_every_workload_document_is_valid_against_the_schema(path: Path) -> None:
    assert [e.message for e in validate(schema._schema, parse(path.read_text()))] == []


async def test_the_relay_purchase_graph_answers_page_2_through_the_cursor_of_page_1(api: Api) -> None:
    body: Body = {"query": read("purchase_graph_relay.graphql"), "variables": {"tenantId": CONTOSO, "first": 2}}
    everything = await api.data(body["query"], as_user=ALEX, variables={"tenantId": CONTOSO, "first": 10})
    after = await cursor_before_page(as_admin(api), body, ("tenant", "subscriptions"), 2)
    page2 = await api.data(body["query"], as_user=ALEX, variables={**body["variables"], "after": after})

    ids = [edge["node"]["id"] for edge in page2["tenant"]["subscriptions"]["edges"]]
    assert ids == [edge["node"]["id"] for edge in everything["tenant"]["subscriptions"]["edges"][2:4]]


async def test_the_growth_page_answers_page_3_through_the_cursors_of_pages_1_and_2(api: Api) -> None:
    body: Body = {"query": read("growth_page.graphql"), "variables": {"tenantId": CONTOSO, "first": 2}}
    everything = await api.data(body["query"], as_user=ALEX, variables={"tenantId": CONTOSO, "first": 10})
    after = await cursor_before_page(as_admin(api), body, ("tenant", "subscriptions"), 3)
    page3 = await api.data(body["query"], as_user=ALEX, variables={**body["variables"], "after": after})

    ids = [edge["node"]["id"] for edge in page3["tenant"]["subscriptions"]["edges"]]
    assert ids == [edge["node"]["id"] for edge in everything["tenant"]["subscriptions"]["edges"][4:6]]


async def test_the_admin_list_answers_page_2_newest_first(api: Api) -> None:
    body: Body = {
        "query": read("admin_list.graphql"),
        "variables": {"tenantId": CONTOSO, "productId": "CFQ7TTC0H9MP", "first": 1},
    }
    everything = await api.data(body["query"], as_user=ALEX, variables={**body["variables"], "first": 10})
    after = await cursor_before_page(as_admin(api), body, ("tenant", "subscriptions"), 2)
    page2 = await api.data(body["query"], as_user=ALEX, variables={**body["variables"], "after": after})

    listed = [edge["node"] for edge in everything["tenant"]["subscriptions"]["edges"]]
    assert len(listed) >= 2, "Contoso needs two ACTIVE Power BI Pro subscriptions for a page 2"
    assert [e["node"]["id"] for e in page2["tenant"]["subscriptions"]["edges"]] == [listed[1]["id"]]
    assert [s["createdAt"] for s in listed] == sorted((s["createdAt"] for s in listed), reverse=True)


async def test_the_viewer_and_the_refetch_answer_without_errors(api: Api) -> None:
    page = await api.data(read("growth_page.graphql"), as_user=ALEX, variables={"tenantId": CONTOSO, "first": 1})
    subscription = page["tenant"]["subscriptions"]["edges"][0]["node"]["id"]

    refetched = await api.data(read("refetch.graphql"), as_user=ALEX, variables={"id": subscription})
    viewer = await api.data(read("viewer.graphql"), as_user=ALEX)

    assert refetched["node"]["id"] == subscription
    assert viewer["viewer"]["user"] is not None
