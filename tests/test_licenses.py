"""Licenses of a self-service subscription: assigning, unassigning, adding and removing (rules 7 and 14)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg
import pytest

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.demo.actors import (
    ALEX,
    CONTOSO_ID,
    DANA,
    LEE,
    OLGA,
    OLIVIA,
    PAULA,
    PETE,
    RAJ,
    SAM,
    TESS,
    UNA,
    WOODGROVE_ID,
    demo_id,
    demo_user_id,
)
from purchasegraph.demo.global_ids import (
    DANAS_PREMIUM,
    PAULAS_POWER_BI,
    PAULAS_POWER_BI_UUID,
    PETES_PROJECT_EXPIRED,
    PETES_RPA_DELETED,
    SAMS_VISIO_DISABLED,
    user,
)
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.payments import SandboxProcessor
from purchasegraph.schema.ids import decode_uuid, encode_id
from tests.conftest import Api
from tests.factories import INSERT_USER, add_subscriptions, create_tenant
from tests.mutations import (
    ASSIGN,
    add,
    assign,
    execute_as,
    holders,
    problems,
    purchase,
    read,
    remove,
    travel_to,
    unassign,
)


async def new_contoso_users(api: Api, count: int) -> list[str]:
    """Members of Contoso that exist only for this test (its transaction is rolled back)."""
    ids = [uuid.uuid4() for _ in range(count)]
    await api.conn.executemany(
        INSERT_USER,
        [
            (CONTOSO_ID, i, f"Temp {n:02d}", f"temp{n}-{i.hex[:8]}@contoso.example", "member", "cloud", True)
            for n, i in enumerate(ids)
        ],
    )
    return [encode_id("User", i, CONTOSO_ID) for i in ids]


# -- assignLicenses -----------------------------------------------------------------------------


async def test_a_purchaser_assigns_at_most_20_users_in_one_call(api: Api) -> None:
    bought = await purchase(api, quantity=25)
    subscription_id = bought["subscription"]["id"]
    users = await new_contoso_users(api, 21)

    refused = await assign(api, PAULA, subscription_id, users)
    assert problems(refused) == [("TOO_MANY_USERS", ["userIds"])]
    assert refused["subscription"] is None
    assert (await read(api, subscription_id))["assignments"]["totalCount"] == 0

    accepted = await assign(api, PAULA, subscription_id, users[:20])
    assert accepted["userErrors"] == []
    assert accepted["subscription"]["assignments"]["totalCount"] == 20


async def test_licenses_go_only_to_users_of_the_same_tenant(api: Api) -> None:
    woodgrove_user = user(OLGA, WOODGROVE_ID)
    nobody = str(uuid.uuid4())

    payload = await assign(api, PAULA, PAULAS_POWER_BI, [woodgrove_user, nobody])
    assert problems(payload) == [("USER_NOT_IN_TENANT", ["userIds", "0"]), ("USER_NOT_IN_TENANT", ["userIds", "1"])]
    first, second = payload["userErrors"]
    assert first["message"] == second["message"]

    # Asked one at a time, a user of another tenant and a user who exists nowhere look the same.
    alone = [(await assign(api, PAULA, PAULAS_POWER_BI, [u]))["userErrors"] for u in (woodgrove_user, nobody)]
    assert alone[0] == alone[1]
    assert [(e["code"], e["field"]) for e in alone[0]] == [("USER_NOT_IN_TENANT", ["userIds", "0"])]


async def test_assigning_never_exceeds_the_quantity_bought(api: Api) -> None:
    # Paula's Power BI Pro: 10 bought, 5 assigned, 5 free.
    six = [user(u) for u in (PAULA, PETE, SAM, RAJ, TESS, UNA)]
    refused = await assign(api, PAULA, PAULAS_POWER_BI, six)
    assert problems(refused) == [("NO_LICENSES_LEFT", ["userIds"])]

    filled = await assign(api, PAULA, PAULAS_POWER_BI, six[:5])
    assert filled["userErrors"] == []
    assert filled["subscription"]["quantity"] == 10
    assert filled["subscription"]["assignments"]["totalCount"] == 10

    one_more = await assign(api, PAULA, PAULAS_POWER_BI, six[5:])
    assert problems(one_more) == [("NO_LICENSES_LEFT", ["userIds"])]
    assert (await read(api, PAULAS_POWER_BI))["assignments"]["totalCount"] == 10


async def test_a_user_already_holding_a_license_is_refused_already_assigned(api: Api) -> None:
    payload = await assign(api, PAULA, PAULAS_POWER_BI, [user(UNA), user(LEE)])
    assert problems(payload) == [("ALREADY_ASSIGNED", ["userIds", "1"])]


async def test_assignment_is_all_or_nothing(api: Api) -> None:
    before = holders(await read(api, PAULAS_POWER_BI))
    for batch in (
        [user(UNA), user(TESS), user(OLGA, WOODGROVE_ID)],  # one user of another tenant
        [user(UNA), user(TESS), user(LEE)],  # one user who already holds a license
    ):
        payload = await assign(api, PAULA, PAULAS_POWER_BI, batch)
        assert payload["userErrors"] != []
        assert payload["subscription"] is None
        assert holders(await read(api, PAULAS_POWER_BI)) == before
    assigned = await api.conn.fetchval(
        "SELECT count(*) FROM license_assignments WHERE tenant_id = $1 AND subscription_id = $2"
        " AND user_id = ANY($3::uuid[])",
        CONTOSO_ID,
        demo_id("subscription:paula-power-bi-pro"),
        [demo_user_id(UNA), demo_user_id(TESS)],
    )
    assert assigned == 0


async def test_a_user_named_twice_or_no_user_at_all_is_invalid_input(api: Api) -> None:
    twice = await assign(api, PAULA, PAULAS_POWER_BI, [user(UNA), user(UNA)])
    assert problems(twice) == [("INVALID_INPUT", ["userIds"])]
    empty = await assign(api, PAULA, PAULAS_POWER_BI, [])
    assert problems(empty) == [("INVALID_INPUT", ["userIds"])]


async def test_a_disabled_subscription_takes_no_new_assignments(api: Api) -> None:
    assert (await read(api, SAMS_VISIO_DISABLED))["status"] == "DISABLED"
    # Its purchaser keeps its billing record, but its licenses are the admins' now: he assigns nothing.
    payload = await assign(api, SAM, SAMS_VISIO_DISABLED, [user(UNA)])
    assert problems(payload) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]
    # Even the admins, once they govern it, assign nothing from it.
    taken = await api.data(
        "mutation ($s: ID!) { takeControlOfSubscription(subscriptionId: $s) { userErrors { code } } }",
        as_user=ALEX,
        variables={"s": SAMS_VISIO_DISABLED},
    )
    assert taken["takeControlOfSubscription"]["userErrors"] == []
    payload = await assign(api, ALEX, SAMS_VISIO_DISABLED, [user(UNA)])
    assert problems(payload) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]


async def test_a_deleted_subscription_takes_no_new_assignments(api: Api) -> None:
    assert (await read(api, PETES_RPA_DELETED))["status"] == "DELETED"
    payload = await assign(api, PETE, PETES_RPA_DELETED, [user(UNA)])
    assert problems(payload) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]


async def test_an_expired_subscription_still_takes_assignments(api: Api) -> None:
    expired = await read(api, PETES_PROJECT_EXPIRED)
    assert expired["status"] == "EXPIRED"
    # Both of its 2 licenses are held: none free until Pete takes one back.
    assert (expired["quantity"], expired["assignments"]["totalCount"]) == (2, 2)
    full = await assign(api, PETE, PETES_PROJECT_EXPIRED, [user(UNA)])
    assert problems(full) == [("NO_LICENSES_LEFT", ["userIds"])]

    assert (await unassign(api, PETE, PETES_PROJECT_EXPIRED, [user(OLIVIA)]))["userErrors"] == []
    payload = await assign(api, PETE, PETES_PROJECT_EXPIRED, [user(UNA)])
    assert payload["userErrors"] == []
    assert payload["subscription"]["status"] == "EXPIRED"
    assert holders(payload["subscription"]) == {PETE, UNA}


async def test_concurrent_assignments_never_oversell_a_subscription(
    pool: asyncpg.Pool, gateway_pool: asyncpg.Pool
) -> None:
    """Concurrent assignments never oversell, through the real pool: 20 purchasers' calls at once on 3 free licenses."""
    async with pool.acquire() as conn:
        tenant = await create_tenant(conn, users=21)
        await add_subscriptions(conn, tenant, count=1, orders_each=1, assignments_each=0)
        # Said outright: the factory picks its own quantity.
        await conn.execute(
            "UPDATE subscriptions SET quantity = 3 WHERE tenant_id = $1 AND id = $2",
            tenant.tenant_id,
            tenant.subscription_ids[0],
        )
    subscription_id = encode_id("Subscription", tenant.subscription_ids[0], tenant.tenant_id)
    purchaser = tenant.user_ids[0]
    processor = SandboxProcessor()
    results = await asyncio.gather(
        *(
            execute_as(
                gateway_pool,
                purchaser,
                tenant.tenant_id,
                ASSIGN,
                {"s": subscription_id, "users": [encode_id("User", u, tenant.tenant_id)]},
                processor,
            )
            for u in tenant.user_ids[1:21]
        )
    )
    codes = [[e["code"] for e in r.data["assignLicenses"]["userErrors"]] for r in results if r.data]
    assert len(codes) == 20
    live = await pool.fetchval(
        "SELECT count(*) FROM license_assignments WHERE tenant_id = $1 AND subscription_id = $2 AND removed_at IS NULL",
        tenant.tenant_id,
        tenant.subscription_ids[0],
    )
    assert (sum(c == [] for c in codes), live) == (3, 3)
    assert sum(c == ["NO_LICENSES_LEFT"] for c in codes) == 17


# -- unassignLicenses ---------------------------------------------------------------------------


async def test_unassigning_a_user_without_a_license_is_refused_not_assigned(api: Api) -> None:
    # Una never held one; Raj's was taken back a month ago.
    payload = await unassign(api, PAULA, PAULAS_POWER_BI, [user(LEE), user(UNA), user(RAJ)])
    assert problems(payload) == [("NOT_ASSIGNED", ["userIds", "1"]), ("NOT_ASSIGNED", ["userIds", "2"])]
    # All or nothing: Lee keeps his license.
    assert LEE in holders(await read(api, PAULAS_POWER_BI))


async def test_an_unassigned_license_is_free_again(api: Api) -> None:
    filled = await assign(api, PAULA, PAULAS_POWER_BI, [user(u) for u in (PAULA, PETE, SAM, RAJ, TESS)])
    assert filled["subscription"]["assignments"]["totalCount"] == 10
    assert problems(await assign(api, PAULA, PAULAS_POWER_BI, [user(UNA)])) == [("NO_LICENSES_LEFT", ["userIds"])]

    freed = await unassign(api, PAULA, PAULAS_POWER_BI, [user(LEE)])
    assert freed["userErrors"] == []
    assert LEE not in holders(freed["subscription"])
    assert freed["subscription"]["assignments"]["totalCount"] == 9

    payload = await assign(api, PAULA, PAULAS_POWER_BI, [user(UNA)])
    assert payload["userErrors"] == []
    assert UNA in holders(payload["subscription"])
    # Lee, unassigned, may be given a license again later (here: none is left).
    assert problems(await assign(api, PAULA, PAULAS_POWER_BI, [user(LEE)])) == [("NO_LICENSES_LEFT", ["userIds"])]


# -- removeLicenses -----------------------------------------------------------------------------


async def test_licenses_cannot_be_removed_below_the_assigned_count(api: Api) -> None:
    # 10 bought, 5 assigned: removing 6 would leave 4 for 5 users.
    refused = await remove(api, PAULA, PAULAS_POWER_BI, 6)
    assert problems(refused) == [("LICENSES_ASSIGNED", ["quantity"])]
    assert (await read(api, PAULAS_POWER_BI))["quantity"] == 10

    accepted = await remove(api, PAULA, PAULAS_POWER_BI, 5)
    assert accepted["userErrors"] == []
    assert accepted["subscription"]["quantity"] == 5
    assert accepted["subscription"]["assignments"]["totalCount"] == 5


async def test_removing_every_license_or_none_is_invalid_quantity(api: Api) -> None:
    everything = await remove(api, PAULA, PAULAS_POWER_BI, 10)
    assert problems(everything) == [("INVALID_QUANTITY", ["quantity"])]
    for quantity in (0, -1):
        assert problems(await remove(api, PAULA, PAULAS_POWER_BI, quantity)) == [("INVALID_QUANTITY", ["quantity"])]
    assert (await read(api, PAULAS_POWER_BI))["quantity"] == 10


async def test_removing_licenses_writes_a_remove_licenses_order_and_charges_nothing(api: Api) -> None:
    payload = await remove(api, PAULA, PAULAS_POWER_BI, 3)
    order = payload["order"]
    assert order["kind"] == "REMOVE_LICENSES"
    assert (order["quantityDelta"], order["quantityAfter"]) == (-3, 7)
    assert order["total"] == {"amount": "0.00", "currency": "USD"}
    orders = (await read(api, PAULAS_POWER_BI))["orders"]["nodes"]
    assert {
        "kind": "REMOVE_LICENSES",
        "quantityDelta": -3,
        "quantityAfter": 7,
        "total": {"amount": "0.00", "currency": "USD"},
    } in orders
    assert api.processor.settled() == []


# -- addLicenses --------------------------------------------------------------------------------


async def test_adding_licenses_charges_the_card_once_per_idempotency_key(api: Api) -> None:
    # On the first day of one of its monthly billing periods: the new licenses pay a whole month.
    period_start = await api.conn.fetchval(
        "SELECT expires_at - interval '1 month' FROM subscriptions WHERE tenant_id = $1 AND id = $2",
        CONTOSO_ID,
        PAULAS_POWER_BI_UUID,
    )
    await travel_to(api, period_start)
    before = await read(api, PAULAS_POWER_BI)
    key = uuid.uuid4().hex
    first = await add(api, PAULA, PAULAS_POWER_BI, 2, key)
    again = await add(api, PAULA, PAULAS_POWER_BI, 2, key)
    assert first["userErrors"] == again["userErrors"] == []
    assert first["order"] == again["order"]
    assert again["subscription"]["quantity"] == 12

    # 2 licenses at Paula's self-service price (10.00 USD a month), charged to her card once.
    assert [(c.amount, c.currency) for c in api.processor.settled()] == [(Decimal("20.00"), "USD")]
    order = first["order"]
    assert order["kind"] == "ADD_LICENSES"
    assert (order["quantityDelta"], order["quantityAfter"]) == (2, 12)
    assert order["total"] == {"amount": "20.00", "currency": "USD"}

    after = await read(api, PAULAS_POWER_BI)
    assert after["invoices"]["totalCount"] == before["invoices"]["totalCount"] + 1
    assert {"status": "PAID", "amount": {"amount": "20.00", "currency": "USD"}} in after["invoices"]["nodes"]
    assert sum(o["kind"] == "ADD_LICENSES" for o in after["orders"]["nodes"]) == (
        sum(o["kind"] == "ADD_LICENSES" for o in before["orders"]["nodes"]) + 1
    )


async def test_an_idempotency_key_reused_with_another_quantity_is_refused(api: Api) -> None:
    key = uuid.uuid4().hex
    assert (await add(api, PAULA, PAULAS_POWER_BI, 2, key))["userErrors"] == []
    reused = await add(api, PAULA, PAULAS_POWER_BI, 3, key)
    assert problems(reused) == [("IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"])]
    assert (await read(api, PAULAS_POWER_BI))["quantity"] == 12
    assert len(api.processor.settled()) == 1


async def test_no_one_adds_licenses_to_a_subscription_whose_purchaser_left(api: Api) -> None:
    # Her account is disabled: she signs in to nothing, as the gateway answers 401.
    with pytest.raises(RequestError) as refused:
        await add(api, DANA, DANAS_PREMIUM, 1)
    assert refused.value.code is RequestCode.UNAUTHENTICATED
    assert (await read(api, DANAS_PREMIUM))["quantity"] == 2
    assert api.processor.settled() == []


async def test_adding_licenses_is_a_purchase_the_product_policy_must_still_allow(api: Api) -> None:
    await api.conn.execute(
        "UPDATE self_service_policies SET value = 'disabled' WHERE tenant_id = $1 AND product_id = $2",
        CONTOSO_ID,
        POWER_BI_PRO,
    )
    payload = await add(api, PAULA, PAULAS_POWER_BI, 1)
    assert [e["code"] for e in payload["userErrors"]] == ["POLICY_DISABLED"]
    assert (await read(api, PAULAS_POWER_BI))["quantity"] == 10
    assert api.processor.settled() == []


async def test_a_policy_refusal_of_add_licenses_points_at_an_argument_add_licenses_has(api: Api) -> None:
    """`UserError.field` is "the path of the input at fault": addLicenses has no `productId` input."""
    await api.conn.execute(
        "UPDATE self_service_policies SET value = 'disabled' WHERE tenant_id = $1 AND product_id = $2",
        CONTOSO_ID,
        POWER_BI_PRO,
    )
    payload = await add(api, PAULA, PAULAS_POWER_BI, 1)
    assert problems(payload) == [("POLICY_DISABLED", ["subscriptionId"])]


async def test_a_subscription_never_holds_more_than_10000_licenses(api: Api) -> None:
    # 10 bought: 9,991 more would make 10,001.
    too_many = await add(api, PAULA, PAULAS_POWER_BI, 9_991)
    assert problems(too_many) == [("INVALID_QUANTITY", ["quantity"])]
    for quantity in (0, -2, 10_001):
        assert problems(await add(api, PAULA, PAULAS_POWER_BI, quantity)) == [("INVALID_QUANTITY", ["quantity"])]
    assert (await read(api, PAULAS_POWER_BI))["quantity"] == 10
    assert api.processor.settled() == []

    up_to_the_limit = await add(api, PAULA, PAULAS_POWER_BI, 9_990)
    assert up_to_the_limit["userErrors"] == []
    assert up_to_the_limit["subscription"]["quantity"] == 10_000


async def test_licenses_are_added_to_active_subscriptions_only(api: Api) -> None:
    payload = await add(api, PETE, PETES_PROJECT_EXPIRED, 1)
    assert problems(payload) == [("SUBSCRIPTION_NOT_ACTIVE", ["subscriptionId"])]
    assert api.processor.settled() == []


async def test_a_license_assigned_after_the_unassigning_transaction_began_can_be_taken_back(api: Api) -> None:
    """Found by the benchmark's write mix: an unassign that waited on the subscription lock while
    a concurrent assign committed has an older transaction time than the assignment. Its
    removal is stamped no earlier than the assignment, never refused as an internal error."""
    bought = await purchase(api, quantity=2)
    subscription_id = bought["subscription"]["id"]
    [colleague] = await new_contoso_users(api, 1)
    assert (await assign(api, PAULA, subscription_id, [colleague]))["userErrors"] == []
    # The unassigning transaction's clock reads a minute before the assignment was made.
    await api.conn.execute("SELECT set_config('purchasegraph.now', (app_now() - interval '1 minute')::text, true)")
    taken_back = await unassign(api, PAULA, subscription_id, [colleague])
    assert taken_back["userErrors"] == []
    assert taken_back["subscription"]["assignments"]["totalCount"] == 0
    assert (
        await api.conn.fetchval(
            "SELECT count(*) FROM license_assignments WHERE removed_at = assigned_at AND user_id = $1",
            decode_uuid(colleague, "User"),
        )
        == 1
    )
