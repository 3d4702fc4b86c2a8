"""Instants a client sends as filters, made UTC before any statement sees them.

asyncpg turns a datetime into UTC itself: an instant without an offset it reads in the gateway
process's own time zone (two gateways in different zones answered the same query differently),
and one whose UTC value falls outside Python's years 1 to 9999 overflowed into a server error.
Both read paths pass every DateTime filter through ``utc_instant`` instead.
"""

from __future__ import annotations

import datetime

from purchasegraph.errors import BadUserInput


def utc_instant(value: datetime.datetime | None, field: str) -> datetime.datetime | None:
    """``value`` in UTC; without an offset it is taken as UTC (as every date of the API is)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=datetime.UTC)
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        raise BadUserInput(f"`{field}` must be an instant from 0001-01-01 to 9999-12-31 in UTC.", field=field) from None
