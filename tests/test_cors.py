"""Browser pages on other origins: CORS over HTTP and the Origin check on websockets, from one setting.

Two gateways serve this module's own PostgreSQL for real (uvicorn on loopback ports; the browser
test's purchase commits, which the session's database must not see): one in development with the
default (any origin) and a bucket small enough that a 51-point query is always 429, one in
production that lists a single origin. The HTTP rules are checked with httpx against them; the
page test serves `cors_e2e/index.html` from a third port (another origin) and drives headless
Chromium through it: one browser launch for the module.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from purchasegraph.app import create_app
from purchasegraph.demo.actors import ALEX, CONTOSO, MIA, PAULA
from purchasegraph.gateway.cors import ALLOWED_HEADERS, EXPOSED_HEADERS, PREFLIGHT_MAX_AGE
from purchasegraph.settings import Settings, ThrottleSettings, settings_from_env
from tests.live_server import Live, live_server
from tests.mutations import purchase_input
from tests.settings import SECRET, gateway_settings
from tests.test_http import serving, token_for
from tests.test_playground_e2e import CHROMIUM_ARGS, CHROMIUM_NAMES
from tests.test_purchase_events import PROTOCOL, PURCHASE_EVENTS, Served, served

PAGE = Path(__file__).parent / "cors_e2e" / "index.html"
LISTED = "https://app.example"  # the one origin the production gateway lists
ELSEWHERE = "https://elsewhere.example"
# Cost 1 + 100 + 100 * 5 = 601 > the development bucket's 120: refused 429 however full the bucket
# is, while everything else the tests send (the catalogue costs 101) fits, the bucket refilling at once.
TOO_COSTLY = (
    "query TooCostly { viewer { homeTenant { subscriptions(first: 100) "
    "{ nodes { id orders(first: 5) { nodes { id } } } } } } }"
)
SMALL_BUCKET = ThrottleSettings(maximum_available=120, restore_rate=100_000)
VIEWER = "query Me { viewer { user { displayName } } }"
CATALOGUE = "query Catalogue { products { id productId } }"
BUY = """
mutation Buy($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code message } }
}
"""
UI_TIMEOUT_MS = 30_000
EVENT_WAIT_MS = 10_000


def bearer(upn: str) -> str:
    return token_for(upn, upn.rpartition("@")[2])


# -- The setting ---------------------------------------------------------------------------------


def test_development_allows_any_origin_by_default() -> None:
    assert settings_from_env({}).allowed_origins == {"*"}


def test_production_allows_no_origin_unless_configured() -> None:
    assert settings_from_env({"PURCHASEGRAPH_ENV": "production"}).allowed_origins == frozenset()
    configured = {"PURCHASEGRAPH_ENV": "production", "PURCHASEGRAPH_CORS_ORIGINS": LISTED}
    assert settings_from_env(configured).allowed_origins == {LISTED}


def test_cors_origins_are_a_comma_separated_list_kept_as_browsers_send_them() -> None:
    env = {"PURCHASEGRAPH_CORS_ORIGINS": " https://App.Example:443 , http://localhost:5173,"}
    assert settings_from_env(env).allowed_origins == {LISTED, "http://localhost:5173"}


def test_cors_origins_take_punycode_hosts_ip_addresses_and_app_schemes() -> None:
    listed = "https://xn--bcher-kva.example,http://127.0.0.1:5173,http://[::1]:8080,capacitor://localhost"
    assert settings_from_env({"PURCHASEGRAPH_CORS_ORIGINS": listed}).allowed_origins == set(listed.split(","))


def test_cors_origins_star_allows_any_origin_even_in_production() -> None:
    env = {"PURCHASEGRAPH_ENV": "production", "PURCHASEGRAPH_CORS_ORIGINS": "*"}
    assert settings_from_env(env).allowed_origins == {"*"}


@pytest.mark.parametrize(
    "value",
    [
        "https://app.example/path",
        "null",
        "app.example",
        "*,https://app.example",
        # Accepted by the comparison, then never matched: browsers send neither.
        "https://*.app.example",
        "https://bücher.example",
        "https://app example",
        "https://app.example:0",
    ],
)
def test_cors_origins_refuse_what_is_not_an_origin(value: str) -> None:
    with pytest.raises(ValueError, match="PURCHASEGRAPH_CORS_ORIGINS"):
        settings_from_env({"PURCHASEGRAPH_CORS_ORIGINS": value})


# -- The gateways --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def development(own_database: str) -> Iterator[Served]:
    with served(own_database, throttle=SMALL_BUCKET) as one:
        yield one


@pytest.fixture(scope="module")
def production(own_database: str, development: Served) -> Iterator[Served]:
    # After `development`, whose start-up migrated and seeded the database.
    with served(own_database, production=True, seed_demo=False, cors_origins=(LISTED,)) as one:
        yield one


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def preflight(http: httpx.AsyncClient, url: str, origin: str, headers: str) -> httpx.Response:
    return await http.options(
        f"{url}/graphql",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": headers},
    )


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


# -- HTTP ----------------------------------------------------------------------------------------


@pytest.mark.live_server
async def test_a_preflight_answers_204_with_methods_headers_and_max_age_and_never_credentials(
    development: Served, http: httpx.AsyncClient
) -> None:
    asked = "authorization, content-type, x-request-id, apollographql-client-name, apollographql-client-version"
    response = await preflight(http, development.url, ELSEWHERE, asked)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert listed(response.headers["access-control-allow-methods"]) == {"get", "post"}
    assert {h.lower() for h in ALLOWED_HEADERS} <= listed(response.headers["access-control-allow-headers"])
    assert "x-unheard-of" not in listed(response.headers["access-control-allow-headers"])
    assert response.headers["access-control-max-age"] == str(PREFLIGHT_MAX_AGE)
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.live_server
async def test_a_preflight_for_another_method_or_header_is_refused(
    development: Served, http: httpx.AsyncClient
) -> None:
    put = await http.options(
        f"{development.url}/graphql", headers={"Origin": ELSEWHERE, "Access-Control-Request-Method": "PUT"}
    )
    assert put.status_code == 400
    cookie = await preflight(http, development.url, ELSEWHERE, "x-unheard-of")
    assert cookie.status_code == 400


@pytest.mark.live_server
async def test_a_preflight_never_reaches_the_endpoint(
    development: Served, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """No token lookup, no SQL, no cost: the endpoint, which logs one line per request it
    handles, never sees a preflight, however many come, while the bucket would refuse them."""
    with caplog.at_level(logging.INFO, logger="purchasegraph.request"):
        answers = await asyncio.gather(
            *(preflight(http, development.url, ELSEWHERE, "authorization, content-type") for _ in range(50))
        )
        assert [a.status_code for a in answers] == [204] * 50
        assert [r for r in caplog.records if r.name == "purchasegraph.request"] == []
        await http.post(f"{development.url}/graphql", json={"query": VIEWER}, headers={"Origin": ELSEWHERE})
        assert len([r for r in caplog.records if r.name == "purchasegraph.request"]) == 1


@pytest.mark.live_server
async def test_development_answers_any_origin_with_a_star_on_post_and_get(
    development: Served, http: httpx.AsyncClient
) -> None:
    post = await http.post(
        f"{development.url}/graphql",
        json={"query": VIEWER},
        headers={"Origin": ELSEWHERE, "Authorization": f"Bearer {bearer(MIA)}"},
    )
    get = await http.get(f"{development.url}/graphql", params={"query": CATALOGUE}, headers={"Origin": ELSEWHERE})
    for response in (post, get):
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert listed(response.headers["access-control-expose-headers"]) == {h.lower() for h in EXPOSED_HEADERS}


@pytest.mark.live_server
async def test_a_401_and_a_429_carry_the_cors_headers(development: Served, http: httpx.AsyncClient) -> None:
    unauthenticated = await http.post(
        f"{development.url}/graphql",
        json={"query": VIEWER},
        headers={"Origin": ELSEWHERE, "Authorization": "Bearer not-a-token"},
    )
    throttled = await http.post(
        f"{development.url}/graphql",
        json={"query": TOO_COSTLY},
        headers={"Origin": ELSEWHERE, "Authorization": f"Bearer {bearer(MIA)}"},
    )
    assert unauthenticated.status_code == 401, unauthenticated.text
    assert throttled.status_code == 429, throttled.text
    assert "retry-after" in throttled.headers
    for response in (unauthenticated, throttled):
        assert response.headers["access-control-allow-origin"] == "*"
        assert {"retry-after", "x-request-id"} <= listed(response.headers["access-control-expose-headers"])
        assert "access-control-allow-credentials" not in response.headers


@pytest.mark.live_server
async def test_production_allows_a_listed_origin_by_name(production: Served, http: httpx.AsyncClient) -> None:
    answer = await preflight(http, production.url, LISTED, "authorization, content-type")
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == LISTED
    assert "origin" in listed(answer.headers["vary"])
    post = await http.post(f"{production.url}/graphql", json={"query": CATALOGUE}, headers={"Origin": LISTED})
    assert post.status_code == 200, post.text
    assert post.headers["access-control-allow-origin"] == LISTED
    assert "origin" in listed(post.headers["vary"])
    assert "access-control-allow-credentials" not in post.headers


@pytest.mark.live_server
async def test_production_refuses_an_origin_it_does_not_list(production: Served, http: httpx.AsyncClient) -> None:
    answer = await preflight(http, production.url, ELSEWHERE, "authorization, content-type")
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    post = await http.post(f"{production.url}/graphql", json={"query": CATALOGUE}, headers={"Origin": ELSEWHERE})
    assert "access-control-allow-origin" not in post.headers


# Origins a page could be served from that only look like the listed one: another host that ends
# or starts with it, its subdomain, another scheme or port, and a sandboxed page or file (`null`).
LOOKALIKES = [
    "https://app.example.evil",
    "https://evil-app.example",
    "https://sub.app.example",
    "http://app.example",
    "https://app.example:8443",
    "null",
]


@pytest.mark.live_server
@pytest.mark.parametrize("origin", LOOKALIKES)
async def test_production_allows_the_listed_origin_exactly_never_a_lookalike(
    production: Served, http: httpx.AsyncClient, origin: str
) -> None:
    answer = await preflight(http, production.url, origin, "authorization, content-type")
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    post = await http.post(f"{production.url}/graphql", json={"query": CATALOGUE}, headers={"Origin": origin})
    assert "access-control-allow-origin" not in post.headers
    assert "origin" in listed(post.headers["vary"])
    with pytest.raises(InvalidStatus) as refused:
        await acknowledged(production, origin)
    assert refused.value.response.status_code == 403


@pytest.mark.live_server
async def test_every_refusal_of_the_endpoint_carries_the_cors_headers(
    production: Served, http: httpx.AsyncClient
) -> None:
    """A body too large, another media type, an unacceptable Accept, another method, as well as
    401 and 429: a page reads why, and the request id to quote."""
    url, origin = f"{production.url}/graphql", {"Origin": LISTED}
    too_large = b'{"query": "' + b" " * (300 * 1024) + b'"}'
    answers = [
        (400, await http.post(url, content=too_large, headers=origin | {"Content-Type": "application/json"})),
        (415, await http.post(url, content=b"query={a}", headers=origin | {"Content-Type": "text/plain"})),
        (406, await http.post(url, json={"query": CATALOGUE}, headers=origin | {"Accept": "text/csv"})),
        (405, await http.put(url, json={"query": CATALOGUE}, headers=origin)),
    ]
    for status, response in answers:
        assert response.status_code == status, response.text
        assert response.headers["access-control-allow-origin"] == LISTED, status
        assert "x-request-id" in listed(response.headers["access-control-expose-headers"]), status
        assert "access-control-allow-credentials" not in response.headers, status


@pytest.mark.live_server
@pytest.mark.parametrize(
    "path", ["/", "/metrics", "/healthz", "/playground/react-18.3.1.production.min.js", "/nowhere"]
)
async def test_only_the_api_is_readable_from_another_origin_never_the_demo_page_with_its_tokens(
    development: Served, http: httpx.AsyncClient, path: str
) -> None:
    """In development any origin may call /graphql; were `/` readable too, any site a developer
    visits could lift every demo actor's token from the demo page and act as them."""
    page = await http.get(f"{development.url}{path}", headers={"Origin": ELSEWHERE})
    assert "access-control-allow-origin" not in page.headers
    answer = await http.options(
        f"{development.url}{path}", headers={"Origin": ELSEWHERE, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in answer.headers
    assert answer.status_code != 204


@pytest.mark.live_server
async def test_the_demo_page_lists_tokens_so_it_must_stay_same_origin(
    development: Served, http: httpx.AsyncClient
) -> None:
    """What the rule above protects: the page a development gateway serves at `/` holds bearer tokens."""
    page = await http.get(f"{development.url}/")
    assert page.status_code == 200
    assert "Bearer" in page.text


@pytest.mark.live_server
async def test_production_without_the_setting_allows_no_origin(own_database: str, development: Served) -> None:
    async with serving(gateway_settings(own_database, production=True)) as client:
        answer = await client.options("/graphql", headers={"Origin": LISTED, "Access-Control-Request-Method": "POST"})
        post = await client.post("/graphql", json={"query": CATALOGUE}, headers={"Origin": LISTED})
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    assert post.status_code == 200
    assert "access-control-allow-origin" not in post.headers


# -- Websockets ----------------------------------------------------------------------------------


async def acknowledged(served: Served, origin: str | None) -> bool:
    """Open the socket (from ``origin``, or as a non-browser client with none) and sign in."""
    async with connect(
        served.ws_url, subprotocols=[PROTOCOL], origin=Origin(origin) if origin is not None else None
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer(ALEX)}"}}))
        return bool(json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "connection_ack"})


@pytest.mark.live_server
async def test_a_websocket_from_an_allowed_origin_is_accepted(development: Served, production: Served) -> None:
    assert await acknowledged(development, ELSEWHERE)
    assert await acknowledged(production, LISTED)


@pytest.mark.live_server
async def test_a_websocket_from_a_refused_origin_is_refused_before_the_handshake(production: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await acknowledged(production, ELSEWHERE)
    assert refused.value.response.status_code == 403


@pytest.mark.live_server
async def test_a_websocket_from_the_gateways_own_origin_is_accepted_unlisted(production: Served) -> None:
    assert await acknowledged(production, production.url)


@pytest.mark.live_server
async def test_a_websocket_without_an_origin_is_accepted_as_a_non_browser_client(production: Served) -> None:
    assert await acknowledged(production, None)


# -- The page, in Chromium -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.skip(f"the cross-origin browser test needs a Chromium binary ({', '.join(CHROMIUM_NAMES)}); none is there")


@pytest.fixture(scope="module")
def page_site() -> Iterator[Live]:
    """The frontend's own origin: the page alone, from another port than either gateway."""

    async def index(_: Request) -> Response:
        return FileResponse(PAGE, media_type="text/html; charset=utf-8")

    with live_server(Starlette(routes=[Route("/", index)])) as site:
        yield site


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, page_site: Live) -> AsyncIterator[Page]:
    context = await browser.new_context()
    try:
        opened = await context.new_page()
        opened.set_default_timeout(UI_TIMEOUT_MS)
        await opened.goto(f"{page_site.url}/")
        yield opened
    finally:
        await context.close()


async def graphql(page: Page, api: str, **request: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("([api, request]) => graphql(api, request)", [api, request])
    return result


@pytest.mark.chromium
@pytest.mark.live_server
async def test_a_page_on_another_origin_queries_reads_a_401_and_a_429_and_subscribes(
    page: Page, development: Served
) -> None:
    api = development.url
    started = time.monotonic()

    signed_in = await graphql(page, api, token=bearer(PAULA), query=VIEWER)
    assert signed_in.get("status") == 200, signed_in
    assert signed_in["body"]["data"]["viewer"]["user"]["displayName"] == "Paula Purchaser"
    assert signed_in["requestId"], "X-Request-Id is exposed to the page"
    assert signed_in["clientRequestId"] == "page-request-0001"

    anonymous_post = await graphql(page, api, query=CATALOGUE)
    anonymous_get = await graphql(page, api, method="GET", query=CATALOGUE)
    for anonymous in (anonymous_post, anonymous_get):
        assert anonymous.get("status") == 200, anonymous
        assert "CFQ7TTC0H9MP" in {product["productId"] for product in anonymous["body"]["data"]["products"]}

    unauthenticated = await graphql(page, api, token="not-a-token", query=VIEWER)
    assert unauthenticated.get("status") == 401, unauthenticated
    assert isinstance(unauthenticated["body"]["errors"][0]["extensions"]["code"], str)

    throttled = await graphql(page, api, token=bearer(MIA), query=TOO_COSTLY)
    assert throttled.get("status") == 429, throttled
    assert throttled["body"]["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert int(throttled["retryAfter"] or 0) >= 1, "Retry-After is exposed to the page"

    socket = await page.evaluate(
        "([url, request]) => subscribe(url, request)",
        [development.ws_url, {"token": bearer(ALEX), "query": PURCHASE_EVENTS, "variables": {"tenant": CONTOSO}}],
    )
    assert socket["acknowledged"], socket
    await development.wait_for_subscribers(1)
    bought = await graphql(page, api, token=bearer(PAULA), query=BUY, variables={"input": purchase_input()})
    assert bought.get("status") == 200, bought
    payload = bought["body"]["data"]["purchaseSubscription"]
    assert payload["userErrors"] == [], payload
    event = await page.evaluate("(wait) => firstEvent(wait)", EVENT_WAIT_MS)
    assert event is not None, await page.evaluate("() => socketState")
    assert event["data"]["purchaseEvents"]["subscription"]["id"] == payload["subscription"]["id"]
    assert time.monotonic() - started < 60


@pytest.mark.chromium
@pytest.mark.live_server
async def test_the_same_page_is_refused_by_production_when_its_origin_is_not_listed(
    page: Page, production: Served
) -> None:
    api = production.url
    for request in (
        {"token": bearer(PAULA), "query": VIEWER},
        {"query": CATALOGUE},
        {"method": "GET", "query": CATALOGUE},
    ):
        answer = await graphql(page, api, **request)
        assert "blocked" in answer, (request, answer)
        assert "status" not in answer
    socket = await page.evaluate(
        "([url, request]) => subscribe(url, request)",
        [production.ws_url, {"token": bearer(ALEX), "query": PURCHASE_EVENTS, "variables": {"tenant": CONTOSO}}],
    )
    assert socket["opened"] is False, socket
    assert socket["acknowledged"] is False, socket
    assert socket["closed"] == 1006, socket  # the handshake was refused: no websocket ever opened


@pytest.mark.chromium
@pytest.mark.live_server
async def test_a_page_on_another_origin_cannot_read_the_demo_page_and_its_tokens(
    page: Page, development: Served
) -> None:
    lifted = await page.evaluate(
        """async (url) => {
            try { const response = await fetch(url); return { status: response.status, text: await response.text() }; }
            catch (error) { return { blocked: String(error) }; }
        }""",
        f"{development.url}/",
    )
    assert "blocked" in lifted, lifted


async def test_the_api_answers_cors_under_a_root_path_a_proxy_mounts_it_at() -> None:
    """`uvicorn --root-path /api` behind a proxy: /api/graphql is still the API, /api/ still not.
    (A preflight never reaches the app, so no database is needed here.)"""
    app = create_app(Settings(jwt_secret=SECRET, production=True, cors_origins=(LISTED,)))
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        asked = {"Origin": LISTED, "Access-Control-Request-Method": "POST"}
        api = await client.options("/api/graphql", headers=asked)
        page = await client.options("/api/", headers=asked)
    assert api.status_code == 204
    assert api.headers["access-control-allow-origin"] == LISTED
    assert "access-control-allow-origin" not in page.headers
