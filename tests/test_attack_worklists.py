"""What an outside attack on the admin worklists found, kept as rules: a DateTime filter is an
instant in UTC on both read paths (no server error out of range, no dependence on the gateway's
zone), and a cancellation request whose subscription was deleted by its dates is not answered
and leaves the open worklist."""

from __future__ import annotations

from typing import Any

import pytest

from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.db.executor import ConnectionExecutor
from purchasegraph.demo.actors import ALEX, CONTOSO
from purchasegraph.settings import ThrottleSettings
from tests.conftest import Api
from tests.settings import gateway_settings
from tests.test_http import serving, token_for

ALEX_AT = ("alex.admin@contoso.example", "contoso.example")
SUBS = """query ($t: ID!, $before: DateTime, $since: DateTime) {
  tenant(id: $t) { subscriptions(first: 5, expiresBefore: $before, purchasedSince: $since) { totalCount nodes { id } } }
}"""
PURCHASES = """query ($t: ID!, $before: DateTime, $since: DateTime) {
  tenant(id: $t) { purchases(first: 5, expiresBefore: $before, purchasedSince: $since) { totalCount nodes { id } } }
}"""
# An instant that exists but whose UTC value falls outside Python's datetime range.
OUT_OF_RANGE = [
    {"before": "0001-01-01T00:00:00+14:00"},
    {"since": "9999-12-31T23:59:59-14:00"},
]


@pytest.mark.parametrize("query", [SUBS, PURCHASES], ids=["subscriptions", "purchases"])
@pytest.mark.parametrize("variables", OUT_OF_RANGE)
async def test_an_instant_beyond_the_utc_range_is_bad_input_on_both_paths(
    api: Api, query: str, variables: dict[str, Any]
) -> None:
    """Finding: asyncpg converts the aware datetime to UTC and overflows; the resolver path answers
    an error whose message is "None" (an internal error), the compiled path raises DataError."""
    result = await api.execute(query, as_user=ALEX, variables={"t": CONTOSO, **variables})
    assert result.errors, "expected a refusal"
    codes = {(e.extensions or {}).get("code") for e in result.errors}
    assert codes == {"INVALID_INPUT"} or codes == {"BAD_USER_INPUT"}, result.errors
    compiled = await api.compiled(query, as_user=ALEX, variables={"t": CONTOSO, **variables})
    assert compiled is None or "errors" not in compiled  # never an uncaught DataError


@pytest.mark.parametrize("compiled_reads", [True, False], ids=["compiled", "resolvers"])
@pytest.mark.parametrize("variables", OUT_OF_RANGE)
async def test_an_instant_beyond_the_utc_range_is_not_a_server_error_over_http(
    database_url: str, pool: object, compiled_reads: bool, variables: dict[str, Any]
) -> None:
    """Finding: the compiled path answers HTTP 500 for the whole request, the resolvers 200 with an
    INTERNAL_SERVER_ERROR on the field: a server error on bad input, and the paths disagree."""
    settings = gateway_settings(database_url, compiled_reads=compiled_reads, throttle=ThrottleSettings(restore_rate=0))
    async with serving(settings) as client:
        response = await client.post(
            "/graphql",
            json={"query": SUBS, "variables": {"t": CONTOSO, **variables}},
            headers={"Authorization": f"Bearer {token_for(*ALEX_AT)}"},
        )
    assert response.status_code < 500, response.text
    codes = {(e.get("extensions") or {}).get("code") for e in response.json().get("errors") or []}
    assert "INTERNAL_SERVER_ERROR" not in codes, response.text


# ---------------------------------------------------------------------------------------------
# A cancellation request outlives its subscription's deletion by the lifecycle

from purchasegraph.demo.actors import CONTOSO_ID, PAULA  # noqa: E402
from purchasegraph.demo.global_ids import PAULAS_POWER_BI_UUID  # noqa: E402
from tests.mutations import mutate  # noqa: E402
from tests.test_admin_worklists import ANSWER, REQUESTS, ask_paula  # noqa: E402

AGE_PAULAS_POWER_BI = """
UPDATE subscriptions SET term_start = app_now() - interval '230 days', created_at = app_now() - interval '230 days',
       expires_at = app_now() - interval '200 days', auto_renew = false
 WHERE tenant_id = $1 AND id = $2"""


async def test_a_request_whose_subscription_the_lifecycle_deleted_is_no_longer_open(api: Api) -> None:
    """A subscription that reaches DELETED by the status rule (120 days past its end) has nothing
    left to answer: the purchaser's accept and decline are refused on `requestId`, and the sweep
    that stores DELETED closes the request, which leaves the admins' OPEN worklist."""
    request_id = await ask_paula(api)
    await api.conn.execute(AGE_PAULAS_POWER_BI, CONTOSO_ID, PAULAS_POWER_BI_UUID)
    # Before the sweep: neither answer is taken, and the refusal names the mutation's own argument.
    accepted = await mutate(api, ANSWER, PAULA, r=request_id, accept=True, m="")
    declined = await mutate(api, ANSWER, PAULA, r=request_id, accept=False, m="no")
    for answer in (accepted, declined):
        assert [(e["code"], e["field"]) for e in answer["userErrors"]] == [
            ("SUBSCRIPTION_NOT_ACTIVE", ["requestId"])
        ], answer
    # The sweep stores DELETED and closes the request: the worklist no longer lists it as open.
    await sweep(ConnectionExecutor(api.conn), api.processor)
    open_requests = await api.data(REQUESTS, as_user=ALEX, variables={"t": CONTOSO, "status": ["OPEN"]})
    listed = {n["id"] for n in open_requests["tenant"]["cancellationRequests"]["nodes"]}
    assert request_id not in listed, "a request on a DELETED subscription is still in the OPEN worklist"


# ---------------------------------------------------------------------------------------------
# A DateTime without an offset means whatever the gateway process's local zone says

import datetime  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402


@pytest.fixture
def process_zone() -> Any:
    before = os.environ.get("TZ")

    def set_zone(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield set_zone
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


async def test_a_date_filter_without_an_offset_does_not_depend_on_the_gateway_s_zone(
    api: Api, process_zone: Any
) -> None:
    """Finding: an offset-less DateTime reaches asyncpg naive, and asyncpg's ``astimezone(utc)``
    reads it in the *process's* local zone; the same request lists different subscriptions on two
    gateways whose TZ differs. An offset-less instant should be refused (or read as UTC)."""
    expiry: datetime.datetime = await api.conn.fetchval(
        "SELECT min(expires_at) FROM subscriptions WHERE tenant_id = $1 AND expires_at > app_now()", CONTOSO_ID
    )
    naive = (expiry.astimezone(datetime.UTC) + datetime.timedelta(hours=1)).replace(tzinfo=None).isoformat()
    answers = {}
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        process_zone(zone)
        result = await api.execute(SUBS, as_user=ALEX, variables={"t": CONTOSO, "before": naive})
        answers[zone] = (
            result.errors and sorted({str((e.extensions or {}).get("code")) for e in result.errors}),
            result.data and result.data["tenant"]["subscriptions"]["totalCount"],
        )
    assert len(set(map(str, answers.values()))) == 1, answers
