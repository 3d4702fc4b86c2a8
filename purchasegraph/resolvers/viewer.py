"""The calling principal and what they may buy."""

from __future__ import annotations

from purchasegraph.context import Info
from purchasegraph.eligibility import Assessment, assess, facts_from
from purchasegraph.principals import SignedInUser


async def eligibility(info: Info, product_id: str) -> Assessment | None:
    """None for a product the catalogue does not have (or a caller who is no user: they buy nothing)."""
    viewer = info.context.viewer
    if not isinstance(viewer, SignedInUser):
        return None
    row = await info.context.loaders.eligibility_facts(viewer.tenant_id).load(product_id)
    if row is None:
        return None
    return assess(facts_from(row, is_guest=viewer.is_guest, account_enabled=viewer.can_sign_in))
