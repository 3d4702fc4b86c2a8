"""GraphiQL's files ship in the package and the gateway serves them: the playground needs no internet.

The files are the npm packages' own bytes (their README records package, version and sha256);
the page names only them, from this origin; they are cached for a year under versioned names;
production serves neither the page nor the files. The browser proves the whole of it offline
(tests/test_playground_e2e.py).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from purchasegraph.graphiql import (
    ASSETS_DIR,
    ASSETS_PATH,
    CONTENT_SECURITY_POLICY,
    GRAPHIQL_PAGE,
    IMMUTABLE,
    PAGE_SCRIPT,
    SERVED,
    VENDORED,
    asset_url,
)
from purchasegraph.settings import Settings
from tests.settings import gateway_settings
from tests.test_http import serving

SECRET = "test-secret-for-the-playground-0123456789"
PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
# A row of the README's file table: | file | package@version | file in the package | sha256 |
README_ROW = re.compile(
    r"^\| (?P<file>[^ |]+) \| (?P<origin>[^|]+?) \| (?P<path>[^ |]+) \| (?P<sha256>[0-9a-f]{64}) \|$"
)
SIZE_BUDGET_BYTES = 3_000_000
HTML = {"Accept": "text/html"}


def recorded_checksums() -> dict[str, str]:
    text = (ASSETS_DIR / "README.md").read_text(encoding="utf-8")
    return {m["file"]: m["sha256"] for m in map(README_ROW.match, text.splitlines()) if m is not None}


class _Sources(HTMLParser):
    """Every URL the page makes the browser load: script src and link href."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") if tag == "script" else attributes.get("href") if tag == "link" else None
        if url is not None:
            self.urls.append(url)


def loaded_by(html: str) -> list[str]:
    parser = _Sources()
    parser.feed(html)
    return parser.urls


def _settings(database_url: str, *, production: bool) -> Settings:
    return gateway_settings(database_url, jwt_secret=SECRET, production=production)


@pytest.fixture(scope="module")
async def development(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(_settings(database_url, production=False)) as http:
        yield http


@pytest.fixture(scope="module")
async def production(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(_settings(database_url, production=True)) as http:
        yield http


def test_every_vendored_file_is_the_npm_packages_file_its_readme_names() -> None:
    checksums = recorded_checksums()
    shipped = {p.name for p in ASSETS_DIR.iterdir()} - {"README.md", PAGE_SCRIPT}
    assert set(checksums) == shipped, "the README's table and the folder list different files"
    assert set(VENDORED) <= set(checksums)
    assert any(name.startswith("LICENSE") for name in checksums)
    for name, sha256 in checksums.items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == sha256, name


def test_the_shipped_files_stay_under_three_megabytes() -> None:
    total = sum(p.stat().st_size for p in ASSETS_DIR.iterdir())
    assert total < SIZE_BUDGET_BYTES, f"playground_assets weighs {total} bytes"


def test_the_package_data_ships_every_playground_file() -> None:
    """What setuptools puts in the wheel: the package-data globs, matched in the package folder."""
    patterns = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    package = ASSETS_DIR.parent
    packaged = {path for pattern in patterns["purchasegraph"] for path in package.glob(pattern)}
    assert set(ASSETS_DIR.iterdir()) <= packaged


async def test_the_gateway_serves_each_file_byte_for_byte_with_its_type_and_cache(
    development: httpx.AsyncClient,
) -> None:
    for name, media_type in SERVED.items():
        response = await development.get(asset_url(name))
        assert response.status_code == 200, name
        assert response.content == (ASSETS_DIR / name).read_bytes(), name
        assert response.headers["content-type"] == media_type, name
        assert response.headers["x-content-type-options"] == "nosniff", name
        # Versioned names never change content; the page's own script is revalidated.
        expected = IMMUTABLE if name in VENDORED else "no-cache"
        assert response.headers["cache-control"] == expected, name


async def test_the_graphiql_page_loads_only_files_of_this_origin(development: httpx.AsyncClient) -> None:
    response = await development.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.text == GRAPHIQL_PAGE
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    urls = [url for url in loaded_by(response.text) if not url.startswith("data:")]
    assert {asset_url(name) for name in SERVED} == set(urls)
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{url} is not same-origin"
        assert (await development.get(url)).status_code == 200, url
    for text in (response.text, (ASSETS_DIR / PAGE_SCRIPT).read_text(encoding="utf-8")):
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), "an absolute URL to another host"
    # The browser enforces it too: no source but this origin (and data: images and fonts).
    directives = [directive.split() for directive in CONTENT_SECURITY_POLICY.split(";")]
    assert ["default-src", "'self'"] in directives
    assert {source for _name, *sources in directives for source in sources} <= {
        "'self'",
        "'none'",
        "'unsafe-inline'",
        "data:",
    }


async def test_only_the_listed_files_are_served(development: httpx.AsyncClient) -> None:
    not_found = (await development.get("/no-such-page")).text
    for name in ("README.md", "LICENSE-react.txt", "graphiql.py", "..%2Fgraphiql.py", "%2e%2e%2fapp.py", "x.js"):
        response = await development.get(f"{ASSETS_PATH}/{name}")
        assert response.status_code == 404, name
        assert response.text == not_found, name


async def test_production_serves_neither_graphiql_nor_its_files(production: httpx.AsyncClient) -> None:
    not_found = (await production.get("/no-such-page")).text
    page = await production.get("/graphql", headers=HTML)
    assert "graphiql" not in page.text.lower()
    assert "content-security-policy" not in page.headers
    for name in SERVED:
        response = await production.get(asset_url(name))
        assert response.status_code == 404, name
        assert response.text == not_found, name
