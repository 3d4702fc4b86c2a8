"""Property: whatever a caller sends to a mutation, the gateway answers it cleanly and audits it.

Hypothesis draws a mutation of the schema (every one, read from the schema itself, so a new
mutation is covered the day it is added), its arguments typed as the schema says but filled
with what attackers send (odd unicode, lone surrogates, control characters, empty and huge
strings, ids of the wrong type, foreign and forged ids, dates at the ends of the calendar, ints
at the ends of int32), and a caller (anonymous, or a demo user of any kind). Each goes over
HTTP through the app with its lifespan running, and for each:

- no 5xx, and no INTERNAL_SERVER_ERROR anywhere in the body;
- a mutation that ran for a signed-in caller left exactly one audit row (found by the client
  request id the request carried): refused with the payload's codes, or accepted; one that ran
  for an anonymous caller left none.

Some arguments are drawn of the wrong JSON type altogether (a number for a string, an object for
an ID, NaN, integers past any range): coercion must refuse them as BAD_VARIABLES. Reads are drawn
too, over GET and POST: every connection's page arguments and filters, with cursors of this API's
format around any number and forged ones, and objects by ids of every kind.

The database is one of its own, created on the session's server, migrated and seeded by the
app: some drawn mutations are valid and commit, which the session's database must not see.
The examples are drawn once the app has seeded, derandomized: the same on every run.
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from hypothesis import strategies as st

from purchasegraph.app import create_app
from purchasegraph.db import ordering as sortables
from purchasegraph.demo.actors import (
    ALEX,
    CONTOSO_ID,
    DANA,
    GUS,
    OLGA,
    PAULA,
    PETE,
    SAM,
    WILL,
    WOODGROVE_ID,
    demo_id,
    demo_tenant_id,
    demo_user_id,
)
from purchasegraph.schema import build_schema
from purchasegraph.schema.ids import encode_id
from tests.drawing import drawn
from tests.settings import gateway_settings
from tests.test_http import token_for

EXAMPLES = 400
# Ids of every kind sent to the fields that look objects up by id.
READS = 300
READ_BY_ID = "query Drawn($id: ID!) { node(id: $id) { id } tenant(id: $id) { name } }"
# Every connection, its page arguments and its filters, as one read of the caller's tenant (or any).
PAGE = "first: $first, last: $last, after: $after, before: $before"
READ_PAGES = f"""
query Drawn($tenant: ID!, $id: ID!, $first: Int, $last: Int, $after: String, $before: String,
            $text: String, $someone: ID, $statuses: [SubscriptionStatus!]) {{
  tenant(id: $tenant) {{
    subscriptions({PAGE}, productId: $text, purchaserId: $someone, status: $statuses) {{
      nodes {{ id orders({PAGE}) {{ nodes {{ id }} }} invoices({PAGE}) {{ nodes {{ id }} }} }}
      pageInfo {{ endCursor hasNextPage }}
    }}
    purchases({PAGE}, productId: $text, purchaserId: $someone) {{ nodes {{ subscription {{ id }} }} }}
    assignments({PAGE}, productId: $text, userId: $someone) {{ nodes {{ id }} }}
    users({PAGE}, search: $text) {{ nodes {{ id }} }}
    licenseRequests({PAGE}) {{ nodes {{ id }} }}
    auditEvents({PAGE}) {{ nodes {{ action }} }}
  }}
  node(id: $id) {{
    ... on Subscription {{ assignments({PAGE}) {{ edges {{ cursor node {{ id }} }} }} }}
  }}
  products(market: $text) {{ productId }}
}}
"""
T = TypeVar("T")

SCHEMA = build_schema()._schema
assert SCHEMA.mutation_type is not None
MUTATIONS = dict(sorted(SCHEMA.mutation_type.fields.items()))

# Hypothesis leans towards the first of a list: the callers who own most of the demo world.
CALLERS: list[str | None] = [PAULA, ALEX, PETE, SAM, "bea.billing@contoso.example", DANA, GUS, OLGA, WILL, None]
CALLERS.append("pat.partner@adatum-partners.example")

# Objects of the demo world, by type; each also appears under the wrong type names below.
SUBSCRIPTIONS = [
    demo_id(f"subscription:{label}")
    for label in (
        "paula-power-bi-pro",
        "dana-power-bi-premium",
        "sam-visio-plan-2-disabled",
        "pete-power-automate-rpa-deleted",
        "pete-project-plan-3-expired",
    )
]
USERS = [demo_user_id(upn) for upn in (PAULA, PETE, ALEX, DANA, GUS, "lee.licensed@contoso.example")]
TYPE_NAMES = ["Subscription", "User", "Invoice", "PaymentMethod", "LicenseRequest", "Order", "Tenant", "Product"]
PRODUCT_KEYS = ["CFQ7TTC0H9MP", "CFQ7TTC0HD33", "CFQ7TTC0HDB0", "CFQ7TTC0LH2H"]

# Strings as attackers write them: every plane, surrogates and control characters included.
ANY_CHARACTER = st.characters(codec=None, categories=None)
ODD_TEXT = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.text(st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp", "Mn"]), min_size=1, max_size=12),
    st.sampled_from(["", " ", "\u202e", "null", "0", "-1", "%", "_", "\\", "'; --", "a" * 255, "a" * 256]),
    st.sampled_from([1_000, 5_000, 150_000]).map(lambda n: "x" * n),
    st.sampled_from([500, 20_000]).map(lambda n: "\U0001f600" * n),
)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def _padded_b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


IDS = st.one_of(
    # Well formed, of the right or the wrong type, in the right tenant or another.
    st.builds(
        encode_id,
        st.sampled_from(TYPE_NAMES),
        st.sampled_from([*SUBSCRIPTIONS, *USERS, CONTOSO_ID, WOODGROVE_ID]),
        st.sampled_from([CONTOSO_ID, WOODGROVE_ID, demo_tenant_id("adatum-partners.example")]),
    ),
    st.sampled_from([str(u) for u in [*SUBSCRIPTIONS, *USERS, CONTOSO_ID, WOODGROVE_ID]]),
    st.sampled_from([*PRODUCT_KEYS, *(encode_id("Product", k) for k in PRODUCT_KEYS)]),
    st.uuids().map(str),
    # Forged: a global ID's shape around odd parts, or no shape at all.
    st.builds(lambda t, k: _b64(f"{t}:{CONTOSO_ID}:{k}"), st.sampled_from(TYPE_NAMES), ODD_TEXT),
    st.builds(lambda t, k: _b64(f"{t}::{k}"), st.text(ANY_CHARACTER, max_size=12), ODD_TEXT),
    ODD_TEXT,
)
INTS = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.sampled_from([0, 1, 2, 20, 21, 10_000, 10_001, -1, 2**31 - 1, -(2**31)]),
)
DATES = st.one_of(
    st.dates().map(datetime.date.isoformat),
    st.sampled_from(["0001-01-01", "9999-12-31", "2024-02-30", "", "today"]),
)
CARDS = st.fixed_dictionaries(
    {
        "number": st.one_of(st.sampled_from(["4242424242424242", "4000000000000002"]), ODD_TEXT),
        "expMonth": INTS,
        "expYear": st.one_of(st.sampled_from([2030, 2031]), INTS),
        "cvc": st.one_of(st.just("123"), ODD_TEXT),
    }
)


@dataclass(frozen=True)
class Known:
    """Ids of the seeded world by the argument names that take them, to reach past NOT_FOUND."""

    by_argument: dict[str, list[str]]

    def ids(self, argument: str) -> st.SearchStrategy[str]:
        real = self.by_argument.get(argument.removesuffix("s"), [])
        if not real:
            return IDS
        right = st.sampled_from(real)
        # Mostly the right kind (to get past NOT_FOUND), often anything at all.
        return st.integers(0, 3).flatmap(lambda pick: right if pick else IDS)


SELECT_SEEDED = {
    "Invoice": "SELECT id, tenant_id FROM invoices ORDER BY id LIMIT 8",
    "PaymentMethod": "SELECT id, tenant_id FROM payment_methods ORDER BY id LIMIT 8",
    "LicenseRequest": "SELECT id, tenant_id FROM license_requests ORDER BY id LIMIT 8",
}


async def known_objects(owner: asyncpg.Connection) -> Known:
    subscriptions = [encode_id("Subscription", s, CONTOSO_ID) for s in SUBSCRIPTIONS]
    users = [encode_id("User", u, CONTOSO_ID) for u in USERS]
    rows: dict[str, list[str]] = {}
    for type_name, sql in SELECT_SEEDED.items():
        rows[type_name] = [encode_id(type_name, r["id"], r["tenant_id"]) for r in await owner.fetch(sql)]
    return Known(
        {
            "subscriptionId": subscriptions,
            "fromSubscriptionId": subscriptions,
            "toSubscriptionId": subscriptions,
            "userId": users,
            "forUserId": users,
            "productId": [*PRODUCT_KEYS, encode_id("Product", PRODUCT_KEYS[0])],
            "tenantId": [str(CONTOSO_ID), str(WOODGROVE_ID), encode_id("Tenant", CONTOSO_ID)],
            "invoiceId": rows["Invoice"],
            "paymentMethodId": rows["PaymentMethod"],
            "requestId": rows["LicenseRequest"],
        }
    )


def value_of(input_type: GraphQLInputType, name: str, known: Known) -> st.SearchStrategy[Any]:
    """Values of a GraphQL input type, as a client's JSON variables would carry them."""
    if isinstance(input_type, GraphQLNonNull):
        return value_of(input_type.of_type, name, known)
    if isinstance(input_type, GraphQLList):
        return st.lists(value_of(input_type.of_type, name, known), max_size=25)
    if isinstance(input_type, GraphQLEnumType):
        return st.sampled_from(sorted(input_type.values))
    if isinstance(input_type, GraphQLInputObjectType):
        if input_type.name == "CardInput":
            return CARDS
        return st.fixed_dictionaries(
            {k: value_of(f.type, k, known) for k, f in input_type.fields.items() if isinstance(f.type, GraphQLNonNull)},
            optional={
                k: value_of(f.type, k, known) | st.none()
                for k, f in input_type.fields.items()
                if not isinstance(f.type, GraphQLNonNull)
            },
        )
    assert isinstance(input_type, GraphQLScalarType), input_type
    by_scalar: dict[str, st.SearchStrategy[Any]] = {
        "ID": known.ids(name),
        "String": st.one_of(st.uuids().map(lambda u: u.hex), ODD_TEXT) if name == "idempotencyKey" else ODD_TEXT,
        "Int": INTS,
        "Boolean": st.booleans(),
        "Date": DATES,
        "Float": st.floats(allow_nan=False),
    }
    return by_scalar[input_type.name]


# What a client sends where the schema wants something else: coercion refuses it (BAD_VARIABLES).
WRONG_JSON = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and the infinities too: Python's json writes them, and reads them back
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@dataclass(frozen=True)
class Call:
    mutation: str
    variables: dict[str, Any]
    caller: str | None

    @property
    def document(self) -> str:
        field = MUTATIONS[self.mutation]
        names = [n for n in field.args if n in self.variables]
        declared = ", ".join(f"${n}: {field.args[n].type}" for n in names)
        passed = ", ".join(f"{n}: ${n}" for n in names)
        return f"mutation Drawn({declared}) {{ {self.mutation}({passed}) {{ userErrors {{ code field }} }} }}"


@st.composite
def calls(draw: st.DrawFn, known: Known) -> Call:
    name = draw(st.sampled_from(list(MUTATIONS)))
    field = MUTATIONS[name]
    variables: dict[str, Any] = {}
    for arg_name, arg in field.args.items():
        required = isinstance(arg.type, GraphQLNonNull)
        if required or draw(st.booleans()):
            wrong = draw(st.integers(0, 9)) == 0
            variables[arg_name] = draw(WRONG_JSON if wrong else value_of(arg.type, arg_name, known))
    return Call(name, variables, draw(st.sampled_from(CALLERS)))


def sometimes(strategy: st.SearchStrategy[T], *, otherwise: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``strategy`` one time in four, else ``otherwise``: odd values, but not so often that every
    read is refused at the door before any of its connections runs."""
    return st.integers(0, 3).flatmap(lambda pick: strategy if pick == 0 else otherwise)


# The signatures of every connection's default order: a cursor of another connection's order, or of
# this one's at odd key values, is refused before a value reaches SQL.
SIGNATURES = [
    s.ordering(None).signature
    for s in (sortables.SUBSCRIPTION, sortables.ORDER, sortables.ASSIGNMENT, sortables.USER, sortables.INVOICE)
] + [sortables.LICENSE_REQUEST.ordering(None).signature, sortables.AUDIT_EVENT.ordering(None).signature]
KEY_VALUES = st.one_of(
    st.sampled_from(
        [
            "2026-01-01T00:00:00.000000Z",
            "2026-13-01T00:00:00.000000Z",
            "infinity",
            "00000000-0000-0000-0000-000000000000",
            "0000000000000000000000000000000Z",
            "9" * 30,
            "2026-02-30",
        ]
    ),
    ODD_TEXT,
    st.integers(-(2**70), 2**70),
    st.none(),
)
CURSORS = st.one_of(
    st.none(),
    # This API's own format (padded base64 of a JSON array: an order's signature, its key values).
    st.builds(
        lambda sig, values: _padded_b64(json.dumps([sig, *values])),
        st.sampled_from(SIGNATURES),
        st.lists(KEY_VALUES, min_size=0, max_size=4),
    ),
    # The old format, row numbers, and odd text.
    st.integers(-(2**40), 2**40).map(lambda n: _padded_b64(f"cursor:{n}")),
    st.builds(lambda k: _b64(f"cursor:{k}"), ODD_TEXT),
    ODD_TEXT,
)
# Mostly pages that fit the cost limit (nested pages multiply), so most reads run; some that do not.
PAGE_SIZES = st.integers(0, 9).flatmap(
    lambda pick: INTS if pick == 0 else st.sampled_from([-1, 0, 100, 101]) if pick == 1 else st.integers(1, 12)
)


@dataclass(frozen=True)
class Read:
    variables: dict[str, Any]
    caller: str | None
    get: bool


@st.composite
def reads(draw: st.DrawFn, known: Known) -> Read:
    variables = {
        "tenant": draw(sometimes(IDS, otherwise=st.sampled_from([str(CONTOSO_ID), str(WOODGROVE_ID)]))),
        "id": draw(known.ids("subscriptionId")),
        "first": draw(st.one_of(st.none(), PAGE_SIZES)),
        "last": draw(sometimes(PAGE_SIZES, otherwise=st.none())),
        "after": draw(CURSORS),
        "before": draw(sometimes(CURSORS, otherwise=st.none())),
        "text": draw(sometimes(ODD_TEXT, otherwise=st.one_of(st.none(), st.sampled_from(PRODUCT_KEYS)))),
        "someone": draw(st.one_of(st.none(), known.ids("userId"))),
        "statuses": draw(st.one_of(st.none(), st.lists(st.sampled_from(["ACTIVE", "EXPIRED", "DISABLED"])))),
    }
    if draw(st.integers(0, 9)) == 0:
        variables[draw(st.sampled_from(sorted(variables)))] = draw(WRONG_JSON)
    return Read(variables, draw(st.sampled_from(CALLERS)), draw(st.booleans()))


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
async def own_database(database_url: str) -> AsyncIterator[str]:
    """A database of this module's own on the session's server: drawn mutations may commit."""
    name = f"purchasegraph_properties_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(database_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def body_of(call: Call) -> bytes:
    # ensure_ascii writes a lone surrogate as its \ud8xx escape, as a hostile client may.
    return json.dumps({"query": call.document, "variables": call.variables, "operationName": "Drawn"}).encode()


async def test_every_drawn_mutation_is_answered_cleanly_and_audited_when_it_ran(own_database: str) -> None:
    app_settings = gateway_settings(own_database, seed_demo=True)
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    async with LifespanManager(create_app(app_settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        owner = await asyncpg.connect(own_database)
        try:
            examples = drawn(calls(await known_objects(owner)), EXAMPLES)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                for number, call in enumerate(examples):
                    client_request_id = f"property-{number:04d}"
                    headers = {
                        "Content-Type": "application/json",
                        "Accept": "application/graphql-response+json",
                        "X-Request-Id": client_request_id,
                    }
                    if call.caller is not None:
                        headers["Authorization"] = f"Bearer {token_for(call.caller, call.caller.rpartition('@')[2])}"
                    response = await http.post("/graphql", content=body_of(call), headers=headers)
                    rows = await owner.fetch(
                        "SELECT outcome, error_codes FROM audit_events WHERE client_request_id = $1", client_request_id
                    )
                    problem = judge(call, response, [(r["outcome"], list(r["error_codes"])) for r in rows])
                    outcomes[outcome_of(call, response)] += 1
                    if problem:
                        shown = json.dumps(call.variables)[:300]
                        failures.append(
                            f"#{number} {call.mutation} as {call.caller}: {problem}\n"
                            f"    variables: {shown}\n    response {response.status_code}: {response.text[:300]}"
                        )
                for number, read in enumerate(drawn(reads(await known_objects(owner)), READS)):
                    headers = {"Accept": "application/graphql-response+json"}
                    if read.caller is not None:
                        headers["Authorization"] = f"Bearer {token_for(read.caller, read.caller.rpartition('@')[2])}"
                    variables = json.dumps(read.variables)
                    if read.get and len(variables) < 4000:  # a URL holds a few KB; longer ones go by POST
                        params = {"query": READ_PAGES, "variables": variables}
                        response = await http.get("/graphql", params=params, headers=headers)
                    else:
                        body = json.dumps({"query": READ_PAGES, "variables": read.variables}).encode()
                        headers["Content-Type"] = "application/json"
                        response = await http.post("/graphql", content=body, headers=headers)
                    outcomes[f"read {outcome_of_read(response)}"] += 1
                    if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in response.text:
                        failures.append(
                            f"page read #{number} as {read.caller}: {variables[:300]}: {response.text[:300]}"
                        )
                for number, drawn_id in enumerate(drawn(IDS, READS)):
                    headers = {"Content-Type": "application/json", "Accept": "application/graphql-response+json"}
                    caller = CALLERS[number % len(CALLERS)]
                    if caller is not None:
                        headers["Authorization"] = f"Bearer {token_for(caller, caller.rpartition('@')[2])}"
                    body = json.dumps({"query": READ_BY_ID, "variables": {"id": drawn_id}}).encode()
                    response = await http.post("/graphql", content=body, headers=headers)
                    if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in response.text:
                        failures.append(f"read #{number} as {caller}: {drawn_id[:100]!r}: {response.text[:300]}")
        finally:
            await owner.close()
    ran = len(examples)
    print(
        f"\n{ran} drawn mutations over {len({c.mutation for c in examples})} of {len(MUTATIONS)} mutation fields;"
        f" outcomes: {', '.join(f'{k}: {n}' for k, n in outcomes.most_common())}"
    )
    assert not failures, f"{len(failures)} of {ran} drawn calls misbehaved:\n" + "\n".join(failures[:15])


def outcome_of(call: Call, response: httpx.Response) -> str:
    """For the summary line: how far the call got."""
    body = response.json()
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and data.get(call.mutation) is not None:
        codes = [e["code"] for e in data[call.mutation]["userErrors"]]
        return "accepted" if not codes else "/".join(codes)
    errors = body.get("errors") if isinstance(body, dict) else None
    code = errors[0].get("extensions", {}).get("code") if isinstance(errors, list) and errors else None
    return f"{response.status_code} {code}"


def outcome_of_read(response: httpx.Response) -> str:
    """For the summary line: a read's status and its first error code (a refusal, or a field's)."""
    body = response.json()
    errors = body.get("errors") if isinstance(body, dict) else None
    code = errors[0].get("extensions", {}).get("code") if isinstance(errors, list) and errors else "ok"
    return f"{response.status_code} {code}"


def judge(call: Call, response: httpx.Response, audit: list[tuple[str, list[str]]]) -> str | None:
    if response.status_code >= 500:
        return f"status {response.status_code}"
    if "INTERNAL_SERVER_ERROR" in response.text:
        return "a masked internal error"
    body = response.json()
    data = body.get("data")
    if response.status_code != 200 or not isinstance(data, dict) or data.get(call.mutation) is None:
        # Refused before the mutation ran (malformed, variables that do not fit, a bad token): no row.
        return f"{len(audit)} audit rows for a request that never ran" if audit else None
    codes = [e["code"] for e in data[call.mutation]["userErrors"]]
    if call.caller is None:
        return f"an anonymous call left audit rows {audit}" if audit else None
    expected = ("refused", codes) if codes else ("accepted", [])
    if audit != [expected]:
        return f"audit rows {audit}, expected [{expected}]"
    return None
