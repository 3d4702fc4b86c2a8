"""The playground as a user meets it: `/` lists the demo actors, a link opens GraphiQL signed in as one.

The browser test serves the app for real (uvicorn on a loopback port), opens `/` in headless
Chromium, clicks the demo admin's link, runs the example query in GraphiQL and reads the result
pane; then goes back and does the same as a purchaser (her header, not the admin's GraphiQL kept).
The browser is offline: every request to another origin than the gateway's fails, as on a machine
with no internet, and the test asserts none was even tried, so GraphiQL, React and the rest come
from the gateway (purchasegraph/playground_assets). It needs a Chromium binary (Debian's
`chromium`; .ci/run installs it) and skips only when there is none.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route, WebSocket, async_playwright

from purchasegraph.app import create_app
from purchasegraph.demo.actors import DEMO_USERS
from purchasegraph.graphiql import GRAPHIQL_PAGE, PAGE_SCRIPT, VENDORED, asset_url
from purchasegraph.playground import GRAPHIQL_PATH, graphiql_link
from purchasegraph.settings import Settings
from tests.live_server import Live, live_server
from tests.settings import gateway_settings
from tests.test_http import serving

SECRET = "test-secret-for-the-playground-0123456789"
ADMIN = "alex.admin@contoso.example"
PURCHASER = "paula.purchaser@contoso.example"
DEPARTED = "dana.departed@contoso.example"  # her account is disabled
MY_EVENTS = "subscription { mySubscriptionEvents { eventId action } }"
UI_TIMEOUT_MS = 30_000
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Links(HTMLParser):
    """The actor links of the page: sign-in name → href."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("class") == "open":
            email, href = attributes.get("data-email"), attributes.get("href")
            assert email is not None
            assert href is not None
            self.links[email] = href


def actor_links(html: str) -> dict[str, str]:
    parser = _Links()
    parser.feed(html)
    return parser.links


# ---------------------------------------------------------------------------------------------
# The page over plain HTTP


def _settings(database_url: str, *, production: bool = False) -> Settings:
    return gateway_settings(database_url, jwt_secret=SECRET, production=production)


@pytest.fixture(scope="module")
async def development(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    # `pool` makes sure the session's database is migrated and seeded first.
    async with serving(_settings(database_url)) as http:
        yield http


async def test_the_page_lists_every_demo_actor_with_a_graphiql_link(development: httpx.AsyncClient) -> None:
    response = await development.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    links = actor_links(response.text)
    assert set(links) == {u.user_principal_name for u in DEMO_USERS}
    for user in DEMO_USERS:
        assert user.display_name in response.text
        assert f"<code>{user.actor}</code>" in response.text
    assert "Contoso" in response.text
    assert "Adatum Partners" in response.text
    for href in links.values():
        assert href.startswith("/graphql?q=")
        assert "+" not in href, "Strawberry's page decodes with decodeURIComponent: a space must be %20"


async def test_the_demo_page_runs_no_script_and_no_other_site_can_frame_it(development: httpx.AsyncClient) -> None:
    # Its links hold live tokens: whatever a display name holds, no script runs there.
    response = await development.get("/")
    policy = {d.split()[0]: d.split()[1:] for d in response.headers["content-security-policy"].split("; ")}
    assert policy["default-src"] == ["'none'"]
    assert "script-src" not in policy
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_each_link_presets_a_query_that_runs_as_its_actor(development: httpx.AsyncClient) -> None:
    """What GraphiQL will send for every link: the preset header and query, without errors, as that user."""
    links = actor_links((await development.get("/")).text)
    for email, href in links.items():
        preset = parse_qs(urlsplit(href).query, strict_parsing=True)
        [query], [headers_text] = preset["q"], preset["headers"]
        headers = json.loads(headers_text)
        assert set(headers) == {"Authorization"}
        assert headers["Authorization"].startswith("Bearer ")
        response = await development.post("/graphql", json={"query": query}, headers=headers)
        if email == DEPARTED:
            # A disabled account signs in to nothing: its link shows what the gateway answers it.
            assert response.status_code == 401, response.text
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            continue
        assert response.status_code == 200, (email, response.text)
        body = response.json()
        assert "errors" not in body, (email, body["errors"])
        assert body["data"]["viewer"]["user"]["userPrincipalName"] == email


async def test_a_link_opens_the_gateways_graphiql_which_reads_the_presets(development: httpx.AsyncClient) -> None:
    """The link's target is the GraphiQL page (not a GraphQL GET), whose script takes `q` and `headers`
    from the URL (the browser test proves it works)."""
    href = actor_links((await development.get("/")).text)[ADMIN]
    response = await development.get(href, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.text == GRAPHIQL_PAGE
    script = await development.get(asset_url(PAGE_SCRIPT))
    assert script.status_code == 200
    assert "parameters.q" in script.text
    assert "parameters.headers" in script.text


async def test_the_page_does_not_exist_in_production(database_url: str, pool: object) -> None:
    async with serving(_settings(database_url, production=True)) as production:
        response = await production.get("/")
        assert response.status_code == 404
        assert "Bearer" not in response.text
        assert response.text == (await production.get("/no-such-page")).text


# ---------------------------------------------------------------------------------------------
# The page in a browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser binary; the one reason this test skips."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.skip(
        f"the playground browser test needs a Chromium binary ({', '.join(CHROMIUM_NAMES)} on PATH); none is there: "
        "`apt-get install chromium` (.ci/run does)"
    )


@pytest.fixture(scope="module")
def live(database_url: str, pool: object) -> Iterator[Live]:
    with live_server(create_app(_settings(database_url))) as served:
        yield served


class Offline:
    """The network of a machine with no internet: the gateway's origin answers, every other request fails."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.served: list[str] = []
        self.refused: list[str] = []

    async def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(f"{self.origin}/"):
            self.served.append(url)
            await route.continue_()
            return
        self.refused.append(url)
        await route.abort("internetdisconnected")


class Frames:
    """The websocket messages the page sends and receives: (``sent`` or ``received``, the message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def record(self, websocket: WebSocket) -> None:
        websocket.on("framesent", lambda payload: self.messages.append(("sent", json.loads(payload))))
        websocket.on("framereceived", lambda payload: self.messages.append(("received", json.loads(payload))))

    def index(self, direction: str, kind: str) -> int:
        """Where the first message of this type in this direction is (graphql-transport-ws's `type`)."""
        return next(i for i, (d, message) in enumerate(self.messages) if (d, message.get("type")) == (direction, kind))

    async def wait_for(self, direction: str, kind: str) -> None:
        deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
        while (direction, kind) not in ((d, message.get("type")) for d, message in self.messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} {direction} over the websocket: {self.messages}")
            await asyncio.sleep(0.05)


def bearer_token_in(graphiql_url: str) -> str:
    """The token of a GraphiQL link's preset ``Authorization`` header."""
    headers = json.loads(parse_qs(urlsplit(graphiql_url).query)["headers"][0])
    token: str = headers["Authorization"].removeprefix("Bearer ")
    return token


async def open_as(page: Page, origin: str, email: str, name: str) -> None:
    """On `/`, click the actor's link; GraphiQL loads with their example query and bearer header."""
    link = page.locator(f'a.open[data-email="{email}"]')
    assert await link.inner_text() == f"GraphiQL as {name}"
    await link.click()
    await page.wait_for_url(f"{origin}/graphql?*")
    await page.locator(".graphiql-execute-button").wait_for(state="visible")
    await page.locator(".graphiql-query-editor").get_by_text(f"# As {name} (").wait_for()
    await page.get_by_role("button", name="Headers").click()
    await page.locator(".graphiql-editor-tool").get_by_text('"Bearer ').wait_for()


async def run_and_read(page: Page, expected: str) -> str:
    """Run the query (the ▶ button) and read the result pane once it shows ``expected``."""
    await page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response")
    await response.get_by_text(expected).first.wait_for()
    text: str = await response.inner_text()
    return text


@pytest.mark.chromium
@pytest.mark.live_server
async def test_graphiql_runs_offline_the_examples_of_an_admin_and_a_purchaser_and_her_subscription(
    chromium: str, live: Live, tmp_path: Path
) -> None:
    network = Offline(live.url)
    console: list[str] = []
    frames = Frames()
    started = time.monotonic()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            await context.route("**/*", network.route)
            page = await context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            try:
                await page.goto(f"{live.url}/")
                await open_as(page, live.url, ADMIN, "Alex Admin")
                admin = await run_and_read(page, '"Alex Admin"')

                # Back on the list, another actor: GraphiQL opens a tab with her header, not the
                # admin's it persisted.
                await page.go_back()
                await open_as(page, live.url, PURCHASER, "Paula Purchaser")
                purchaser = await run_and_read(page, '"Paula Purchaser"')

                # Her events, live: the subscription goes over the websocket of the graphql-ws
                # client inside the shipped bundle, signed in with the headers editor's token.
                page.on("websocket", frames.record)
                await page.goto(f"{live.url}{graphiql_link(bearer_token_in(page.url), MY_EVENTS)}")
                await page.locator(".graphiql-query-editor").get_by_text("mySubscriptionEvents").wait_for()
                await page.locator(".graphiql-execute-button").click()
                await frames.wait_for("sent", "subscribe")
            except Exception as error:
                await page.screenshot(path=tmp_path / "failed.png")
                raise AssertionError(
                    f"{error}\nscreenshot: {tmp_path / 'failed.png'}\nrefused: {network.refused}\nconsole: {console}"
                ) from error
        finally:
            await context.close()
    elapsed = time.monotonic() - started

    assert '"displayName": "Alex Admin"' in admin, admin
    assert '"name": "Contoso"' in admin, admin
    assert '"errors"' not in admin, admin
    assert '"userPrincipalName": "paula.purchaser@contoso.example"' in purchaser, purchaser
    assert "Alex Admin" not in purchaser, purchaser
    assert network.refused == [], f"the playground reached for the internet: {network.refused}"
    served = {urlsplit(url).path for url in network.served}
    assert {asset_url(name) for name in VENDORED} <= served, served
    assert not [line for line in console if line.startswith("pageerror")], console
    # The page's Content-Security-Policy allows this origin only: the browser reports what it refused.
    assert not [line for line in console if "Content Security Policy" in line], console
    # connection_init carried her token (the gateway acknowledges nothing else), then she subscribed.
    init = frames.index("sent", "connection_init")
    ack = frames.index("received", "connection_ack")
    subscribe = frames.index("sent", "subscribe")
    assert init < ack < subscribe, frames.messages
    assert frames.messages[init][1]["payload"]["Authorization"].startswith("Bearer "), frames.messages[init]
    assert frames.messages[subscribe][1]["payload"]["query"] == MY_EVENTS, frames.messages[subscribe]
    assert elapsed < 120, f"the browser round took {elapsed:.1f}s"


@pytest.mark.chromium
@pytest.mark.live_server
async def test_graphiql_mounts_whatever_the_url_presets_hold(chromium: str, live: Live) -> None:
    # A link is anyone's to write: a parameter cut short mid-escape is left out (the others still
    # apply), and markup in a preset is the editor's text, never the page's HTML.
    markup = '</script><img src=x onerror="document.title=`owned`">'
    link = f"{GRAPHIQL_PATH}?variables=%E0%A4%A&q={quote(markup)}"
    console: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            await page.goto(f"{live.url}{link}")
            await page.locator(".graphiql-query-editor").get_by_text("onerror=").wait_for()
            title = await page.title()
            images = await page.locator("img[src=x]").count()
        finally:
            await browser.close()
    assert console == []
    assert title == "purchasegraph GraphiQL"
    assert images == 0
