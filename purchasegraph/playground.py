"""The playground's front door: in development, `/` lists the demo actors with a GraphiQL link each.

Each link opens GraphiQL at /graphql with the actor's ``Authorization: Bearer <token>`` header and
an example query for that actor already filled in. The presets travel in the URL: the GraphiQL
page GET /graphql serves (purchasegraph/graphiql.py) reads ``?q=`` as the query and ``?headers=``
as the headers editor's text, and ``/graphql?q=…`` is still the page because a GraphQL GET names its
document ``query``. The tokens are development tokens minted with the server's HS256 secret; in
production the page does not exist (404, like any unknown path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from purchasegraph.db.executor import PoolExecutor
from purchasegraph.demo.tokens import demo_tokens
from purchasegraph.runtime import Runtime

GRAPHIQL_PATH = "/graphql"

PURCHASE_GRAPH = """\
{
  viewer {
    user { displayName userPrincipalName }
    homeTenant {
      name
      subscriptions(first: 50, channel: INCLUDE_SELF_SERVICE) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node {
          id status channel quantity expiresAt unitPrice { amount currency }
          product { name }
          purchaser { displayName }
          orders(first: 5) { nodes { kind quantityDelta total { amount currency } createdAt } }
          assignments(first: 25) { totalCount nodes { assignedAt user { displayName } } }
          paymentMethod { brand last4 }   # null unless the card is yours
        } }
      }
      capacity { product { name } selfServiceLicenses centralLicenses assignedLicenses freeLicenses }
    }
  }
}
"""

VIEWER_AND_ELIGIBILITY = """\
{
  viewer {
    user { displayName userPrincipalName }
    homeTenant { name country }
    tenants { access tenant { name } }
    eligibility(productId: "CFQ7TTC0HDB0") { eligible reasons message canStartTrial }
  }
}
"""

PARTNER_CUSTOMERS = """\
{
  viewer {
    user { displayName userPrincipalName }
    homeTenant { name }
    tenants {
      access
      tenant {
        name
        subscriptions(first: 20) {
          totalCount
          nodes { status quantity product { name } purchaser { displayName } }
        }
        capacity { product { name } assignedLicenses freeLicenses }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class Example:
    title: str
    query: str


# Whoever bought something, or sees the whole tenant, starts from the purchase graph (a purchaser
# sees only their own purchases in it); a delegated partner from its customers; everyone else
# from who they are and whether they may buy Project Plan 3.
_PURCHASE_GRAPH_ACTORS = frozenset({"global_admin", "billing_admin", "global_reader", "purchaser", "synced_user"})


def example_for(actor: str) -> Example:
    """The example query an actor's GraphiQL link opens with."""
    if actor == "departed_user":
        # Her account is disabled: the gateway refuses her token (401), as Azure AD would.
        return Example("a disabled account signs in to nothing: expect 401", VIEWER_AND_ELIGIBILITY)
    if actor in _PURCHASE_GRAPH_ACTORS:
        return Example("the purchase graph", PURCHASE_GRAPH)
    if actor in ("partner_active", "partner_reader"):
        return Example("the customers it acts for", PARTNER_CUSTOMERS)
    return Example("who am I, may I buy Project Plan 3?", VIEWER_AND_ELIGIBILITY)


def graphiql_link(token: str, query: str, *, path: str = GRAPHIQL_PATH) -> str:
    """GraphiQL with the query and the bearer header preset, as the page's script reads them:
    ``q`` and ``headers`` (the headers editor's JSON text), percent-encoded (its parser decodes
    with decodeURIComponent, which leaves ``+`` alone: spaces must be ``%20``)."""
    headers = json.dumps({"Authorization": f"Bearer {token}"}, indent=2)
    return f"{path}?{urlencode({'q': query, 'headers': headers}, quote_via=quote)}"


@dataclass(frozen=True)
class Actor:
    name: str
    actor: str
    tenant: str
    email: str
    link: str
    example: Example


SELECT_NAMES = """
SELECT u.user_principal_name, u.display_name, t.name AS tenant_name
FROM sign_in_names n
JOIN users u ON u.tenant_id = n.tenant_id AND u.id = n.user_id
JOIN tenants t ON t.id = u.tenant_id
WHERE n.upn_lower = ANY(SELECT lower(name) FROM unnest($1::text[]) AS name)
"""


async def demo_actors(runtime: Runtime) -> list[Actor]:
    """Every seeded demo user with a development token, in the seed's order."""
    tokens = await demo_tokens(runtime)
    if not tokens:
        return []
    rows = await PoolExecutor(runtime.owner_pool).fetch(SELECT_NAMES, [t["email"] for t in tokens])
    names = {r["user_principal_name"]: (r["display_name"], r["tenant_name"]) for r in rows}
    actors: list[Actor] = []
    for token in tokens:
        display_name, tenant_name = names.get(token["email"], (token["email"], token["tenant"]))
        example = example_for(token["actor"])
        query = f"# As {display_name} ({token['actor']}, {tenant_name}): {example.title}.\n" + example.query
        actors.append(
            Actor(
                name=display_name,
                actor=token["actor"],
                tenant=tenant_name,
                email=token["email"],
                link=graphiql_link(token["token"], query),
                example=example,
            )
        )
    return actors


# The page holds live development tokens (in its links) and needs nothing but its own inline style:
# no script runs, whatever a name in the directory holds, and no other site can frame it.
DEMO_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


async def playground(request: Request) -> Response:
    """GET /: the demo actors and a GraphiQL link for each (development only; 404 in production)."""
    runtime: Runtime = request.state.runtime
    if runtime.settings.production:
        raise HTTPException(status_code=404)
    if runtime.jwt_secret is None:
        body = (
            "<p>This server verifies tokens against a JWKS (<code>PURCHASEGRAPH_JWKS_URL</code>), so it has no "
            "development secret to mint demo tokens with.</p>"
        )
    else:
        actors = await demo_actors(runtime)
        body = (
            _table(actors)
            if actors
            else (
                "<p>The demo world is not in this database: run <code>purchasegraph seed</code> (or start with "
                "<code>PURCHASEGRAPH_SEED_DEMO=on</code>) and reload.</p>"
            )
        )
    return HTMLResponse(
        _PAGE.format(graphiql=escape(GRAPHIQL_PATH), body=body),
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": DEMO_PAGE_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _table(actors: list[Actor]) -> str:
    rows = "\n".join(
        "<tr>"
        f"<td>{escape(a.name)}</td><td><code>{escape(a.actor)}</code></td><td>{escape(a.tenant)}</td>"
        f"<td>{escape(a.email)}</td>"
        f'<td><a class="open" href="{escape(a.link)}" data-email="{escape(a.email)}">'
        f"GraphiQL as {escape(a.name)}</a> <small>{escape(a.example.title)}</small></td>"
        "</tr>"
        for a in actors
    )
    return (
        "<table>\n<thead><tr><th>name</th><th>role</th><th>tenant</th><th>sign-in</th><th>open</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>"
    )


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>purchasegraph playground</title>
<style>
  body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }}
  table {{ border-collapse: collapse; width: 100%; }}
  th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
  th {{ font-weight: 600; }}
  small {{ color: #666; }}
  .note {{ background: #fff8e1; border: 1px solid #f0d890; padding: .5rem .8rem; }}
</style>
</head>
<body>
<h1>purchasegraph playground</h1>
<p>Pick a demo actor: the link opens <a href="{graphiql}">GraphiQL</a> signed in as them (the
<code>Authorization: Bearer</code> header is filled in) with an example query. Run it with
Ctrl-Enter or the &#9654; button. Without a token you are anonymous and see only the public catalogue.</p>
<p class="note">These are development tokens for the demo world, minted with this server's development
secret. This page is not served in production.</p>
{body}
</body>
</html>
"""
