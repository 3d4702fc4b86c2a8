"""Development bearer tokens: for any user by sign-in name, and ready-made for every demo actor."""

from __future__ import annotations

from typing import TypedDict

from purchasegraph.db.executor import PoolExecutor
from purchasegraph.db.queries.users import fetch_user_by_principal_name
from purchasegraph.demo.actors import DEMO_USERS
from purchasegraph.identity import mint_token
from purchasegraph.runtime import Runtime


class DemoToken(TypedDict):
    email: str
    tenant: str
    actor: str
    token: str


async def user_token(
    runtime: Runtime, upn: str, *, ttl_seconds: int = 12 * 3600, name: str | None = None
) -> str | None:
    """A token for the user who signs in as ``upn``, of any tenant; None when there is no such user
    or the deployment verifies tokens against a JWKS and so has no secret to sign with."""
    # Any tenant's user: a cross-tenant look-up, past row-level security, so the owner's pool.
    row = await fetch_user_by_principal_name(PoolExecutor(runtime.owner_pool), upn)
    if row is None or runtime.jwt_secret is None:
        return None
    preferred_username = upn if name is not None else None
    return mint_token(
        secret=runtime.jwt_secret,
        user_id=row["id"],
        tenant_id=row["tenant_id"],
        issuer=runtime.settings.jwt_issuer,
        audience=runtime.settings.jwt_audience,
        ttl_seconds=ttl_seconds,
        name=name,
        preferred_username=preferred_username,
    )


async def demo_tokens(runtime: Runtime) -> list[DemoToken]:
    """A token per seeded demo user; users missing from the database (not seeded) are skipped."""
    if runtime.jwt_secret is None:
        raise RuntimeError("demo tokens need the HS256 development secret; a JWKS deployment has none")
    tokens: list[DemoToken] = []
    for demo in DEMO_USERS:
        token = await user_token(runtime, demo.user_principal_name, name=demo.display_name)
        if token is not None:
            email = demo.user_principal_name
            tokens.append(DemoToken(email=email, tenant=demo.tenant_domain, actor=demo.actor, token=token))
    return tokens


async def first_demo_sign_in(runtime: Runtime) -> str | None:
    """The sign-in name of the first demo actor (the global admin), when the demo world is seeded:
    the banner's example of `purchasegraph token EMAIL`."""
    first = DEMO_USERS[0].user_principal_name
    row = await fetch_user_by_principal_name(PoolExecutor(runtime.owner_pool), first)
    return first if row is not None else None
