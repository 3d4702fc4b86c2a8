"""A refused purchase gives exactly the reasons `viewer.eligibility` reports."""

from __future__ import annotations

import uuid

import pytest

from purchasegraph.demo.actors import DEMO_USERS, demo_tenant_id
from tests.conftest import Api

PRODUCTS = [
    "CFQ7TTC0LH2H",
    "CFQ7TTC0LH3L",
    "CFQ7TTC0LSGZ",
    "CFQ7TTC0H6RP",
    "CFQ7TTC0H9MP",
    "CFQ7TTC0HDB0",
    "CFQ7TTC0HD33",
    "CFQ7TTC0HD32",
]
# One user of each kind of standing: eligible, guest, unmanaged, government, education, India,
# Brazil, and a member of a tenant with policies. (A departed user signs in to nothing: she is
# refused before either is asked.)
BUYERS = [
    "paula.purchaser@contoso.example",
    "gus_fabrikam.example#EXT#@contoso.example",
    "vic@viral.example",
    "gail@cityofsample.example",
    "ed@northwind-school.example",
    "ines@tailspin.example",
    "bruno@fabrikam.example",
    "petra.purchaser@woodgrove.example",
]
ELIGIBILITY = "query ($p: ID!) { viewer { eligibility(productId: $p) { eligible reasons } } }"
PURCHASE = """
mutation ($input: PurchaseSubscriptionInput!) {
  purchaseSubscription(input: $input) { subscription { id } userErrors { code field } }
}
"""
DOMAINS = {u.user_principal_name: u.tenant_domain for u in DEMO_USERS}


@pytest.mark.parametrize("buyer", BUYERS)
async def test_a_purchase_is_refused_with_exactly_the_eligibility_reasons(api: Api, buyer: str) -> None:
    for product in PRODUCTS:
        eligibility = (await api.data(ELIGIBILITY, as_user=buyer, variables={"p": product}))["viewer"]["eligibility"]
        request = {
            "tenantId": str(demo_tenant_id(DOMAINS[buyer])),
            "productId": product,
            "quantity": 1,
            "card": {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"},
            "idempotencyKey": uuid.uuid4().hex,
        }
        payload = (await api.data(PURCHASE, as_user=buyer, variables={"input": request}))["purchaseSubscription"]
        codes = [e["code"] for e in payload["userErrors"]]
        assert codes == eligibility["reasons"], (buyer, product)
        assert (payload["subscription"] is not None) == eligibility["eligible"], (buyer, product)
