"""Building the trusted-documents manifest from the clients' ``.graphql`` files.

One entry per operation, its body the text Apollo Client sends for it (the operation, the
fragments of its file and those they spread from any of the files, ``__typename`` added, the
client's own directives removed; see ``apollo_text``), its id that text's SHA-256: the manifest
Apollo's ``generate-persisted-query-manifest`` writes for the same files, so either tool's manifest
serves the other's clients. Operations must be named and unique, as Apollo's generator and GraphQL
Code Generator require, and each is validated against the schema as it will be sent, so a manifest
never trusts a query that could not run: a fragment beside an operation that does not use it is
refused, since Apollo Client sends it along and validation refuses unused fragments. An operation
that is the client's alone (every field ``@client``) reaches no server and gets no entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, parse, validate

from purchasegraph.gateway.apollo_text import operation_document, print_as_graphql_js_16, server_document
from purchasegraph.gateway.documents import MANIFEST_FORMAT, document_hash
from purchasegraph.schema import schema


class InvalidDocument(Exception):
    """A .graphql file that does not parse, names nothing, or does not fit the schema."""


@dataclass(frozen=True)
class Operation:
    path: Path
    node: OperationDefinitionNode
    # The fragments defined in its file, when it is the file's one operation: Apollo Client holds
    # the file as one document and sends them all along. (A file of several operations is not a
    # document Apollo Client can send; each of those takes only the fragments it spreads.)
    beside: tuple[FragmentDefinitionNode, ...] = field(default=())

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
        found: list[Operation] = []
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
                found.append(operations[name])
        if len(found) == 1:
            beside = tuple(d for d in document.definitions if isinstance(d, FragmentDefinitionNode))
            operations[found[0].name] = Operation(path, found[0].node, beside)
    return list(operations.values()), {name: node for name, (_, node) in fragments.items()}


def manifest_entry(operation: Operation, fragments: dict[str, FragmentDefinitionNode]) -> dict[str, Any] | None:
    sent = server_document(operation_document(operation.node, fragments, operation.beside))
    if sent is None:
        return None
    errors = validate(schema._schema, sent)
    if errors:
        raise InvalidDocument(f"{operation.path}: {operation.name}: {errors[0].message}")
    body = print_as_graphql_js_16(sent)
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
    entries = [entry for entry in entries if entry is not None]
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": entries}
