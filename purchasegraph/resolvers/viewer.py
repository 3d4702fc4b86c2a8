"""The calling principal and what they may buy."""

from __future__ import annotations

from purchasegraph.context import Info
from purchasegraph.eligibility import Assessment, Facts, assess


async def eligibility(info: Info, product_id: str) -> Assessment | None:
    """None for a product the catalogue does not have (or an anonymous caller)."""
    viewer = info.context.viewer
    if viewer is None:
        return None
    row = await info.context.loaders.eligibility_facts(viewer.tenant_id).load(product_id)
    if row is None:
        return None
    return assess(
        Facts(
            tenant_managed=row["managed"],
            organization_type=row["organization_type"],
            country=row["country"],
            is_guest=viewer.is_guest,
            account_enabled=viewer.account_enabled and not viewer.departed,
            product_name=row["product_name"],
            product_family=row["family"],
            product_self_service=row["self_service"],
            sold_in_market=row["sold_in_market"],
            trial_available=row["trial_available"],
            trial_requires_payment_method=row["trial_requires_payment_method"],
            policy=row["policy"],
        )
    )
