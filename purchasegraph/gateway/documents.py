"""Trusted documents and automatic persisted queries, in Apollo's wire format.

A client names a document by the SHA-256 of its text in ``extensions.persistedQuery``.
With enforcement on, only documents of the manifest run (built from the clients' ``.graphql``
files by ``purchasegraph trusted-documents``): an attacker holding a valid token still cannot
send a query nobody wrote. With enforcement off, the same extension gives automatic persisted
queries: a client sends the hash alone, and the full text once when the gateway has not seen
it. That cache lives in each process; a replica that misses just asks the client for the text.
It is bounded by bytes, and what anonymous callers register has a smaller budget of its own:
anyone may fill that one, but nobody without a token can push out a signed-in client's documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, parse

from purchasegraph.gateway.apollo_text import print_as_graphql_js_16, sort_top_level_definitions
from purchasegraph.gateway.lru import ByteBoundedLRU, text_bytes
from purchasegraph.gateway.refusals import RequestCode, RequestError, malformed
from purchasegraph.gateway.strings import storable

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
# Registered documents kept per process, hash and text weighed together.
APQ_CACHE_BYTES = 16 * 1024 * 1024
ANONYMOUS_APQ_CACHE_BYTES = 2 * 1024 * 1024


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """hash → document text, from an Apollo persisted-query manifest; ValueError saying what is wrong
    with the file (the server does not start on a manifest it cannot read whole)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"PURCHASEGRAPH_TRUSTED_DOCUMENTS: cannot read {path}: {error}") from None
    operations = data.get("operations", []) if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(operations, list):
        raise ValueError(f"{path} is not an {MANIFEST_FORMAT} (version 1)")
    documents: dict[str, str] = {}
    for operation in operations:
        if not isinstance(operation, dict) or not all(isinstance(operation.get(k), str) for k in ("id", "body")):
            raise ValueError(f"{path}: every operation needs a string `id` and `body`, not {str(operation)[:80]!r}")
        body = operation["body"]
        if document_hash(body) != operation["id"]:
            raise ValueError(f"{path}: the id of operation {operation.get('name')!r} is not the SHA-256 of its body")
        documents[operation["id"]] = body
    return documents


@dataclass(frozen=True)
class Resolved:
    text: str
    # A hash the client sent with its text: remember it once the document proves valid.
    register_as: str | None = None


def persisted_query_hash(extensions: Mapping[str, Any] | None) -> str | None:
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version", 1) != 1:
        raise RequestError(RequestCode.BAD_REQUEST, "`extensions.persistedQuery` must be {version: 1, sha256Hash}.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise RequestError(RequestCode.BAD_REQUEST, "`sha256Hash` must be 64 lowercase hex digits.")
    return digest


def not_found() -> RequestError:
    # Apollo clients look for this message and code, then resend with the full text.
    return RequestError(RequestCode.PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound", status=400, legacy_status=200)


class DocumentStore:
    def __init__(
        self, manifest: Mapping[str, str] | None = None, *, enforce: bool = False, max_tokens: int | None = None
    ) -> None:
        if enforce and manifest is None:
            raise ValueError("enforcing trusted documents needs a manifest (PURCHASEGRAPH_TRUSTED_DOCUMENTS)")
        self._trusted = dict(manifest or {})
        # Free text read to find the manifest document it is: no text of more tokens than the longest
        # trusted document has characters can be one, nor one the engine would refuse to parse.
        longest = max(map(len, self._trusted.values()), default=0)
        self._max_trusted_tokens = longest if max_tokens is None else min(longest, max_tokens)
        self.enforce = enforce
        self._automatic: ByteBoundedLRU[str, str] = ByteBoundedLRU(APQ_CACHE_BYTES, _weigh)
        self._anonymous: ByteBoundedLRU[str, str] = ByteBoundedLRU(ANONYMOUS_APQ_CACHE_BYTES, _weigh)

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> Resolved:
        """The document text the request stands for, or a refusal."""
        digest = persisted_query_hash(extensions)
        if query is not None and not storable(query):
            # Refused before it is hashed: UTF-8 has no encoding for a lone surrogate.
            raise malformed("The document holds NUL or an unpaired surrogate.")
        if digest is None:
            if query is None:
                raise RequestError(RequestCode.BAD_REQUEST, "The request has no `query`.")
            return Resolved(self._trusted_text(query) if self.enforce else query)
        if query is not None:
            if document_hash(query) != digest:
                raise RequestError(
                    RequestCode.PERSISTED_QUERY_HASH_MISMATCH, "`sha256Hash` is not the SHA-256 of `query`."
                )
            if self.enforce and digest not in self._trusted:
                raise not_found()
            return Resolved(query, register_as=None if digest in self._trusted else digest)
        text = self._trusted.get(digest)
        if text is None and not self.enforce:
            text = self._automatic.get(digest) or self._anonymous.get(digest)
        if text is None:
            raise not_found()
        return Resolved(text)

    def _trusted_text(self, query: str) -> str:
        """The manifest's text that ``query`` is, as sent or with its definitions in another order.

        Apollo Client's links print a document in the order its definitions were written (or
        appended), while a manifest holds them sorted (``sortTopLevelDefinitions``): a subscription
        over GraphQLWsLink, which sends text and never an id, would otherwise match only when its
        fragments happen to be written in name order. What runs is the manifest's text."""
        if document_hash(query) in self._trusted:
            return query
        try:
            document = parse(query, no_location=True, max_tokens=self._max_trusted_tokens)
            trusted = self._trusted.get(document_hash(print_as_graphql_js_16(sort_top_level_definitions(document))))
        except (GraphQLError, RecursionError):
            trusted = None
        if trusted is None:
            raise RequestError(
                RequestCode.TRUSTED_DOCUMENT_REQUIRED,
                "Only trusted documents run here: send the hash of a document from the manifest.",
            )
        return trusted

    def register(self, digest: str, text: str, *, anonymous: bool) -> None:
        """Remember a valid document under its hash; an anonymous caller's in the smaller budget."""
        if self.enforce:
            return
        (self._anonymous if anonymous else self._automatic).put(digest, text)


def _weigh(digest: str, text: str) -> int:
    return text_bytes(digest) + text_bytes(text)
