"""The fuzz corpus for /graphql: a few hundred bad (and a few odd but harmless) requests.

Hand-written attacks (broken JSON, wrong shapes, media types, methods, Accept headers, huge and deep
documents, alias and fragment bombs, forged global IDs, bad tokens, ...), cases built with
``random.Random`` from a fixed seed, and values drawn by Hypothesis in a derandomized run: the same
cases, under the same names, on every build. Its valid tokens live ten minutes from the build.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack
from urllib.parse import unquote_plus, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import strategies as st

from purchasegraph.demo.actors import demo_tenant_id, demo_user_id
from purchasegraph.identity import user_token_claims
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER
from tests.drawing import drawn
from tests.settings import SECRET
from tests.test_http import VIEWER_QUERY, token_for

SEED = 20240611
GQL_JSON = "application/graphql-response+json"
JSON = "application/json"
PRODUCT = "CFQ7TTC0H9MP"
VALID_QUERY = "{ products { productId } }"
MUTATION = 'mutation { cancelSubscription(subscriptionId: "x") { userErrors { code } } }'
KIB = 1024

CONTOSO = demo_tenant_id("contoso.example")
WOODGROVE = demo_tenant_id("woodgrove.example")
WILL = demo_user_id("will.admin@woodgrove.example")
PAULA_UPN = "paula.purchaser@contoso.example"
PAULA = demo_user_id(PAULA_UPN)


def _token(**claims: Any) -> str:
    """Paula's token at Contoso, with ``claims`` changed (None drops a claim)."""
    return token_for(PAULA_UPN, "contoso.example", **claims)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


# The keyset cursor format (base64url of [signature, key values…]) with values of any kind.
USERS = "User:+DISPLAY_NAME,+ID"
NIL = "00000000-0000-0000-0000-000000000000"
NOON = "2026-01-01T12:00:00.000000Z"


def _keyset(signature: str, *values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([signature, *values]).encode("utf-8", "surrogatepass")).decode()


def _gql_string(value: str) -> str:
    """A GraphQL string literal (JSON's escapes are GraphQL's)."""
    return json.dumps(value)


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    name: str
    method: str = "POST"
    body: bytes = b""
    query_string: str | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()
    # Valid GraphQL with a harmless result: 200 with `data` is fine too.
    may_succeed: bool = False
    # When it succeeds, `data[null_field]` must be null (a forged or foreign id reaches nothing).
    null_field: str | None = None
    # Not asking for graphql-response+json: a refusal may be 200 with coded `errors` and no `data`.
    legacy: bool = False

    @property
    def url(self) -> str:
        return "/graphql" if self.query_string is None else f"/graphql?{self.query_string}"

    def sent_text(self) -> str:
        """Everything the request carried, as text: what a response may legitimately echo."""
        parts = [self.body.decode("latin-1"), self.body.decode("utf-8", "replace")]
        if self.query_string is not None:
            parts += [self.query_string, unquote_plus(self.query_string, errors="replace")]
        parts += [v.decode("latin-1") for _, v in self.headers]
        with suppress(ValueError, RecursionError):
            parts += list(strings_in(json.loads(self.body)))
        return "\n".join(parts)

    def describe(self, limit: int = 160) -> str:
        shown = self.body[:limit].decode("utf-8", "replace")
        more = f"…(+{len(self.body) - limit} bytes)" if len(self.body) > limit else ""
        return f"[{self.name}] {self.method} {shorten(self.url, limit)} body={shown!r}{more}"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit} chars)"


def _headers(
    accept: str | bytes | None,
    content_type: str | bytes | None,
    authorization: str | bytes | None,
    extra: Sequence[tuple[str, str | bytes]],
) -> tuple[tuple[bytes, bytes], ...]:
    pairs: list[tuple[str, str | bytes]] = []
    if accept is not None:
        pairs.append(("Accept", accept))
    if content_type is not None:
        pairs.append(("Content-Type", content_type))
    if authorization is not None:
        pairs.append(("Authorization", authorization))
    pairs += extra
    return tuple((k.encode("latin-1"), v if isinstance(v, bytes) else v.encode("utf-8")) for k, v in pairs)


class Sent(TypedDict, total=False):
    """How a case is sent besides its body, and what its answer may be: the builders' options."""

    method: str
    accept: str | bytes | None
    content_type: str | bytes | None
    authorization: str | bytes | None
    extra: Sequence[tuple[str, str | bytes]]
    may_succeed: bool
    null_field: str | None


def raw(name: str, body: bytes, *, query_string: str | None = None, **sent: Unpack[Sent]) -> Case:
    """A POST of ``body`` as JSON asking for graphql-response+json, unless ``sent`` says otherwise."""
    accept = sent.get("accept", GQL_JSON)
    return Case(
        name=name,
        method=sent.get("method", "POST"),
        body=body,
        query_string=query_string,
        headers=_headers(accept, sent.get("content_type", JSON), sent.get("authorization"), sent.get("extra", ())),
        may_succeed=sent.get("may_succeed", False),
        null_field=sent.get("null_field"),
        legacy=accept != GQL_JSON,
    )


def post(name: str, payload: object, **sent: Unpack[Sent]) -> Case:
    return raw(name, json.dumps(payload).encode(), **sent)


def gql(
    name: str,
    query: str,
    variables: object = None,
    *,
    operation_name: str | None = None,
    token: str | None = None,
    **sent: Unpack[Sent],
) -> Case:
    """A well-formed POST of a GraphQL document, with ``token`` as its bearer."""
    payload: dict[str, object] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    if operation_name is not None:
        payload["operationName"] = operation_name
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    return post(name, payload, **sent)


def get(name: str, params: Mapping[str, str] | str, **sent: Unpack[Sent]) -> Case:
    """A GET (or ``method``) with the request in the query string and no body."""
    query_string = params if isinstance(params, str) else urlencode(params)
    sent.setdefault("method", "GET")
    sent["content_type"] = None
    return raw(name, b"", query_string=query_string, **sent)


def malformed_bodies() -> list[Case]:
    valid = json.dumps({"query": VALID_QUERY}).encode()
    bodies: dict[str, bytes] = {
        "empty": b"",
        "newlines": b"\r\n\r\n",
        "open brace": b"{",
        "close brace": b"}",
        "open bracket": b"[",
        "key and colon": b'{"query":',
        "unclosed object": valid[:-1],
        "trailing comma": valid[:-1] + b",}",
        "trailing garbage": valid + b" trailing",
        "two objects": valid + valid,
        "single quotes": b"{'query': '{ products { productId } }'}",
        "bare key": b'{query: "{ products { productId } }"}',
        "bad unicode escape": b'{"query": "\\u12"}',
        "bad escape": b'{"query": "\\x41"}',
        "control char in string": b'{"query": "{\x01}"}',
        "invalid utf-8 in string": b'{"query": "\xff\xfe"}',
        "invalid utf-8 bytes": b"\xff\xfe\xfd\xfc",
        "overlong utf-8": b'{"query": "\xc0\xaf"}',
        "nul bytes": b"\x00" * 64,
        "nul inside json": b'{"query": "{ products { productId } }"}\x00',
        "bom only": b"\xef\xbb\xbf",
        "NaN": b"NaN",
        "1e999": b"1e999",
        "unterminated string": b'"unterminated',
        "100k open brackets": b"[" * 100_000,
        "40k nested objects": b'{"a":' * 40_000,
        "unbalanced brackets": b"[" * 500 + b"]" * 499,
        "balanced 500 deep list": b"[" * 500 + b"]" * 500,
        "unclosed variables": b'{"query": "{ products { productId } }", "variables": {',
        "lone backslash": b'{"query": "\\"}',
        "comment": b'/* c */ {"query": "{ products { productId } }"}',
        "xml": b"<query>{ products { productId } }</query>",
        "form encoded": b"query=%7B+products+%7B+productId+%7D+%7D",
        "graphql text": VALID_QUERY.encode(),
        "5000 digit number": b"9" * 5000,
    }
    return [raw(f"malformed json: {name}", body) for name, body in bodies.items()] + [
        raw("malformed json, legacy accept", b"{", accept=JSON),
        raw("malformed json, no accept", b'{"query": ', accept=None),
    ]


def wrong_shapes() -> list[Case]:
    payloads: dict[str, object] = {
        "empty array": [],
        "array of one": [{"query": VALID_QUERY}],
        "array of two": [{"query": VALID_QUERY}, {"query": VALID_QUERY}],
        "array of 1000": [{"query": VALID_QUERY}] * 1000,
        "array of numbers": [1, 2, 3],
        "number": 1,
        "string": "{ products { productId } }",
        "null": None,
        "empty object": {},
        "null query": {"query": None},
        "numeric query": {"query": 1},
        "list query": {"query": [VALID_QUERY]},
        "object query": {"query": {"$ne": ""}},
        "capitalised key": {"Query": VALID_QUERY},
        "only variables": {"variables": {"a": 1}},
        "array variables": {"query": VALID_QUERY, "variables": [1]},
        "string variables": {"query": VALID_QUERY, "variables": '{"a": 1}'},
        "numeric variables": {"query": VALID_QUERY, "variables": 1},
        "numeric operationName": {"query": VALID_QUERY, "operationName": 1},
        "list operationName": {"query": VALID_QUERY, "operationName": ["Q"]},
        "list extensions": {"query": VALID_QUERY, "extensions": []},
        "string extensions": {"query": VALID_QUERY, "extensions": "x"},
        "persisted query without query": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}},
        "nested junk": {"query": {"query": {"query": [None, {"": []}]}}},
        "query in a list in a list": [[{"query": VALID_QUERY}]],
    }
    return [post(f"wrong shape: {name}", payload) for name, payload in payloads.items()] + [
        post("wrong shape, legacy accept: array", [], accept=JSON),
        post("wrong shape, no accept: number", 42, accept=None),
        # Harmless variants that are valid requests.
        post("null variables", {"query": VALID_QUERY, "variables": None}, may_succeed=True),
        post("unknown top-level keys", {"query": VALID_QUERY, "junk": [1, {"a": None}]}, may_succeed=True),
        post("extra unused variables", {"query": VALID_QUERY, "variables": {"junk": [1, 2]}}, may_succeed=True),
    ]


def content_types() -> list[Case]:
    body = json.dumps({"query": VALID_QUERY}).encode()
    refused: list[str | bytes | None] = [
        None,
        "",
        ";;;",
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/graphql",
        GQL_JSON,
        "application/json5",
        "application/json, text/plain",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=\u00e9",
        b"application/json; charset=\xff",
        "text/html",
        "*/*",
        "a" * 10_000,
    ]
    cases = [raw(f"content type {ct!r:.60}", body, content_type=ct) for ct in refused]
    cases += [
        raw(
            "form post (CSRF)",
            urlencode({"query": VALID_QUERY}).encode(),
            content_type="application/x-www-form-urlencoded",
        ),
        raw(
            "multipart post",
            b'--xyz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n' + body + b"\r\n--xyz--\r\n",
            content_type="multipart/form-data; boundary=xyz",
        ),
        raw("text/plain post (CSRF)", body, content_type="text/plain"),
        raw("utf-16 body declared utf-16", body.decode().encode("utf-16"), content_type=f"{JSON}; charset=utf-16"),
        raw("latin-1 body declared latin-1", b'{"query": "{ \xe9 }"}', content_type=f"{JSON}; charset=latin-1"),
        raw("invalid utf-8 declared utf-8", b'{"query": "{ \xe9 }"}', content_type=f"{JSON}; charset=utf-8"),
        # Accepted spellings of the one acceptable type: harmless.
        raw("upper-case content type", body, content_type="APPLICATION/JSON", may_succeed=True),
        raw("quoted charset", body, content_type='application/json; charset="utf-8"', may_succeed=True),
        raw("utf8 charset", body, content_type="application/json;charset=UTF8", may_succeed=True),
        raw("2000 unknown parameters", body, content_type="application/json" + "; x=y" * 2000, may_succeed=True),
        # json.loads sniffs UTF-16/32 from the bytes; lenient, but not harmful.
        raw("utf-16 body, no charset", body.decode().encode("utf-16"), may_succeed=True),
        raw("utf-8 bom", b"\xef\xbb\xbf" + body, may_succeed=True),
    ]
    return cases


def methods() -> list[Case]:
    body = json.dumps({"query": VALID_QUERY}).encode()
    cases: list[Case] = []
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "FOO"):
        cases.append(raw(f"method {method} with a query", body, method=method))
    for method in ("PUT", "DELETE", "PATCH"):
        cases.append(raw(f"method {method} with junk", b"\x00junk", method=method, content_type="text/plain"))
    cases.append(get("PUT with the query in the URL", {"query": VALID_QUERY}, method="PUT"))
    cases.append(raw("DELETE with a mutation", json.dumps({"query": MUTATION}).encode(), method="DELETE"))
    cases.append(raw("method PUT, legacy accept", body, method="PUT", accept=JSON))
    cases.append(raw("POST with the query in the URL only", b"", query_string=urlencode({"query": VALID_QUERY})))
    return cases


def accept_headers() -> list[Case]:
    refused: list[str | bytes] = [
        "text/html",
        "text/plain",
        "application/xml",
        "application/json;q=0",
        f"{GQL_JSON};q=0",
        f"{GQL_JSON};q=0, {JSON};q=0",
        "*/*;q=0",
        "application/json;q=-1",
        "application/json;q=abc",
        "application/json;q=nan",
        ",,,;;;",
        "application/graphql-response+jsonx",
        "application/graphql",
        b"application/\xffjson",
        "\u00e9/\u00e9",
        "text/html, " * 5000 + "image/png",
    ]
    cases = [raw(f"accept {a!r:.60}", json.dumps({"query": VALID_QUERY}).encode(), accept=a) for a in refused]
    cases.append(get("GET, accept text/plain", {"query": VALID_QUERY}, accept="text/plain"))
    cases.append(get("GET, accept xml and a mutation", {"query": MUTATION}, accept="application/xml"))
    cases.append(raw("406 beats broken JSON", b"{", accept="text/csv"))
    cases.append(raw("406 beats a bad token", b"{}", accept="text/csv", authorization="Bearer junk"))
    return cases


def huge() -> list[Case]:
    big_string_query = "{ products(market: " + _gql_string("A" * 300 * KIB) + ") { productId } }"
    many_tokens = "{ products { " + "productId " * 60_000 + "} }"
    under_limit_tokens = "{ products { " + "productId " * 24_000 + "} }"
    return [
        gql("300 KiB query string (POST)", big_string_query),
        gql("600 KiB of tokens (POST)", many_tokens),
        gql("240 KiB of tokens, under the body limit", under_limit_tokens),
        gql(
            "1 MiB variable value (POST)",
            "query Q($m: String) { products(market: $m) { productId } }",
            {"m": "A" * 1024 * KIB},
        ),
        gql(
            "250 KiB variable value, under the body limit",
            "query Q($m: String) { products(market: $m) { productId } }",
            {"m": "é" * 120 * KIB},
            may_succeed=True,
        ),
        gql("200 KiB field name", "{ " + "a" * 200 * KIB + " }"),
        gql("200 KiB argument name", "{ products(" + "m" * 200 * KIB + ': "US") { productId } }'),
        gql("200 KiB operation name", "query " + "Q" * 200 * KIB + " { __typename }", operation_name="Q"),
        gql("200 KiB operationName not in the document", VALID_QUERY, operation_name="Q" * 200 * KIB),
        gql("200 KiB comment", "#" + "c" * 200 * KIB + "\n" + VALID_QUERY, may_succeed=True),
        gql(
            "200 KiB block string",
            '{ products(market: """' + "x" * 200 * KIB + '""") { productId } }',
            may_succeed=True,
        ),
        gql("200 KiB number", "{ viewer { notifications(first: " + "9" * 200 * KIB + ") { nodes { kind } } } }"),
        gql("5000 digit integer", "{ viewer { notifications(first: " + "9" * 5000 + ") { nodes { kind } } } }"),
        gql("1e400 float", "{ viewer { notifications(first: 1e400) { nodes { kind } } } }"),
        post("1 MiB of junk keys", {f"k{i}": "v" * 10 for i in range(60_000)}),
        post("250 KiB of junk keys", {f"k{i}": i for i in range(20_000)}),
        raw("declared 1 GiB content-length", b"{}", extra=[("Content-Length", str(1 << 30))]),
        raw("declared 10^30 content-length", b"{}", extra=[("Content-Length", "1" + "0" * 30)]),
        raw("non-numeric content-length", b'{"query": "{"}', extra=[("Content-Length", "abc")]),
        raw("negative content-length", b'{"query": "{"}', extra=[("Content-Length", "-1")]),
        # httpx refuses URLs over 64 KiB (servers refuse far shorter ones), so GET gets less.
        get("50 KiB GET query of tokens", {"query": "{ products { " + "productId " * 5_000 + "} }"}),
        get(
            "GET with a 60 KiB string", {"query": big_string_query[: 60 * KIB] + '") { productId } }'}, may_succeed=True
        ),
        get(
            "GET with a 60 KiB variable",
            {
                "query": "query Q($m: String) { products(market: $m) { productId } }",
                "variables": json.dumps({"m": "A" * 60 * KIB}),
            },
            may_succeed=True,
        ),
        raw(
            "1 MiB Authorization header",
            json.dumps({"query": VIEWER_QUERY}).encode(),
            authorization="Bearer " + "A" * 1024 * KIB,
        ),
        raw(
            "500 junk headers",
            b"{",
            extra=[(f"X-Junk-{i}", "v" * 100) for i in range(500)],
        ),
        raw("100 KiB X-Request-Id", b"{", extra=[("X-Request-Id", "r" * 100 * KIB)]),
        raw("X-Request-Id with bytes", b"{", extra=[("X-Request-Id", b"\xff\xfe\x00abcdefgh")]),
        raw("X-Request-Id with spaces", b"{", extra=[("X-Request-Id", "abc def ghi jkl")]),
        raw("X-Request-Id with html", b"{", extra=[("X-Request-Id", "<script>alert(1)</script>")]),
    ]


def deep() -> list[Case]:
    cases: list[Case] = []
    for depth in (11, 50, 200, 1000, 2000):
        nested = "a { " * depth + "b" + " }" * depth
        cases.append(gql(f"selection sets {depth} deep", "{ " + nested + " }"))
    for depth in (11, 100, 666):
        cycle = "subscription { orders { nodes { " * depth + "id" + " } } }" * depth
        cases.append(gql(f"schema cycle {depth} deep", f'{{ node(id: "x") {{ ... on Order {{ {cycle} }} }} }}'))
    for depth in (50, 150, 200, 1000):
        inline = "{ " + "... { " * depth + "__typename" + " }" * depth + " }"
        cases.append(gql(f"inline fragments {depth} deep", inline, may_succeed=True))
    for depth in (20, 100, 200, 240):
        chain = " ".join(f"fragment F{k} on Query {{ ...F{k + 1} }}" for k in range(depth))
        document = f"{{ ...F0 }} {chain} fragment F{depth} on Query {{ __typename }}"
        cases.append(gql(f"fragment chain {depth} deep", document, may_succeed=True))
    for depth in (50, 199, 1000):
        value = "[" * depth + '"US"' + "]" * depth
        cases.append(gql(f"list literal {depth} deep", f"{{ products(market: {value}) {{ productId }} }}"))
    for depth in (50, 400):
        value = "{a: " * depth + "1" + "}" * depth
        cases.append(gql(f"object literal {depth} deep", f"{{ products(market: {value}) {{ productId }} }}"))
    for depth in (100, 150, 190):
        twin = "a { " * depth + "b" + " }" * depth
        document = f"{{ __typename }} fragment U on Query {{ {twin} {twin} }}"
        cases.append(gql(f"twin unused fragments {depth} deep", document))
    statuses = 'query Q($s: [SubscriptionStatus!]) { tenant(id: "x") { subscriptions(status: $s) { totalCount } } }'
    card = "mutation M($c: CardInput!) { addPaymentMethod(card: $c) { userErrors { code } } }"
    for depth in (50, 900, 1500, 100_000):
        lists = "[" * depth + '"ACTIVE"' + "]" * depth
        objects = '{"a": ' * depth + "1" + "}" * depth
        body = f'{{"query": {json.dumps(statuses)}, "variables": {{"s": {lists}}}}}'
        cases.append(raw(f"variables: list {depth} deep", body.encode()))
        body = f'{{"query": {json.dumps(card)}, "variables": {{"c": {objects}}}}}'
        cases.append(raw(f"variables: object {depth} deep", body.encode()))
    for depth in (50, 1500, 100_000):
        body = f'{{"query": "{{ __typename }}", "extensions": {{"x": {"[" * depth}{"]" * depth}}}}}'
        # Extensions nobody reads: harmless while the JSON parses.
        cases.append(raw(f"extensions {depth} deep", body.encode(), may_succeed=depth < 1000))
    # The same in the URL of a GET (httpx refuses URLs over 64 KiB).
    for depth in (50, 1500, 3000):
        lists = '{"s": ' + "[" * depth + "]" * depth + "}"
        objects = '{"a": ' * depth + "1" + "}" * depth
        shallow = depth < 1000  # an unused variable or extensions: harmless
        cases += [
            get(f"GET variables: list {depth} deep", {"query": statuses, "variables": lists}),
            get(f"GET variables: object {depth} deep", {"query": statuses, "variables": objects}, may_succeed=shallow),
            get(f"GET extensions {depth} deep", {"query": VALID_QUERY, "extensions": objects}, may_succeed=shallow),
            get(f"GET variables: {depth} open brackets", {"query": VALID_QUERY, "variables": "[" * depth}),
        ]
    return cases


def alias_bombs() -> list[Case]:
    cases: list[Case] = []
    for count in (31, 100, 300, 600, 1000):
        aliases = " ".join(f"a{i}: productId" for i in range(count))
        cases.append(gql(f"{count} aliases", f"{{ products {{ {aliases} }} }}"))
    for count in (11, 20, 50):
        roots = " ".join(f"p{i}: products {{ productId }}" for i in range(count))
        cases.append(gql(f"{count} aliased root fields", f"{{ {roots} }}"))
    cases.append(gql("11 root fields without aliases", "{ " + "__typename " * 11 + "}", may_succeed=True))
    for levels in (5, 20, 60):
        doubling = " ".join(f"fragment F{k} on Product {{ ...F{k - 1} ...F{k - 1} }}" for k in range(1, levels + 1))
        aliased = f"fragment F0 on Product {{ a: name b: productId c: selfService }} {doubling}"
        plain = f"fragment F0 on Product {{ name productId }} {doubling}"
        cases += [
            gql(f"aliases doubled through {levels} fragments", f"{{ products {{ ...F{levels} }} }} {aliased}"),
            gql(f"aliases doubled through {levels} unused fragments", f"{{ __typename }} {aliased}"),
            # Without aliases nothing multiplies: fields merge, fragments are collected once.
            gql(
                f"fields doubled through {levels} fragments",
                f"{{ products {{ ...F{levels} }} }} {plain}",
                may_succeed=True,
            ),
        ]
    for spreads in (40, 300, 900):
        body = " ".join(["...F"] * spreads)
        cases += [
            gql(
                f"aliased fragment spread {spreads} times",
                f"{{ products {{ {body} }} }} fragment F on Product {{ a: name }}",
            ),
            gql(
                f"plain fragment spread {spreads} times",
                f"{{ products {{ {body} }} }} fragment F on Product {{ name }}",
                may_succeed=True,
            ),
        ]
    conflicting = " ".join(f'prices(market: "{i}") {{ market }}' for i in range(150))
    cases += [
        gql("same field 1900 times", "{ products { " + "name " * 1900 + "} }", may_succeed=True),
        gql("same field, 150 conflicting arguments", f"{{ products {{ {conflicting} }} }}"),
        gql("alias shadowing a field with another type", "{ products { productId: selfService productId } }"),
        gql("600 skip directives", "{ products { productId " + "@skip(if: false) " * 600 + "} }"),
        gql("300 unused variables", "query Q(" + " ".join(f"$v{i}: Int" for i in range(300)) + ") { __typename }"),
        gql(
            "600 unused fragments", "{ __typename } " + " ".join(f"fragment F{i} on Query {{ x }}" for i in range(600))
        ),
        gql(
            "300 operations",
            " ".join(f"query Q{i} {{ __typename }}" for i in range(300)),
            operation_name="Q299",
            may_succeed=True,
        ),
    ]
    return cases


def fragment_cycles() -> list[Case]:
    long_cycle = " ".join(f"fragment F{k} on Query {{ ...F{(k + 1) % 100} }}" for k in range(100))
    documents = {
        "self cycle": "{ ...A } fragment A on Query { ...A }",
        "two-cycle": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "100-cycle": "{ ...F0 } " + long_cycle,
        "unused cycle": "{ __typename } fragment A on Query { ...B } fragment B on Query { ...A }",
        "cycle through an inline fragment": "{ ...A } fragment A on Query { ... on Query { ...A } }",
        "cycle through fields": "{ viewer { ...A } } fragment A on Viewer { homeTenant { ...B } }"
        " fragment B on Tenant { ...C } fragment C on Tenant { ...B }",
        "cycle with aliases": "{ ...A } fragment A on Query { x: __typename ...B }"
        " fragment B on Query { y: __typename ...A }",
        "undefined fragment": "{ ...Missing }",
        "fragment on unknown type": "{ ...A } fragment A on Nope { __typename }",
        "fragment on a scalar": "{ ...A } fragment A on String { __typename }",
        "fragment on an impossible type": "{ products { ...A } } fragment A on Tenant { name }",
        "duplicate fragment names": "{ ...A } fragment A on Query { __typename } fragment A on Query { __typename }",
        "inline fragment on an unknown type": "{ ... on Nope { __typename } }",
        "only fragments": "fragment A on Query { __typename }",
        "type definition": "type Foo { a: Int }",
        "schema definition": "schema { query: Query }",
        "type extension": "extend type Query { secret: String }",
        "subscription": "subscription { __typename }",
        "anonymous and named operations": "{ __typename } query Q { __typename }",
        "duplicate operation names": "query Q { __typename } query Q { __typename }",
        "duplicate variables": "query Q($a: Int, $a: Int) { __typename }",
        "undefined variable": "{ products(market: $m) { productId } }",
        "unused variable": "query Q($m: String) { __typename }",
        "variable of an output type": "query Q($t: Tenant) { __typename }",
        "variable of an unknown type": "query Q($t: Nope) { __typename }",
        "variable default of the wrong type": "query Q($m: String = 5) { products(market: $m) { productId } }",
        "variable in the wrong position": "query Q($id: Int) { node(id: $id) { id } }",
        "unknown directive": "{ __typename @nope }",
        "defer directive": "{ ... @defer { __typename } }",
        "stream directive": "{ products @stream { productId } }",
        "skip without if": "{ __typename @skip }",
        "skip with a string": '{ __typename @skip(if: "yes") }',
        "directive in the wrong place": "query Q @skip(if: true) { __typename }",
        "deprecated directive on a field": '{ __typename @deprecated(reason: "x") }',
    }
    return [gql(f"document: {name}", text) for name, text in documents.items()]


def unknown_fields() -> list[Case]:
    documents = {
        "unknown root field": "{ nope }",
        "unknown field on the viewer": "{ viewer { password } }",
        "sql in a field name": "{ products { productId_or_1_eq_1 } }",
        "field on a scalar": "{ products { productId { length } } }",
        "object without selection": "{ products }",
        "empty document": "",
        "unknown argument": "{ products(nope: 1) { productId } }",
        "unknown argument on a field without arguments": '{ viewer(id: "x") { user { displayName } } }',
        "duplicate argument": '{ products(market: "US", market: "GB") { productId } }',
        "missing required argument": "{ tenant { name } }",
        "null for a required argument": "{ tenant(id: null) { name } }",
        "int for a string": "{ products(market: 5) { productId } }",
        "object for a string": "{ products(market: {a: 1}) { productId } }",
        "list for an id": '{ node(id: ["a"]) { id } }',
        "boolean for an id": "{ node(id: true) { id } }",
        "unknown enum value": '{ tenant(id: "x") { subscriptions(channel: NOPE) { totalCount } } }',
        "string for an enum": '{ tenant(id: "x") { subscriptions(channel: "CENTRAL_ONLY") { totalCount } } }',
        "int beyond 32 bits": "{ viewer { notifications(first: 2147483648) { nodes { kind } } } }",
        "float for an int": "{ viewer { notifications(first: 1.0) { nodes { kind } } } }",
        "page size 101": '{ tenant(id: "x") { users(first: 101) { totalCount } } }',
        "page size 2^31-1": '{ tenant(id: "x") { users(first: 2147483647) { totalCount } } }',
        "cost bomb": '{ tenant(id: "x") { subscriptions(first: 100) { nodes { orders(first: 100) { nodes {'
        " subscription { invoices(first: 100) { nodes { id } } } } } } } } }",
        "fields on an interface without fragment": '{ node(id: "x") { name } }',
        "mutation field in a query": '{ cancelSubscription(subscriptionId: "x") { userErrors { code } } }',
        "unknown mutation": "mutation { dropAllTables }",
        "mutation without required argument": "mutation { cancelSubscription { userErrors { code } } }",
        "mutation with a bad input object": "mutation { addPaymentMethod(card: {number: 1}) { userErrors { code } } }",
        "mutation with unknown input field": 'mutation { addPaymentMethod(card: {number: "4242", expMonth: 1,'
        ' expYear: 2030, cvc: "1", admin: true}) { userErrors { code } } }',
        "unterminated string": '{ products(market: "US) { productId } }',
        "unterminated block string": '{ products(market: """US) { productId } }',
        "lone surrogate escape": '{ products(market: "\\ud800") { productId } }',
        "invalid escape": '{ products(market: "\\q") { productId } }',
        "punctuation soup": "{ ( [ ] ) } ! $ & | @ = :",
        "nul character": "{ products\x00 { productId } }",
        "bom in the document": "\ufeff{ nope }",
        "unicode letters": "{ prödücts { productId } }",
        "sql injection": '{ products(market: "\' OR 1=1 --") { productId } } ; DROP TABLE tenants',
        "json instead of graphql": '{"products": {"productId": true}}',
    }
    cases = [gql(f"document: {name}", text) for name, text in documents.items()]
    cases += [
        gql("unknown field, legacy accept", "{ nope }", accept=JSON),
        gql("unknown field, no accept", "{ nope }", accept=None),
        gql("parse error, accept anything", "{", accept="*/*"),
        gql("introspection in development", "{ __schema { queryType { name } } }", may_succeed=True),
        gql("typename only", "{ __typename }", may_succeed=True),
        # graphql-core 3.3 parses an empty selection set (the spec's grammar does not allow one).
        gql("empty selection set", "{ products { } }", may_succeed=True),
        gql("sql injection in an argument", "{ products(market: \"' OR '1'='1\") { productId } }", may_succeed=True),
        gql("like wildcards in an argument", '{ products(market: "%_\\\\") { productId } }', may_succeed=True),
        gql("nul in an argument", '{ products(market: "\\u0000") { productId } }', may_succeed=True),
        gql(
            "astral character in an argument", '{ products(market: "\\ud83e\\udd84") { productId } }', may_succeed=True
        ),
    ]
    return cases


def invalid_variables(admin: str) -> list[Case]:
    statuses = 'query Q($s: [SubscriptionStatus!]) { tenant(id: "x") { subscriptions(status: $s) { totalCount } } }'
    required = "query Q($id: ID!) { tenant(id: $id) { name } }"
    first = "query Q($n: Int) { viewer { notifications(first: $n) { nodes { kind } } } }"
    card = "mutation M($c: CardInput!) { addPaymentMethod(card: $c) { userErrors { code } } }"
    channel = 'query Q($c: ChannelFilter!) { tenant(id: "x") { subscriptions(channel: $c) { totalCount } } }'
    page = 'query Q($n: Int) { tenant(id: "x") { users(first: $n) { totalCount } } }'
    good_card = {"number": "4242424242424242", "expMonth": 1, "expYear": 2030, "cvc": "123"}
    bad: list[tuple[str, str, object]] = [
        ("missing required", required, {}),
        ("null for required", required, {"id": None}),
        ("object for ID", required, {"id": {"a": 1}}),
        ("list for ID", required, {"id": ["a"]}),
        ("float for ID", required, {"id": 1.5}),
        ("string for Int", first, {"n": "5"}),
        ("float for Int", first, {"n": 5.5}),
        ("2^31 for Int", first, {"n": 2**31}),
        ("10^300 for Int", first, {"n": 10**300}),
        ("inf for Int", first, {"n": float("inf")}),
        ("nan for Int", first, {"n": float("nan")}),
        ("unknown enum value", statuses, {"s": ["NOPE"]}),
        ("null in a non-null list item", statuses, {"s": [None]}),
        ("object for an enum list", statuses, {"s": {"ACTIVE": True}}),
        ("missing required enum", channel, {}),
        ("number for an enum", channel, {"c": 0}),
        ("page size 101", page, {"n": 101}),
        ("page size 10^30", page, {"n": 10**30}),
        # Mutations whose variables cannot fit: refused before anything runs.
        ("missing card fields", card, {"c": {}}),
        ("card of the wrong types", card, {"c": {"number": 4242, "expMonth": "1", "expYear": [], "cvc": None}}),
        ("card with junk fields", card, {"c": good_card | {"admin": True}}),
        ("card as a string", card, {"c": "4242424242424242"}),
        ("card as a list", card, {"c": [good_card]}),
        ("card month beyond 32 bits", card, {"c": good_card | {"expMonth": 2**40}}),
        ("proto pollution", card, {"c": {"__proto__": {"admin": True}, "constructor": {}}}),
    ]
    cases = [gql(f"variables: {name}", query, variables) for name, query, variables in bad]
    literal = (
        b'{"query": "query Q($n: Int) { viewer { notifications(first: $n) { nodes { kind } } } }", "variables": {"n": '
    )
    cases += [
        raw("variables: 1e400 literal", literal + b"1e400}}"),
        raw("variables: 5000 digit integer", literal + b"9" * 5000 + b"}}"),
        gql("variables: missing required, legacy accept", required, {}, accept=JSON),
        gql("variables: extra junk is ignored", VALID_QUERY, {"a": 1, "b": [None], "c": {"d": "e"}}, may_succeed=True),
    ]
    # An admin's own tenant, where the arguments reach the resolvers and SQL: refused or harmless.
    users = (
        "query Q($id: ID!, $n: Int, $l: Int, $after: String, $before: String, $search: String) {"
        " tenant(id: $id) { users(first: $n, last: $l, after: $after, before: $before, search: $search) {"
        " totalCount nodes { displayName } } } }"
    )
    reaching: list[tuple[str, dict[str, object]]] = [
        ("first -1", {"n": -1}),
        ("last -5", {"l": -5}),
        ("first and last", {"n": 1, "l": 1}),
        ("junk cursor", {"after": "junk"}),
        ("empty cursor", {"after": ""}),
        ("cursor of another API", {"after": _b64("offset:5")}),
        ("row-number cursor of the old format", {"after": _b64("cursor:5")}),
        ("cursor of another order", {"after": _keyset("Subscription:+CREATED_AT,+ID", NOON, NIL)}),
        ("cursor without its id", {"after": _keyset(USERS, "Ann")}),
        ("cursor with a key too many", {"after": _keyset(USERS, "Ann", NIL, NIL)}),
        ("cursor with a number for a name", {"after": _keyset(USERS, 5, NIL)}),
        ("cursor with a null key", {"before": _keyset(USERS, None, NIL)}),
        ("cursor with nul in the name", {"after": _keyset(USERS, "a\u0000b", NIL)}),
        ("cursor with an id that is not a uuid", {"after": _keyset(USERS, "Ann", "x' OR '1'='1")}),
        ("cursor with an id not spelled as issued", {"after": _keyset(USERS, "Ann", NIL.upper().replace("-", ""))}),
        ("cursor with a 5000 character name", {"after": _keyset(USERS, "9" * 5000, NIL)}),
        ("cursor that is a JSON object", {"after": _b64(json.dumps({"sig": USERS}))}),
        ("arabic digit cursor", {"after": _b64("cursor:\u0661\u0662")}),
        ("utf-16 cursor", {"after": base64.b64encode(json.dumps([USERS, "Ann", NIL]).encode("utf-16")).decode()}),
        ("nul cursor", {"after": "\u0000"}),
        ("surrogate cursor", {"after": "\ud800"}),
        ("search with nul", {"search": "a\u0000b"}),
        ("search with like wildcards", {"search": "%_\\"}),
        ("search with a lone surrogate", {"search": "\udfff"}),
        ("search of 100 KiB", {"search": "x" * 100 * KIB}),
    ]
    for name, variables in reaching:
        cases.append(
            gql(
                f"as an admin: users, {name}",
                users,
                {"id": str(CONTOSO)} | variables,
                token=admin,
                may_succeed=True,
            )
        )
    markets = "query Q($m: String) { products(market: $m) { productId } }"
    for market in ("\u0000", "\ud800", "x" * 100 * KIB, "%", "US' OR '1'='1"):
        cases.append(gql(f"products in market {market[:10]!r}", markets, {"m": market}, may_succeed=True))
    eligibility = "query Q($p: ID!) { viewer { eligibility(productId: $p) { eligible reasons } } }"
    for product in ("\u0000", "\ud800", "", "x" * 10 * KIB, _b64("Product::\u0000")):
        name = f"as an admin: eligibility of {product[:10]!r}"
        cases.append(gql(name, eligibility, {"p": product}, token=admin, may_succeed=True))
    return cases


def forged_ids(rng: random.Random, member: str) -> list[Case]:
    """Junk and forged global ids: `node` and `tenant` answer null, or refuse the document."""
    types = ["User", "Subscription", "Order", "Invoice", "PaymentMethod", "LicenseRequest", "Tenant", "Nope", ""]
    ids: list[str] = [
        "",
        " ",
        "null",
        "-1",
        "../../etc/passwd",
        "' OR 1=1 --",
        '"; DROP TABLE tenants; --',
        "%00",
        "\u0000",
        "\ud800",
        "🦄" * 50,
        "A" * 10_000,
        "=" * 64,
        "\\",
        str(CONTOSO),
        str(uuid.UUID(int=0)),
        _b64(""),
        _b64("::"),
        _b64(":::"),
        _b64("User::"),
        _b64("User::not-a-uuid"),
        _b64(f"User::{WILL}"),
        _b64(f"User:{WOODGROVE}:{WILL}"),
        _b64(f"User:{CONTOSO}:{WILL}"),
        _b64(f"Tenant::{CONTOSO}"),
        _b64(f"Tenant:{CONTOSO}:{CONTOSO}"),
        _b64(f"Subscription:not-a-uuid:{uuid.UUID(int=1)}"),
        _b64(f"Subscription:{CONTOSO}:" + "x" * 1000),
        _b64(f"Nope::{uuid.UUID(int=2)}"),
        _b64("__proto__::x"),
        _b64(f"User:{CONTOSO}:{PAULA}\u0000"),
        _b64(f"Tenant::{CONTOSO}\u0000"),
        _b64("User:\u0000:x"),
        _b64(f"User:{{{CONTOSO}}}:{WILL}"),
        _b64(f"User:{CONTOSO.hex}:{WILL.hex}"),
        _b64("Product::\u0000"),
        _b64("Product::\ud800"),
        _b64("Product::" + "x" * 5000),
        _b64("Product::%"),
        base64.b64encode(f"User:{WOODGROVE}:{WILL}".encode()).decode(),  # the standard alphabet, padded
        _b64(f"User:{WOODGROVE}:{WILL}") + "====",
        _b64(f"User:{WOODGROVE}:{WILL}".encode("utf-16").decode("latin-1")),
    ]
    ids += ["".join(rng.choice(string.printable) for _ in range(rng.randint(1, 64))) for _ in range(4)]
    ids += [base64.urlsafe_b64encode(rng.randbytes(rng.randint(1, 96))).decode() for _ in range(3)]
    for _ in range(4):
        tenant = rng.choice([str(CONTOSO), str(WOODGROVE), str(uuid.UUID(int=rng.getrandbits(128))), "", "x"])
        ids.append(_b64(f"{rng.choice(types)}:{tenant}:{uuid.UUID(int=rng.getrandbits(128))}"))
    cases: list[Case] = []
    for index, value in enumerate(ids):
        label = f"forged id #{index} {value[:24]!r}"
        # Products are public, so a forged Product id may reach one; nothing else may.
        node_null = None if value.startswith(_b64("Product::")[:10]) else "node"
        form = index % 3
        if form == 0:
            document = f"{{ node(id: {_gql_string(value)}) {{ id __typename }} }}"
            cases.append(gql(f"node(id:) literal, {label}", document, may_succeed=True, null_field=node_null))
        elif form == 1:
            document = "query Q($id: ID!) { node(id: $id) { id } }"
            cases.append(
                gql(f"node(id:) variable, {label}", document, {"id": value}, may_succeed=True, null_field=node_null)
            )
        else:
            document = "query Q($id: ID!) { tenant(id: $id) { name } }"
            cases.append(
                gql(f"tenant(id:) variable, {label}", document, {"id": value}, may_succeed=True, null_field="tenant")
            )
    # As a Contoso member: another tenant's objects are out of reach, whatever the id claims.
    foreign_nodes = [
        _b64(f"User:{WOODGROVE}:{WILL}"),
        _b64(f"User:{CONTOSO}:{WILL}"),
        _b64(f"Tenant::{WOODGROVE}"),
        _b64(f"Tenant:{CONTOSO}:{WOODGROVE}"),
        _b64(f"Subscription:{WOODGROVE}:{uuid.UUID(int=3)}"),
        _b64(f"User::{WILL}"),
    ]
    for value in foreign_nodes:
        document = "query Q($id: ID!) { node(id: $id) { id } }"
        cases.append(
            gql(
                f"as a member: node {value[:24]}",
                document,
                {"id": value},
                token=member,
                may_succeed=True,
                null_field="node",
            )
        )
    for value in (str(WOODGROVE), _b64(f"Tenant::{WOODGROVE}"), WOODGROVE.hex, "{" + str(WOODGROVE).upper() + "}"):
        document = "query Q($id: ID!) { tenant(id: $id) { name } }"
        cases.append(
            gql(
                f"as a member: tenant {value[:24]}",
                document,
                {"id": value},
                token=member,
                may_succeed=True,
                null_field="tenant",
            )
        )
    by_variable = "query Q($id: ID!) { node(id: $id) { id } }"
    cases += [
        gql("node(id:) with an int literal", "{ node(id: 5) { id } }", may_succeed=True, null_field="node"),
        gql("node(id:) with a null literal", "{ node(id: null) { id } }"),
        gql("node(id:) of a Product with a nul key", by_variable, {"id": _b64("Product::\u0000")}, may_succeed=True),
        gql(
            "node(id:) of a Product with a 5000 char key",
            by_variable,
            {"id": _b64("Product::" + "x" * 5000)},
            may_succeed=True,
        ),
        gql("node(id:) with 2^70", by_variable, {"id": 2**70}, may_succeed=True, null_field="node"),
    ]
    return cases


def mutations_over_get() -> list[Case]:
    docs = [
        MUTATION,
        'mutation M { startTrial(productId: "CFQ7TTC0H9MP") { userErrors { code } } }',
        'mutation { addPaymentMethod(card: {number: "4242424242424242", expMonth: 1, expYear: 2030, cvc: "123"})'
        " { userErrors { code } } }",
        "mutation { __typename }",
        "  \n  mutation{__typename}",
        "# a comment first\nmutation { __typename }",
    ]
    cases = [get(f"mutation over GET #{i}", {"query": doc}) for i, doc in enumerate(docs)]
    both = "query Q { __typename } mutation M { __typename }"
    reactivate = "mutation M($id: ID!) { reactivateSubscription(subscriptionId: $id) { userErrors { code } } }"
    cases += [
        get("GET picking the mutation of two", {"query": both, "operationName": "M"}),
        get("GET mutation with variables", {"query": reactivate, "variables": '{"id": "x"}'}),
        get("GET mutation, legacy accept", {"query": MUTATION}, accept=JSON),
        get("GET mutation with a token", {"query": MUTATION}, authorization="Bearer junk"),
        get("GET picking the query of two", {"query": both, "operationName": "Q"}, may_succeed=True),
        get("GET with neither named", {"query": both}),
    ]
    return cases


def operation_names() -> list[Case]:
    two = "query A { __typename } query B { __typename }"
    named = "query A { __typename }"
    return [
        gql("operationName not in the document", named, operation_name="B"),
        gql("operationName with the wrong case", named, operation_name="a"),
        gql("empty operationName", named, operation_name=""),
        gql("operationName for an anonymous operation", "{ __typename }", operation_name="A"),
        gql("no operationName with two operations", two),
        gql("operationName of a fragment", f"{named} fragment F on Query {{ __typename }}", operation_name="F"),
        gql("operationName with a lone surrogate", named, operation_name="\ud800"),
        gql("operationName with nul", named, operation_name="A\u0000"),
        gql("operationName with html", named, operation_name="<img src=x onerror=alert(1)>"),
        gql("operationName not in the document, legacy accept", named, operation_name="B", accept=JSON),
        get("GET operationName not in the document", {"query": named, "operationName": "B"}),
        get("GET variables not JSON", {"query": named, "variables": "{"}),
        get("GET variables an array", {"query": named, "variables": "[1]"}),
        get("GET variables a string", {"query": named, "variables": '"x"'}),
        get("GET variables NaN", {"query": named, "variables": "NaN"}),
        get("GET extensions not JSON", {"query": named, "extensions": "nope"}),
        get("GET without query", {"operationName": "A"}),
        get("GET with empty query", {"query": ""}),
        get("GET with a junk query string", "%%%&&&===;;"),
        get("GET with bad percent escapes", "query=%ZZ%G1%"),
        get("GET with invalid utf-8 escapes", "query=%ff%fe%00"),
    ]


def tokens() -> list[Case]:
    body = json.dumps({"query": VIEWER_QUERY}).encode()
    now = int(time.time())
    claims = user_token_claims(
        user_id=PAULA, tenant_id=CONTOSO, issuer=DEV_ISSUER, audience=DEFAULT_AUDIENCE, ttl_seconds=600
    )
    good = _token()
    head, payload, signature = good.split(".")
    headers: list[tuple[str, str | bytes]] = [
        ("empty", ""),
        ("Bearer", "Bearer"),
        ("Bearer space", "Bearer "),
        ("leading space", " Bearer abc"),
        ("tab separator", "Bearer\tabc"),
        ("Basic", "Basic dXNlcjpwYXNz"),
        ("garbage", "Bearer not-a-jwt"),
        ("three junk parts", "Bearer a.b.c"),
        ("bytes", b"Bearer \xff\xfe\xfd"),
        ("nul", b"Bearer a\x00b"),
        ("alg none, empty", "Bearer eyJhbGciOiJub25lIn0.e30."),
        ("alg none, real claims", "Bearer " + jwt.encode(claims, "", algorithm="none")),
        ("wrong secret", "Bearer " + jwt.encode(claims, "another-secret-that-is-long-enough-0123", algorithm="HS256")),
        ("HS512 with the secret", "Bearer " + jwt.encode(claims, SECRET, algorithm="HS512")),
        (
            "ES256 with a stranger's key",
            "Bearer " + jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256"),
        ),
        ("expired", "Bearer " + _token(exp=now - 3600)),
        ("not yet valid", "Bearer " + _token(nbf=now + 3600)),
        ("issued in the future", "Bearer " + _token(iat=now + 3600)),
        ("without exp", "Bearer " + _token(exp=None)),
        ("exp a string", "Bearer " + _token(exp="soon")),
        ("exp nan", "Bearer " + _token(exp=float("nan"))),
        ("iat a list", "Bearer " + _token(iat=[1])),
        ("oid not a uuid", "Bearer " + _token(oid="not-a-uuid")),
        ("oid an int", "Bearer " + _token(oid=5)),
        ("tid a list", "Bearer " + _token(tid=[str(CONTOSO)])),
        ("without oid", "Bearer " + _token(oid=None)),
        ("without tid", "Bearer " + _token(tid=None)),
        ("wrong issuer", "Bearer " + _token(iss="https://evil.example")),
        ("wrong audience", "Bearer " + _token(aud="someone-else")),
        ("unknown user", "Bearer " + _token(oid=str(uuid.UUID(int=7)))),
        ("user in the wrong tenant", "Bearer " + _token(tid=str(WOODGROVE))),
        (
            "jku header",
            "Bearer "
            + jwt.encode(claims | {"oid": "x"}, SECRET, algorithm="HS256", headers={"jku": "http://evil.example/keys"}),
        ),
        ("crit header", "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256", headers={"crit": ["exp"]})),
        ("signature stripped", f"Bearer {head}.{payload}."),
        ("signature of another token", f"Bearer {head}.{_token(oid=str(WILL)).split('.')[1]}.{signature}"),
        ("payload not JSON", f"Bearer {head}.{_b64('{not json')}.{signature}"),
        ("header not JSON", f"Bearer {_b64('{')}.{payload}.{signature}"),
        ("two tokens", f"Bearer {good} {good}"),
        ("200 KiB token", "Bearer " + "a" * 200 * KIB + ".b.c"),
    ]
    cases = [raw(f"authorization: {name}", body, authorization=value) for name, value in headers]
    cases += [
        raw("authorization twice", body, extra=[("Authorization", "Bearer junk"), ("Authorization", f"Bearer {good}")]),
        raw("valid token, broken JSON", b"{", authorization=f"Bearer {good}"),
        raw("valid token, unknown field", json.dumps({"query": "{ nope }"}).encode(), authorization=f"Bearer {good}"),
        raw("valid token, text/plain", body, authorization=f"Bearer {good}", content_type="text/plain"),
        raw("expired token, legacy accept", body, authorization="Bearer " + _token(exp=now - 3600), accept=JSON),
        # Tokens we signed, with odd but harmless extras: accepted.
        raw("lower-case scheme, valid token", body, authorization=f"bearer {good}", may_succeed=True),
        raw("exp 10^30", body, authorization="Bearer " + _token(exp=10**30), may_succeed=True),
        raw("100 KiB of extra claims", body, authorization="Bearer " + _token(junk="x" * 100 * KIB), may_succeed=True),
        raw(
            "junk kid",
            body,
            authorization="Bearer " + jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "../../dev/null"}),
            may_succeed=True,
        ),
        raw(
            "audience list with ours",
            body,
            authorization="Bearer " + _token(aud=["x", DEFAULT_AUDIENCE]),
            may_succeed=True,
        ),
        raw("cookie instead of a token", body, extra=[("Cookie", f"token={good}; session=abc")], may_succeed=True),
    ]
    return cases


# ---------------------------------------------------------------------------------------------
# Hypothesis: values drawn deterministically (derandomized, no example database), then sent.

QUERY_TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "=",
    "!",
    "$id",
    "$n",
    "...",
    "on",
    "Query",
    "Product",
    "fragment",
    "F",
    "query",
    "mutation",
    "subscription",
    "products",
    "productId",
    "name",
    "viewer",
    "user",
    "node",
    "tenant",
    "id",
    '"x"',
    "1",
    "-1",
    "1.5",
    "true",
    "null",
    "__typename",
    "__schema",
    "types",
    "a:",
    "|",
    "&",
    "#c\n",
    '"""b"""',
    ",",
    "@skip(if: true)",
    "@include",
    "é",
    "market:",
    "ID!",
    "Int",
    "first:",
    "\u0000",
    '"',
    "\\",
]
REQUEST_KEYS = ["query", "variables", "operationName", "extensions"]

json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(REQUEST_KEYS) | st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
query_ish = st.lists(st.sampled_from(QUERY_TOKENS), max_size=40).map(" ".join)
request_shaped = st.fixed_dictionaries(
    {"query": query_ish},
    optional={
        "variables": st.dictionaries(st.sampled_from(["id", "n"]) | st.text(max_size=5), json_values, max_size=4),
        "operationName": st.none() | st.sampled_from(["Q", "F", ""]) | st.text(max_size=10),
        "extensions": json_values,
    },
)
typed_variables = st.dictionaries(
    st.sampled_from(["id", "n", "s", "c", "after"]) | st.text(max_size=6), json_values, max_size=5
)
id_values = st.text(max_size=60) | st.binary(max_size=80).map(lambda b: base64.urlsafe_b64encode(b).decode())
get_params = st.dictionaries(st.sampled_from(REQUEST_KEYS) | st.text(max_size=8), st.text(max_size=60), max_size=4)


def drawn_cases() -> list[Case]:
    typed = (
        "query Q($id: ID!, $n: Int, $s: [SubscriptionStatus!], $c: ChannelFilter! = CENTRAL_ONLY, $after: String) {"
        " tenant(id: $id) { subscriptions(first: $n, status: $s, channel: $c, after: $after) { totalCount } } }"
    )
    by_id = "query Q($id: ID!) { node(id: $id) { id } }"
    return [
        *(raw(f"hypothesis: binary body #{i}", body) for i, body in enumerate(drawn(st.binary(max_size=300), 10))),
        *(raw(f"hypothesis: text body #{i}", text.encode()) for i, text in enumerate(drawn(st.text(max_size=200), 8))),
        *(post(f"hypothesis: JSON body #{i}", value) for i, value in enumerate(drawn(json_values, 10))),
        *(post(f"hypothesis: request #{i}", v, may_succeed=True) for i, v in enumerate(drawn(request_shaped, 14))),
        *(gql(f"hypothesis: query-ish #{i}", q, may_succeed=True) for i, q in enumerate(drawn(query_ish, 10))),
        *(
            gql(f"hypothesis: variables #{i}", typed, v, may_succeed=True, null_field="tenant")
            for i, v in enumerate(drawn(typed_variables, 8))
        ),
        *(
            gql(f"hypothesis: node id #{i}", by_id, {"id": v}, may_succeed=True, null_field="node")
            for i, v in enumerate(drawn(id_values, 5))
        ),
        *(get(f"hypothesis: GET #{i}", params, may_succeed=True) for i, params in enumerate(drawn(get_params, 5))),
    ]


def corpus() -> list[Case]:
    rng = random.Random(SEED)  # noqa: S311 - a reproducible corpus, not a secret
    member = token_for(PAULA_UPN, "contoso.example")
    admin = token_for("alex.admin@contoso.example", "contoso.example")
    return [
        *malformed_bodies(),
        *wrong_shapes(),
        *content_types(),
        *methods(),
        *accept_headers(),
        *huge(),
        *deep(),
        *alias_bombs(),
        *fragment_cycles(),
        *unknown_fields(),
        *invalid_variables(admin),
        *forged_ids(rng, member),
        *mutations_over_get(),
        *operation_names(),
        *tokens(),
        *drawn_cases(),
    ]


def strings_in(value: object) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
