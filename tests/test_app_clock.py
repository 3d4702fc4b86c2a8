"""The app clock is the only clock, and the suite holds on any date.

Every date rule reads SQL's ``app_now()``; ``PURCHASEGRAPH_TODAY`` puts a server (or the whole
suite, seed included) on a chosen date. The last test runs the date-sensitive modules on the
dates calendars get wrong, each in a fresh process with its own database seeded on that day.
"""

from __future__ import annotations

import datetime
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from purchasegraph.db.clock import clock_offset, clock_server_settings
from purchasegraph.demo.actors import CONTOSO, CONTOSO_ID, PAT, demo_tenant_id
from purchasegraph.settings import settings_from_env
from tests.conftest import Api
from tests.mutations import travel_to

ADATUM_ID = demo_tenant_id("adatum-partners.example")
TENANT = "query ($t: ID!) { tenant(id: $t) { name } }"
RELATIONSHIPS = "query ($t: ID!) { tenant(id: $t) { partnerRelationships { inForce } } }"


async def relationship_dates(api: Api) -> tuple[datetime.datetime, datetime.datetime]:
    row = await api.conn.fetchrow(
        "SELECT starts_at, ends_at FROM partner_relationships WHERE tenant_id = $1 AND partner_tenant_id = $2",
        CONTOSO_ID,
        ADATUM_ID,
    )
    assert row is not None
    return row["starts_at"], row["ends_at"]


async def test_a_partner_acts_for_a_customer_only_while_the_app_clock_is_inside_the_relationship(api: Api) -> None:
    starts, ends = await relationship_dates(api)
    inside = {
        starts + datetime.timedelta(minutes=1): True,
        ends - datetime.timedelta(minutes=1): True,
        starts - datetime.timedelta(minutes=1): False,
        ends + datetime.timedelta(minutes=1): False,
    }
    for moment, in_force in inside.items():
        await travel_to(api, moment)
        # The viewer's grants and row-level security's reach both follow the app clock.
        partner_view = await api.data(TENANT, as_user=PAT, variables={"t": CONTOSO})
        assert (partner_view["tenant"] is not None) == in_force, moment
        # So does the customer's own list of its relationships.
        admin_view = await api.data(RELATIONSHIPS, as_user="alex.admin@contoso.example", variables={"t": CONTOSO})
        assert [r["inForce"] for r in admin_view["tenant"]["partnerRelationships"] if r["inForce"]] == (
            [True] if in_force else []
        ), moment


async def test_the_clock_offset_moves_app_now_by_whole_days_and_keeps_the_time_of_day(api: Api) -> None:
    target = datetime.date(2028, 2, 29)
    await api.conn.execute("SELECT set_config('purchasegraph.clock_offset', $1, true)", clock_offset(target))
    moved, real = await api.conn.fetchrow("SELECT app_now(), now()")
    assert moved.astimezone(datetime.UTC).date() == target
    assert (moved - real) % datetime.timedelta(days=1) == datetime.timedelta(0)
    # A fixed instant (travel_to) still wins over the offset.
    fixed = datetime.datetime(2030, 6, 1, 12, tzinfo=datetime.UTC)
    await travel_to(api, fixed)
    assert await api.conn.fetchval("SELECT app_now()") == fixed


def test_purchasegraph_today_names_the_app_clock_date_and_is_refused_when_malformed() -> None:
    assert settings_from_env({"PURCHASEGRAPH_TODAY": "2027-12-31"}).today == datetime.date(2027, 12, 31)
    assert settings_from_env({}).today is None
    assert clock_server_settings(None) == {}
    with pytest.raises(ValueError, match="PURCHASEGRAPH_TODAY must be a date"):
        settings_from_env({"PURCHASEGRAPH_TODAY": "31/12/2027"})


# The dates calendars get wrong: month ends of every length, a leap day, the year's last day.
HARD_DATES = ["2027-01-31", "2027-02-28", "2028-02-29", "2026-12-31", "2027-04-30"]
# The modules whose rules read dates: terms, renewals, trials, the sweep, bills, and the seed's
# statuses that the scope and authorization tests are built on.
DATE_SENSITIVE = [
    "tests/test_lifecycle.py",
    "tests/test_billing.py",
    "tests/test_purchasing.py",
    "tests/test_licenses.py",
    "tests/test_governance.py",
    "tests/test_scope_edges.py",
    "tests/test_authorization_matrix.py",
    "tests/test_app_clock.py",
]


def _dates_to_run() -> list[str]:
    """The hard dates and one random date; PURCHASEGRAPH_TEST_DATES (comma-separated) replays others."""
    chosen = os.environ.get("PURCHASEGRAPH_TEST_DATES")
    if chosen:
        return [d.strip() for d in chosen.split(",") if d.strip()]
    day = datetime.date(2026, 1, 1) + datetime.timedelta(days=random.SystemRandom().randrange(5 * 365))
    return [*HARD_DATES, day.isoformat()]


@pytest.mark.skipif(
    bool(os.environ.get("PURCHASEGRAPH_TODAY")), reason="already running on a chosen date (a run this test started)"
)
def test_the_date_sensitive_rules_hold_on_month_ends_leap_days_and_a_random_date(tmp_path: Path) -> None:
    failures = []
    for day in _dates_to_run():
        # Printed (pytest shows it with the failure) so a random date that fails can be replayed.
        print(f"PURCHASEGRAPH_TODAY={day}")
        env = {**os.environ, "PURCHASEGRAPH_TODAY": day}
        run = subprocess.run(  # noqa: S603 - this interpreter running pytest on the project's own tests
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--basetemp={tmp_path / day}",
                *DATE_SENSITIVE,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if run.returncode != 0:
            tail = "\n".join(run.stdout.splitlines()[-25:])
            failures.append(f"PURCHASEGRAPH_TODAY={day} python -m pytest {' '.join(DATE_SENSITIVE)}\n{tail}")
    assert not failures, "\n\n".join(failures)
