"""What GraphQL clients rely on: every object refetches through `node(id:)` (Relay), and the
example operations the README points at run against the demo world, named and selecting `id`
(code generators refuse anonymous operations; a normalised cache keys objects by id)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    visit,
)

from purchasegraph.demo.actors import ALEX, CONTOSO, PAULA
from purchasegraph.schema import schema
from tests.conftest import Api

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# One query per Node type, as a viewer who sees such an object: where its id comes from.
SOURCES: dict[str, tuple[str, str]] = {
    "Tenant": (ALEX, "{ viewer { homeTenant { id } } }"),
    "User": (ALEX, "{ viewer { user { id } } }"),
    "Product": (ALEX, "{ products { id } }"),
    "Subscription": (ALEX, f'{{ tenant(id: "{CONTOSO}") {{ subscriptions {{ nodes {{ id }} }} }} }}'),
    "Order": (ALEX, f'{{ tenant(id: "{CONTOSO}") {{ subscriptions {{ nodes {{ orders {{ nodes {{ id }} }} }} }} }} }}'),
    "Assignment": (
        ALEX,
        f'{{ tenant(id: "{CONTOSO}") {{ subscriptions {{ nodes {{ assignments {{ nodes {{ id }} }} }} }} }} }}',
    ),
    "Invoice": (
        ALEX,
        f'{{ tenant(id: "{CONTOSO}") {{ subscriptions {{ nodes {{ invoices {{ nodes {{ id }} }} }} }} }} }}',
    ),
    "Purchase": (ALEX, f'{{ tenant(id: "{CONTOSO}") {{ purchases {{ nodes {{ id }} }} }} }}'),
    "PaymentMethod": (
        PAULA,
        f'{{ tenant(id: "{CONTOSO}") {{ subscriptions {{ nodes {{ paymentMethod {{ id }} }} }} }} }}',
    ),
    "PartnerRelationship": (ALEX, f'{{ tenant(id: "{CONTOSO}") {{ partnerRelationships {{ id }} }} }}'),
    "LicenseRequest": (ALEX, f'{{ tenant(id: "{CONTOSO}") {{ licenseRequests {{ nodes {{ id }} }} }} }}'),
    "CancellationRequest": (ALEX, f'{{ tenant(id: "{CONTOSO}") {{ cancellationRequests {{ nodes {{ id }} }} }} }}'),
}


def ids_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "id" and isinstance(v, str)] + [
            i for k, v in value.items() if k != "id" for i in ids_in(v)
        ]
    if isinstance(value, list):
        return [i for item in value for i in ids_in(item)]
    return []


async def test_every_node_type_is_covered(api: Api) -> None:
    data = await api.data('{ __type(name: "Node") { possibleTypes { name } } }')
    assert {t["name"] for t in data["__type"]["possibleTypes"]} == set(SOURCES)


@pytest.mark.parametrize("type_name", sorted(SOURCES))
async def test_every_object_refetches_through_node(api: Api, type_name: str) -> None:
    viewer, query = SOURCES[type_name]
    ids = ids_in(await api.data(query, as_user=viewer))
    assert ids, f"the demo world has no {type_name} for {viewer}"
    refetch = "query($id: ID!) { node(id: $id) { __typename id } }"
    for global_id in ids[:3]:
        data = await api.data(refetch, as_user=viewer, variables={"id": global_id})
        assert data["node"] == {"__typename": type_name, "id": global_id}


EXAMPLE_RUNS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "viewer.graphql": (PAULA, {}),
    "purchase_graph.graphql": (ALEX, {}),
    "tenant_activity.graphql": (ALEX, {"tenant": CONTOSO}),
    "catalogue.graphql": (None, {}),
    "admin_worklist.graphql": (
        ALEX,
        {
            "tenant": CONTOSO,
            "expiresBefore": "2027-01-01T00:00:00+00:00",
            "purchasedSince": "2026-09-01T00:00:00+00:00",
        },
    ),
    "my_bills.graphql": (PAULA, {"status": ["OPEN", "PAST_DUE"]}),
    "quote.graphql": (PAULA, {}),
    "partner_fleet.graphql": ("pat.partner@adatum-partners.example", {}),
    "before_sign_in.graphql": (None, {}),
    "license_requests.graphql": (ALEX, {"tenant": CONTOSO}),
}


def test_every_example_is_run_here_and_the_readme_shows_them_as_they_are() -> None:
    assert {p.name for p in EXAMPLES.glob("*.graphql")} == set(EXAMPLE_RUNS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Example queries") : readme.index("## Mutations: a worked example")]
    shown = re.findall(r"```graphql\n(.*?)```", section, re.S)
    files = {p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.graphql")}
    assert shown
    assert all(block in files for block in shown)


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
async def test_each_example_runs_against_the_demo_world(api: Api, name: str) -> None:
    viewer, variables = EXAMPLE_RUNS[name]
    data = await api.data((EXAMPLES / name).read_text(encoding="utf-8"), as_user=viewer, variables=variables)
    assert data
    assert all(value not in (None, [], {}) for value in data.values()), data


def readme_operations() -> list[str]:
    """Every ```graphql block of the README (the example queries and the worked example)."""
    return re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def example_operations() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.graphql"))}


def documents_shown() -> dict[str, str]:
    """Each document a client might copy, once: the files of examples/, then README blocks that are no file."""
    files = example_operations()
    shown = {f"examples/{name}": text for name, text in files.items()}
    extra = [block for block in readme_operations() if block not in files.values()]
    shown |= {f"README.md block {i + 1}": block for i, block in enumerate(extra)}
    return shown


def selection_sets_without_id(document: DocumentNode) -> list[str]:
    """The types whose selection sets leave out `id`, though the type has one."""
    type_info = TypeInfo(schema._schema)
    missing: list[str] = []

    class Check(Visitor):
        def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
            selected = type_info.get_parent_type()
            if not isinstance(selected, GraphQLObjectType | GraphQLInterfaceType) or "id" not in selected.fields:
                return
            if not any(isinstance(s, FieldNode) and s.name.value == "id" and s.alias is None for s in node.selections):
                missing.append(selected.name)

    visit(document, TypeInfoVisitor(type_info, Check()))
    return missing


def test_every_example_and_readme_operation_is_named_and_no_two_share_a_name() -> None:
    names: list[str] = []
    for where, text in documents_shown().items():
        operations = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
        assert operations, where
        assert all(o.name is not None for o in operations), f"{where} holds an anonymous operation"
        names += [o.name.value for o in operations if o.name is not None]
    assert len(names) == len(set(names)), f"operation names repeat: {sorted(names)}"


@pytest.mark.parametrize("where", sorted(documents_shown()))
def test_every_example_and_readme_operation_selects_id_wherever_the_type_has_one(where: str) -> None:
    assert selection_sets_without_id(parse(documents_shown()[where])) == [], where


def test_the_id_rule_notices_a_missing_id() -> None:
    assert selection_sets_without_id(parse("query Q { viewer { user { displayName } } }")) == ["User"]
