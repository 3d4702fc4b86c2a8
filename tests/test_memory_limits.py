"""What clients send is cached by bytes: no sequence of requests grows the process for good."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from purchasegraph.gateway.documents import ANONYMOUS_APQ_CACHE_BYTES, DocumentStore, document_hash
from purchasegraph.gateway.execution import AST_BYTES_PER_CHARACTER, Engine
from purchasegraph.gateway.lru import ByteBoundedLRU, text_bytes
from purchasegraph.gateway.refusals import RequestError
from purchasegraph.schema import build_schema
from purchasegraph.settings import QueryLimits

MIB = 1024 * 1024


def padded(i: int, size: int) -> str:
    """A valid document of about ``size`` characters, different for every ``i``."""
    return f"# {i} {'x' * size}\n{{ products {{ productId }} }}"


def persisted(text: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}}


def test_a_cache_bounded_by_bytes_evicts_the_least_recently_used() -> None:
    cache: ByteBoundedLRU[str, str] = ByteBoundedLRU(100, lambda key, value: len(key) + len(value))
    cache.put("a", "x" * 39)  # 40
    cache.put("b", "x" * 39)  # 80
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", "x" * 39)  # 120: "b" goes
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True)
    assert cache.bytes == 80
    cache.put("huge", "x" * 200)  # heavier than the whole budget: not kept, nothing evicted
    assert ("huge" in cache, len(cache), cache.bytes) == (False, 2, 80)


def test_anonymous_persisted_query_posts_do_not_grow_memory_for_good() -> None:
    # The attack of the issue, scaled down: anonymous posts of distinct large persisted queries,
    # each checked (refused at its first character here, which keeps the test fast) and
    # registered as the HTTP endpoint does, with the document cache given a 2 MiB budget.
    engine = Engine(build_schema(), QueryLimits(), production=False, cache_bytes=2 * MIB)
    documents = DocumentStore()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(400):
            text = padded(i, 25_000)
            resolved = documents.resolve(text, persisted(text))
            with pytest.raises(RequestError):
                engine.prepare("}" + resolved.text, None)
            assert resolved.register_as is not None
            documents.register(resolved.register_as, resolved.text, anonymous=True)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 400 x 25 KB held twice (checked and registered) would be 20 MB.
    assert grown < 2 * MIB + ANONYMOUS_APQ_CACHE_BYTES + 2 * MIB, f"{grown / MIB:.1f} MiB kept"


def test_anonymous_registrations_cannot_push_out_a_signed_in_clients_documents() -> None:
    documents = DocumentStore()
    mine = "{ products { productId } }"
    documents.register(document_hash(mine), mine, anonymous=False)
    for i in range(200):
        text = padded(i, 25_000)
        documents.register(document_hash(text), text, anonymous=True)
    assert documents.resolve(None, persisted(mine)).text == mine


def _dense_refused(i: int) -> str:
    """A small document of many tokens (a large syntax tree per character), refused by validation."""
    return f"# {i}\n{{ viewer {{ user {{ {' '.join(['id'] * 200)} nope }} }} }}"


def test_a_refused_document_in_the_cache_holds_no_more_than_it_weighs() -> None:
    # A refusal is cached by its text and its errors; the syntax tree it was refused on (about
    # 200 bytes a character here) must go with the request, or 2 KB weighed holds 400 KB.
    engine = Engine(build_schema(), QueryLimits(), production=False, cache_bytes=2 * MIB)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100):
            with pytest.raises(RequestError):
                engine.prepare(_dense_refused(i), None)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 2 * MIB + MIB, f"{grown / MIB:.1f} MiB kept"


def test_a_refused_document_sent_again_and_again_keeps_nothing_of_the_requests_that_sent_it() -> None:
    # Raising the one cached exception again would chain every raise's frames to its traceback,
    # and with them whatever each request held (here 200 KB of variables apiece).
    engine = Engine(build_schema(), QueryLimits(), production=False)

    def plan(text: str, variables: dict[str, str]) -> None:
        assert variables  # held in this frame, as a request's variables are while it is planned
        engine.prepare(text, None)

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100):
            with pytest.raises(RequestError) as refused:
                plan("{ nope }", {"padding": f"{i}{'v' * 200_000}"})
            del refused
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < MIB, f"{grown / MIB:.1f} MiB kept"


def test_a_cached_document_weighs_at_least_what_its_syntax_tree_holds() -> None:
    # The densest valid documents (a short token, a space, again) take about 210 bytes a character.
    engine = Engine(build_schema(), QueryLimits(), production=False)
    engine.prepare("{ products { productId } }", None)  # graphql-core's own caches, built once
    dense = f"{{ viewer {{ user {{ {' '.join(['id'] * 600)} }} }} }}"
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        engine.prepare(dense, None)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= text_bytes(dense) + AST_BYTES_PER_CHARACTER * len(dense), held  # what it is weighed at
