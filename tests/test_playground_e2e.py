"""The playground as a user meets it: `/` lists the demo actors, a link opens GraphiQL signed in as one.

The browser test serves the app for real (uvicorn on a loopback port), opens `/` in headless
Chromium, clicks the demo admin's link, runs the example query in GraphiQL and reads the result
pane; then goes back and does the same as a purchaser (her header, not the admin's GraphiQL kept).
GraphiQL's page loads React and GraphiQL from unpkg; the browser never reaches it: every unpkg
request is answered from playground_e2e/node_modules, installed with `npm ci` from
playground_e2e/package-lock.json at exactly the versions the page names (and checked against the
page's integrity hashes by the browser itself). It needs a Chromium binary (Debian's `chromium`;
.ci/run installs it) and skips only when there is none.
"""

from __future__ import annotations

import json
import mimetypes
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route, async_playwright
from strawberry.http.ides import get_graphql_ide_html

from purchasegraph.app import create_app
from purchasegraph.db.seed import DEMO_USERS
from purchasegraph.settings import Settings
from tests.live_server import Live, live_server
from tests.npm import npm_ci
from tests.test_http import serving

E2E_DIR = Path(__file__).parent / "playground_e2e"
SECRET = "test-secret-for-the-playground-0123456789"
ADMIN = "alex.admin@contoso.example"
PURCHASER = "paula.purchaser@contoso.example"
DEPARTED = "dana.departed@contoso.example"  # her account is disabled
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
# https://unpkg.com/<package>@<version>/<file>, the package possibly scoped (@graphiql/plugin-explorer).
UNPKG = re.compile(r"^https://unpkg\.com/(?P<package>(?:@[^/@]+/)?[^/@]+)@(?P<version>[^/]+)/(?P<file>[^?#]+)")


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
    return Settings(
        database_url=database_url,
        jwt_secret=SECRET,
        seed_demo=False,
        pool_min_size=1,
        sweep_seconds=0,
        production=production,
    )


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


async def test_a_link_opens_strawberrys_graphiql_which_reads_the_presets(development: httpx.AsyncClient) -> None:
    """The link's target is the GraphiQL page (not a GraphQL GET), and that page takes `q` and `headers`
    from the URL: the canary for a Strawberry release that changes its page (the browser test proves it)."""
    href = actor_links((await development.get("/")).text)[ADMIN]
    response = await development.get(href, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.text == get_graphql_ide_html("graphiql")
    assert "parameters.q" in response.text
    assert "parameters.headers" in response.text


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


@pytest.fixture(scope="session")
def cdn_files() -> Path:
    """playground_e2e/node_modules, installed from the lockfile (`npm ci`) when missing or stale."""
    npm = shutil.which("npm")
    assert npm is not None, "the playground browser test installs GraphiQL's CDN files with `npm`: put it on PATH"
    return npm_ci(E2E_DIR, npm, "--ignore-scripts")


@pytest.fixture(scope="module")
def live(database_url: str, pool: object) -> Iterator[Live]:
    with live_server(create_app(_settings(database_url))) as served:
        yield served


class OfflineCdn:
    """Answers the browser's unpkg requests from node_modules and refuses every other host."""

    def __init__(self, node_modules: Path, origin: str) -> None:
        self.node_modules = node_modules
        self.origin = origin
        self.served: list[str] = []
        self.refused: list[str] = []

    async def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(f"{self.origin}/"):
            await route.continue_()
            return
        match = UNPKG.match(url)
        path = self._file(match) if match is not None else None
        if path is None:
            self.refused.append(url)
            await route.abort("blockedbyclient")
            return
        self.served.append(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith(("text/", "application/javascript")):
            content_type += "; charset=utf-8"
        # The page loads them `crossorigin` with integrity hashes: CORS must allow it.
        await route.fulfill(
            path=path, headers={"Content-Type": content_type, "Access-Control-Allow-Origin": "*"}, status=200
        )

    def _file(self, match: re.Match[str]) -> Path | None:
        package = self.node_modules / match["package"]
        manifest = package / "package.json"
        if not manifest.is_file():
            return None
        if json.loads(manifest.read_text(encoding="utf-8")).get("version") != match["version"]:
            return None  # the page names another version than the lockfile: refuse, the test says which
        path = (package / match["file"]).resolve()
        if not path.is_file() or not path.is_relative_to(package.resolve()):
            return None
        return path


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


async def test_the_admin_opens_graphiql_from_the_page_and_runs_the_example(
    chromium: str, cdn_files: Path, live: Live, tmp_path: Path
) -> None:
    cdn = OfflineCdn(cdn_files, live.url)
    console: list[str] = []
    started = time.monotonic()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            await context.route("**/*", cdn.route)
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
            except Exception as error:
                await page.screenshot(path=tmp_path / "failed.png")
                raise AssertionError(
                    f"{error}\nscreenshot: {tmp_path / 'failed.png'}\nrefused: {cdn.refused}\nconsole: {console}"
                ) from error
        finally:
            await context.close()
    elapsed = time.monotonic() - started

    assert '"displayName": "Alex Admin"' in admin, admin
    assert '"name": "Contoso"' in admin, admin
    assert '"errors"' not in admin, admin
    assert '"userPrincipalName": "paula.purchaser@contoso.example"' in purchaser, purchaser
    assert "Alex Admin" not in purchaser, purchaser
    assert cdn.refused == [], f"requests the test could not serve offline: {cdn.refused}"
    assert any("graphiql.min.js" in url for url in cdn.served), cdn.served
    assert not [line for line in console if line.startswith("pageerror")], console
    assert elapsed < 120, f"the browser round took {elapsed:.1f}s"
