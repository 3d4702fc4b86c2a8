"""Fuzzing /graphql: every bad input is answered with a 4xx and a GraphQL error, never a 5xx or a trace.

Each case of the corpus (tests/fuzz_corpus.py) is sent, as its own test, to one app served
in-process; then the app must still be healthy and still answer a normal query.

The requests ask for ``application/graphql-response+json``, under which every refusal is a 4xx. A
few ask for the legacy ``application/json`` (or say nothing), under which the GraphQL-over-HTTP spec
answers unparsable, invalid and unrunnable documents with 200 and ``errors``, without ``data``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from asgi_lifespan import LifespanManager

from purchasegraph.app import create_app
from tests.fuzz_corpus import (
    GQL_JSON,
    JSON,
    PAULA_UPN,
    PRODUCT,
    VALID_QUERY,
    Case,
    corpus,
    shorten,
    strings_in,
)
from tests.settings import gateway_settings
from tests.test_http import VIEWER_QUERY, token_for

REQUEST_TIMEOUT = 10.0

# What a response must never carry unless the request itself did.
LEAK_MARKERS = ("Traceback", 'File "', "asyncpg", "psycopg", "site-packages", '.py", line')
EXCEPTION_NAME = re.compile(
    r"\b[A-Z][A-Za-z0-9_]*(?:Error|Exception|Warning)\b|\b(?:KeyboardInterrupt|StopIteration|StopAsyncIteration)\b"
)
SCHEMA_NAMES = frozenset({"UserError"})  # a type of this schema, not a Python class
REQUEST_ID = re.compile(r"[A-Za-z0-9\-_.:]{8,128}")


def _leaks(case: Case, text: str) -> list[str]:
    sent = case.sent_text()
    found = [marker for marker in LEAK_MARKERS if marker in text and marker not in sent]
    names = {name for name in EXCEPTION_NAME.findall(text) if name not in SCHEMA_NAMES and name not in sent}
    return [f"leaks {item!r}" for item in [*found, *sorted(names)]]


def _error_problems(errors: object, *, need_code: bool) -> list[str]:
    if not isinstance(errors, list) or not errors:
        return [f"`errors` is not a non-empty list: {errors!r:.100}"]
    problems: list[str] = []
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            problems.append(f"an error without a string message: {error!r:.100}")
            continue
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if need_code and not isinstance(code, str):
            problems.append(f"an error without extensions.code: {error!r:.160}")
        if code == "INTERNAL_SERVER_ERROR":
            problems.append(f"a masked internal error: {error!r:.200}")
    return problems


def judge(case: Case, response: httpx.Response) -> list[str]:
    problems: list[str] = []
    status = response.status_code
    if status >= 500:
        problems.append(f"status {status}")
    elif status != 200 and not 400 <= status < 500:
        problems.append(f"unexpected status {status}")
    request_id = response.headers.get("x-request-id")
    if request_id is None:
        problems.append("no X-Request-Id")
    elif not REQUEST_ID.fullmatch(request_id):
        problems.append(f"an X-Request-Id that is not a sane token: {request_id[:60]!r}")
    text = response.content.decode("utf-8", "replace")
    problems += _leaks(case, text)
    if status == 405 and "allow" not in response.headers:
        problems.append("405 without Allow")
    if status == 401 and not response.headers.get("www-authenticate", "").startswith("Bearer"):
        problems.append("401 without WWW-Authenticate: Bearer")
    if case.method == "HEAD" and not response.content:
        return problems
    media = response.headers.get("content-type", "")
    if not media.startswith((GQL_JSON, JSON)):
        problems.append(f"content type {media!r}")
    try:
        body = json.loads(response.content)
    except ValueError:
        return [*problems, "the body is not JSON"]
    if not isinstance(body, dict):
        return [*problems, "the body is not a JSON object"]
    problems += _leaks(case, "\n".join(strings_in(body)))
    errors = body.get("errors")
    has_data = "data" in body
    if errors is not None or not has_data:
        problems += _error_problems(errors, need_code=status >= 400 or not has_data)
    if 400 <= status < 500 and has_data:
        problems.append("a refusal with `data`")
    if status == 200:
        if not has_data and not case.legacy:
            problems.append("a refusal answered 200 though graphql-response+json was asked for")
        elif has_data and not case.may_succeed:
            problems.append("a bad input was executed")
        elif has_data and case.null_field is not None:
            data = body["data"]
            if isinstance(data, dict) and data.get(case.null_field) is not None:
                problems.append(f"`{case.null_field}` reached an object: {data[case.null_field]!r:.120}")
    return problems


# ---------------------------------------------------------------------------------------------
# The tests

# The ids, one per case; the cases themselves are built when the module's tests start (its valid
# tokens expire ten minutes after they are minted, and collection may be long before).
CASE_NAMES = [case.name for case in corpus()]


@pytest.fixture(scope="module")
def cases() -> dict[str, Case]:
    return {case.name: case for case in corpus()}


@dataclass
class Tally:
    """What the fuzzed gateway answered, by status and by first error code, for the summary."""

    statuses: Counter[int | str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


@pytest.fixture(scope="module")
async def http(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running; app exceptions become the 500 a server would send."""
    async with LifespanManager(create_app(gateway_settings(database_url))) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            del client.headers["accept"]  # each case says what it accepts, or nothing
            yield client


async def _send(http: httpx.AsyncClient, case: Case) -> httpx.Response | str:
    """The response, or what went wrong instead of one (a hang, a broken connection)."""
    request = http.build_request(case.method, case.url, content=case.body or None, headers=list(case.headers))
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            return await http.send(request)
    except TimeoutError:
        return f"no response within {REQUEST_TIMEOUT}s (a hang)"
    except Exception as error:  # the transport failed: as bad as a 5xx
        return f"the request failed: {type(error).__name__}: {error}"


@pytest.mark.parametrize("name", CASE_NAMES)
async def test_a_bad_input_is_refused_cleanly(
    name: str, cases: dict[str, Case], http: httpx.AsyncClient, tally: Tally
) -> None:
    case = cases[name]
    response = await _send(http, case)
    if isinstance(response, str):
        tally.statuses["no response"] += 1
        pytest.fail(f"{case.describe()}\n    problems: {[response]}")
    tally.statuses[response.status_code] += 1
    with_code = _first_code(response)
    if with_code is not None:
        tally.codes[with_code] += 1
    problems = judge(case, response)
    assert not problems, f"{case.describe()}\n    problems: {problems}\n    response: {shorten(response.text, 400)}"


async def test_after_every_bad_input_the_gateway_is_healthy_and_answers_real_queries(
    http: httpx.AsyncClient, tally: Tally
) -> None:
    assert (await http.get("/healthz")).status_code == 200
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True}
    normal = await http.post("/graphql", json={"query": VALID_QUERY}, headers={"Accept": GQL_JSON})
    assert normal.status_code == 200, normal.text
    assert PRODUCT in {p["productId"] for p in normal.json()["data"]["products"]}
    member = token_for(PAULA_UPN, "contoso.example")
    viewer = await http.post(
        "/graphql", json={"query": VIEWER_QUERY}, headers={"Accept": GQL_JSON, "Authorization": f"Bearer {member}"}
    )
    assert viewer.status_code == 200, viewer.text
    assert viewer.json()["data"]["viewer"]["user"]["displayName"] == "Paula Purchaser"
    histogram = ", ".join(f"{status}: {n}" for status, n in sorted(tally.statuses.items(), key=lambda kv: str(kv[0])))
    print(
        f"\nfuzzed /graphql with {sum(tally.statuses.values())} inputs"
        f"\n  by status: {histogram}"
        f"\n  by code: {', '.join(f'{code}: {n}' for code, n in tally.codes.most_common())}"
    )


def _first_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        extensions = errors[0].get("extensions")
        if isinstance(extensions, dict) and isinstance(extensions.get("code"), str):
            return str(extensions["code"])
    return None
