"""The schema as an artifact: the committed SDL, its descriptions, and the breaking-change check."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from purchasegraph.cli import main
from purchasegraph.schema import schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema.graphql"
BREAKING_CHANGES = ROOT / "scripts" / "check_breaking_changes.py"
BUILT_IN_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})


def test_the_committed_schema_is_the_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == schema.as_str() + "\n"
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    if committed != printed:
        diff = difflib.unified_diff(
            committed.splitlines(), printed.splitlines(), "schema.graphql", "purchasegraph schema", lineterm=""
        )
        pytest.fail(
            "schema.graphql is out of date: run `purchasegraph schema > schema.graphql`\n" + "\n".join(list(diff)[:40]),
            pytrace=False,
        )


def undescribed(graphql_schema: GraphQLSchema) -> list[str]:
    """Every type, field, argument and enum value without a description, as `Type.field(arg)`."""
    missing: list[str] = []

    def check(description: str | None, where: str) -> None:
        if not (description and description.strip()):
            missing.append(where)

    for name, type_ in sorted(graphql_schema.type_map.items()):
        if name.startswith("__") or name in BUILT_IN_SCALARS:
            continue
        check(type_.description, name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                check(field.description, f"{name}.{field_name}")
                for arg_name, arg in field.args.items():
                    check(arg.description, f"{name}.{field_name}({arg_name})")
        elif isinstance(type_, GraphQLInputObjectType):
            for field_name, input_field in type_.fields.items():
                check(input_field.description, f"{name}.{field_name}")
        elif isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                check(value.description, f"{name}.{value_name}")
    return missing


def test_everything_in_the_schema_is_described() -> None:
    missing = undescribed(schema._schema)
    assert not missing, "no description on:\n  " + "\n  ".join(missing)


def test_the_description_check_finds_what_is_missing() -> None:
    from graphql import build_schema

    sdl = '"""Root."""\ntype Query {\n  """Described."""\n  a(x: Int): E\n  b: Int\n}\n\n"""E."""\nenum E {\n  ONE\n}\n'
    assert undescribed(build_schema(sdl)) == ["E.ONE", "Query.a(x)", "Query.b"]


BASE_SDL = '''
"""Root."""
type Query {
  """A product."""
  product(id: ID!): Product
}

"""A product."""
type Product {
  """Its ID."""
  id: ID!

  """Display name."""
  name: String!
}
'''


def check_breaking_changes(tmp_path: Path, old_sdl: str, new_sdl: str) -> subprocess.CompletedProcess[str]:
    old, new = tmp_path / "old.graphql", tmp_path / "new.graphql"
    old.write_text(old_sdl, encoding="utf-8")
    new.write_text(new_sdl, encoding="utf-8")
    return subprocess.run(  # noqa: S603 - this interpreter running the repository's own script
        [sys.executable, str(BREAKING_CHANGES), "--against", str(old), "--schema", str(new)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_removed_field_is_breaking(tmp_path: Path) -> None:
    removed = BASE_SDL.replace('  """Display name."""\n  name: String!\n', "")
    assert removed != BASE_SDL
    result = check_breaking_changes(tmp_path, BASE_SDL, removed)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BREAKING  FIELD_REMOVED: Field Product.name was removed." in result.stdout


def test_an_added_optional_field_is_safe(tmp_path: Path) -> None:
    added = BASE_SDL.replace("  name: String!\n", '  name: String!\n\n  """Trial days."""\n  trialDays: Int\n')
    assert added != BASE_SDL
    result = check_breaking_changes(tmp_path, BASE_SDL, added)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 breaking, 0 dangerous" in result.stdout


def test_an_added_optional_argument_is_reported_but_safe(tmp_path: Path) -> None:
    added = BASE_SDL.replace("product(id: ID!)", "product(id: ID!, market: String)")
    result = check_breaking_changes(tmp_path, BASE_SDL, added)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DANGEROUS OPTIONAL_ARG_ADDED" in result.stdout


def test_an_unreadable_schema_is_an_error_not_a_pass(tmp_path: Path) -> None:
    result = check_breaking_changes(tmp_path, BASE_SDL, "type Query {")
    assert result.returncode == 2
    assert "not a valid schema" in result.stderr
