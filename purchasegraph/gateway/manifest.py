"""Building the trusted-documents manifest from the clients' ``.graphql`` files.

One entry per operation, its body the text Apollo Client sends for it (the operation, the
fragments it uses from any of the files, ``__typename`` added; see ``apollo_text``), its id that
text's SHA-256: the manifest Apollo's ``generate-persisted-query-manifest`` writes for the same
files, so either tool's manifest serves the other's clients. Operations must be named and
unique, as Apollo's generator and GraphQL Code Generator require, and each is validated against
the schema first, so a manifest never trusts a query that could not run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, parse, validate

from purchasegraph.gateway.apollo_text import apollo_text, operation_document
from purchasegraph.gateway.documents import MANIFEST_FORMAT, document_hash
from purchasegraph.schema import schema


class InvalidDocument(Exception):
    """A .graphql file that does not parse, names nothing, or does not fit the schema."""


@dataclass(frozen=True)
class Operation:
    path: Path
    node: OperationDefinitionNode

    @property
    def name(self) -> str:
        assert self.node.name is not None  # anonymous operations are refused on reading
        return self.node.name.value


def graphql_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.graphql")) if path.is_dir() else [path]
    return found


def read_definitions(files: Iterable[Path]) -> tuple[list[Operation], dict[str, FragmentDefinitionNode]]:
    """Every operation and fragment of the files; names must be unique across all of them, since
    a client (and the manifest) finds an operation by its name and a fragment spread by its."""
    operations: dict[str, Operation] = {}
    fragments: dict[str, tuple[Path, FragmentDefinitionNode]] = {}
    for path in files:
        try:
            document = parse(path.read_text(encoding="utf-8"))
        except GraphQLError as error:
            raise InvalidDocument(f"{path}: {error.message}") from None
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                if name in fragments:
                    raise InvalidDocument(f"{path}: fragment {name} is also defined in {fragments[name][0]}")
                fragments[name] = (path, definition)
            elif isinstance(definition, OperationDefinitionNode):
                if definition.name is None:
                    raise InvalidDocument(
                        f"{path}: an anonymous {definition.operation.value}; name it "
                        f"(`{definition.operation.value} SomeName {{ … }}`), clients and manifests find it by name"
                    )
                name = definition.name.value
                if name in operations:
                    raise InvalidDocument(f"{path}: operation {name} is also defined in {operations[name].path}")
                operations[name] = Operation(path, definition)
    return list(operations.values()), {name: node for name, (_, node) in fragments.items()}


def manifest_entry(operation: Operation, fragments: dict[str, FragmentDefinitionNode]) -> dict[str, Any]:
    document = operation_document(operation.node, fragments)
    errors = validate(schema._schema, document)
    if errors:
        raise InvalidDocument(f"{operation.path}: {operation.name}: {errors[0].message}")
    body = apollo_text(document)
    return {"id": document_hash(body), "name": operation.name, "type": operation.node.operation.value, "body": body}


def build_manifest(paths: Iterable[Path]) -> dict[str, Any]:
    files = graphql_files(paths)
    if not files:
        raise InvalidDocument("no .graphql files found")
    operations, fragments = read_definitions(files)
    if not operations:
        raise InvalidDocument("no operation in the .graphql files")
    # Ordered by name, as Apollo's generator orders them, so the two manifests compare equal.
    entries = [manifest_entry(o, fragments) for o in sorted(operations, key=lambda o: o.name)]
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": entries}
