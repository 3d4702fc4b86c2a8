"""Building the trusted-documents manifest from the clients' ``.graphql`` files.

One entry per file: its whole text is the document (operations and the fragments they use),
hashed as sent. Every document is validated against the schema first, so a manifest never
trusts a query that could not run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse, validate

from purchasegraph.gateway.documents import MANIFEST_FORMAT, document_hash
from purchasegraph.schema import schema


class InvalidDocument(Exception):
    """A .graphql file that does not parse or does not fit the schema."""


def graphql_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.graphql")) if path.is_dir() else [path]
    return found


def manifest_entry(path: Path) -> dict[str, Any]:
    body = path.read_text(encoding="utf-8")
    try:
        document = parse(body)
    except GraphQLError as error:
        raise InvalidDocument(f"{path}: {error.message}") from None
    errors = validate(schema._schema, document)
    if errors:
        raise InvalidDocument(f"{path}: {errors[0].message}")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise InvalidDocument(f"{path}: no operation")
    first = operations[0]
    return {
        "id": document_hash(body),
        "name": first.name.value if first.name else path.stem,
        "type": first.operation.value,
        "body": body,
    }


def build_manifest(paths: Iterable[Path]) -> dict[str, Any]:
    files = graphql_files(paths)
    if not files:
        raise InvalidDocument("no .graphql files found")
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": [manifest_entry(p) for p in files]}
