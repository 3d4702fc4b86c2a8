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

from purchasegraph.gateway.errors import RequestCode, RequestError, malformed
from purchasegraph.gateway.lru import ByteBoundedLRU, text_bytes
from purchasegraph.gateway.strings import storable

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
# Registered documents kept per process, hash and text weighed together.
APQ_CACHE_BYTES = 16 * 1024 * 1024
ANONYMOUS_APQ_CACHE_BYTES = 2 * 1024 * 1024


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """hash → document text, from an Apollo persisted-query manifest."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not an {MANIFEST_FORMAT} (version 1)")
    documents: dict[str, str] = {}
    for operation in data.get("operations", []):
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
    def __init__(self, manifest: Mapping[str, str] | None = None, *, enforce: bool = False) -> None:
        if enforce and manifest is None:
            raise ValueError("enforcing trusted documents needs a manifest (PURCHASEGRAPH_TRUSTED_DOCUMENTS)")
        self._trusted = dict(manifest or {})
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
            if self.enforce and document_hash(query) not in self._trusted:
                raise RequestError(
                    RequestCode.TRUSTED_DOCUMENT_REQUIRED,
                    "Only trusted documents run here: send the hash of a document from the manifest.",
                )
            return Resolved(query)
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

    def register(self, digest: str, text: str, *, anonymous: bool) -> None:
        """Remember a valid document under its hash; an anonymous caller's in the smaller budget."""
        if self.enforce:
            return
        (self._anonymous if anonymous else self._automatic).put(digest, text)


def _weigh(digest: str, text: str) -> int:
    return text_bytes(digest) + text_bytes(text)
