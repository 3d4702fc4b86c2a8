"""GraphiQL served by the gateway itself: the page at GET /graphql and its files under /playground/.

React, ReactDOM, GraphiQL and its explorer plugin ship inside the package (``playground_assets/``;
its README.md names the npm package, version and sha256 of every file), so ``pip install`` and
``serve`` give a working playground with no internet, and the page loads nothing from another
origin: its Content-Security-Policy lets the browser fetch scripts, styles and data from this
server only. The vendored files carry their version in their name, so their URLs never change
content and are cached for a year; the page's own script is revalidated.

In production neither the page nor its files are served (404, like any unknown path): nothing
there is secret, but a production gateway serves its API and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from purchasegraph.runtime import Runtime

ASSETS_DIR = Path(__file__).parent / "playground_assets"
ASSETS_PATH = "/playground"

JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"

# The files copied unchanged from npm packages (playground_assets/README.md says from which).
VENDORED: MappingProxyType[str, str] = MappingProxyType(
    {
        "react-18.3.1.production.min.js": JAVASCRIPT,
        "react-dom-18.3.1.production.min.js": JAVASCRIPT,
        "graphiql-3.9.0.min.js": JAVASCRIPT,
        "graphiql-3.9.0.min.css": CSS,
        "graphiql-plugin-explorer-3.2.6.umd.js": JAVASCRIPT,
        "graphiql-plugin-explorer-3.2.6.css": CSS,
    }
)
# Ours: it mounts GraphiQL (the presets from the URL, the fetcher, the explorer plugin).
PAGE_SCRIPT = "graphiql-page.js"
SERVED: MappingProxyType[str, str] = MappingProxyType({**VENDORED, PAGE_SCRIPT: JAVASCRIPT})

# A year, never revalidated: a new version of a vendored file is a new file name.
IMMUTABLE = "public, max-age=31536000, immutable"

# Everything from this origin and nowhere else. GraphiQL sets inline styles (style-src
# 'unsafe-inline') and draws icons from data: URLs; the page's script is a file, so script-src
# needs no 'unsafe-inline'. 'self' in connect-src covers the same host's ws:/wss: (CSP Level 3,
# https://www.w3.org/TR/CSP3/#match-url-to-source-expression), the subscriptions' websocket.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def asset_url(name: str) -> str:
    return f"{ASSETS_PATH}/{name}"


GRAPHIQL_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>purchasegraph GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{asset_url("graphiql-3.9.0.min.css")}">
<link rel="stylesheet" href="{asset_url("graphiql-plugin-explorer-3.2.6.css")}">
<style>
  body {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }}
  #graphiql {{ height: 100vh; display: flex; }}
</style>
</head>
<body>
<div id="graphiql" class="graphiql-container">Loading...</div>
<script src="{asset_url("react-18.3.1.production.min.js")}"></script>
<script src="{asset_url("react-dom-18.3.1.production.min.js")}"></script>
<script src="{asset_url("graphiql-3.9.0.min.js")}"></script>
<script src="{asset_url("graphiql-plugin-explorer-3.2.6.umd.js")}"></script>
<script src="{asset_url(PAGE_SCRIPT)}"></script>
</body>
</html>
"""


def graphiql_page() -> HTMLResponse:
    """The GraphiQL page GET /graphql answers a browser with (development only)."""
    return HTMLResponse(
        GRAPHIQL_PAGE,
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def playground_asset(request: Request) -> Response:
    """GET /playground/{name}: one of the page's files (development only; 404 in production)."""
    runtime: Runtime = request.state.runtime
    name = request.path_params["name"]
    # Only the names listed above: the path never reaches the file system unchecked.
    media_type = SERVED.get(name)
    if runtime.settings.production or media_type is None:
        raise HTTPException(status_code=404)
    return FileResponse(
        ASSETS_DIR / name,
        media_type=media_type,
        headers={
            "Cache-Control": IMMUTABLE if name in VENDORED else "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )
