"""How a row that references a subscription (an order, an assignment) reaches it in SQL, for the
objects and the connections alike: a row is visible where its subscription is."""

from __future__ import annotations

# A row's subscription `{j}` (an order's, an assignment's), where the row's visibility is decided:
# the opening of an EXISTS whose predicate the caller closes.
SUBSCRIPTION_OF_ROW = (
    "EXISTS (SELECT 1 FROM subscriptions {j} WHERE {j}.tenant_id = {a}.tenant_id AND {j}.id = {a}.subscription_id AND "
)


def of_subscription(column: str) -> str:
    """A column of the subscription of a row `{a}` that references one (an order, an assignment)."""
    return (
        f"(SELECT s.{column} FROM subscriptions s WHERE s.tenant_id = {{a}}.tenant_id AND s.id = {{a}}.subscription_id)"
    )
