"""The app clock's setting: a server, or the test suite, living on a chosen date.

Every date rule reads SQL's ``app_now()`` (migrations 0002 and 0007), which is ``now()`` moved by
``purchasegraph.clock_offset``. ``PURCHASEGRAPH_TODAY`` names the date; the offset is the whole
days from today's real date to it, so the clock keeps the real time of day and keeps moving.
"""

from __future__ import annotations

import datetime

CLOCK_OFFSET_SETTING = "purchasegraph.clock_offset"


def clock_offset(today: datetime.date) -> str:
    """The interval, in PostgreSQL's syntax, that moves the real date to ``today``."""
    days = (today - datetime.datetime.now(datetime.UTC).date()).days
    return f"{days} days"


def clock_server_settings(today: datetime.date | None) -> dict[str, str]:
    """Connection start-up settings that put a session on ``today`` (none for the real date)."""
    return {} if today is None else {CLOCK_OFFSET_SETTING: clock_offset(today)}
