"""Ready-made bearer tokens for the demo world's actors (development only)."""

from __future__ import annotations

from typing import TypedDict

from purchasegraph.db.executor import PoolExecutor
from purchasegraph.db.queries.users import fetch_user_by_principal_name
from purchasegraph.db.seed import DEMO_USERS
from purchasegraph.identity import mint_token
from purchasegraph.runtime import Runtime


class DemoToken(TypedDict):
    email: str
    tenant: str
    actor: str
    token: str


async def demo_tokens(runtime: Runtime) -> list[DemoToken]:
    """A token per seeded demo user; users missing from the database (not seeded) are skipped."""
    if runtime.jwt_secret is None:
        raise RuntimeError("demo tokens need the HS256 development secret; a JWKS deployment has none")
    db = PoolExecutor(runtime.owner_pool)  # users of every demo tenant: past row-level security
    tokens: list[DemoToken] = []
    for demo in DEMO_USERS:
        row = await fetch_user_by_principal_name(db, demo.user_principal_name)
        if row is None:
            continue
        token = mint_token(
            secret=runtime.jwt_secret,
            user_id=row["id"],
            tenant_id=row["tenant_id"],
            issuer=runtime.settings.jwt_issuer,
            audience=runtime.settings.jwt_audience,
            name=demo.display_name,
            preferred_username=demo.user_principal_name,
        )
        tokens.append(
            DemoToken(email=demo.user_principal_name, tenant=demo.tenant_domain, actor=demo.actor, token=token)
        )
    return tokens


async def first_demo_sign_in(runtime: Runtime) -> str | None:
    """The sign-in name of the first demo actor (the global admin), when the demo world is seeded:
    the banner's example of `purchasegraph token EMAIL`."""
    first = DEMO_USERS[0].user_principal_name
    row = await fetch_user_by_principal_name(PoolExecutor(runtime.owner_pool), first)
    return first if row is not None else None
