"""Who may buy what, read where a purchase is decided: the product in the buyer's market, the
tenant's policy for it and the buyer's standing, with the buyer's row locked meanwhile."""

from __future__ import annotations

from purchasegraph.commerce.codes import ErrorCode, code_of
from purchasegraph.commerce.records import require
from purchasegraph.commerce.unit_of_work import Problem, Refusal, Work, refuse
from purchasegraph.db.executor import Record
from purchasegraph.db.queries.eligibility import SELECT_ELIGIBILITY_FACTS
from purchasegraph.eligibility import CONTACT_IT_ADMIN, Assessment, Reason, assess, facts_from
from purchasegraph.policy import may_buy

# The buyer's standing. A purchase or a trial reads it locked (SELECT_USER_STANDING): one buyer's
# purchases and trials take turns, so a rule checked before an insert (one trial per product) sees
# what the buyer's concurrent request committed. NO KEY: rows that merely reference the user
# (assignments, orders) are not held up.
READ_USER_STANDING = """
SELECT user_type = 'guest' AS is_guest, account_enabled AND departed_at IS NULL AS can_sign_in
  FROM users WHERE tenant_id = $1 AND id = $2
"""
SELECT_USER_STANDING = READ_USER_STANDING + "   FOR NO KEY UPDATE\n"


async def product_for_buyer(work: Work, product_id: str, *, lock_buyer: bool = True) -> tuple[Record, Assessment]:
    """The product with its self-service price in the buyer's market, and the buyer's eligibility.
    Without ``lock_buyer`` (a license request, which buys nothing) the buyer's row is only read: a
    request tells the admins, whose rows a departure holds while it waits to update the requester."""
    require(may_buy(work.scope), "tenant", "tenantId")
    row = await work.conn.fetchrow(SELECT_ELIGIBILITY_FACTS, work.scope.tenant_id, [product_id])
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such product.", "productId")
    standing_of = SELECT_USER_STANDING if lock_buyer else READ_USER_STANDING
    standing = await work.conn.fetchrow(standing_of, work.scope.tenant_id, work.viewer.user_id)
    facts = facts_from(row, is_guest=standing["is_guest"], account_enabled=standing["can_sign_in"])
    return row, assess(facts)


def refuse_for(reasons: tuple[Reason, ...], message: str = CONTACT_IT_ADMIN, field: str = "productId") -> Refusal:
    # The same codes `viewer.eligibility` reports, one userError per reason.
    return Refusal(*(Problem(code_of(r), f"{r.value} {message}", (field,)) for r in reasons))
