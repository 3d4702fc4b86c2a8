"""The partner's fleet: the tenants a principal reaches, paged as a Relay connection.

The list is the principal's own (``policy.reach_of``: home first, then each customer of a
relationship in force, by directory id), read with the principal at sign-in, so a page is cut in
memory; the resolver and the compiled read path both cut it here, with the rules of
``db/pagination.py``: the window ``after < key < before``, its first ``first`` (default 20, at
most 100) or last ``last`` items; ``hasNextPage`` says an item sorts after the page's end (or, on
an empty page, after ``after``), ``hasPreviousPage`` one before its start. A cursor holds the
item's sort key (home or customer, directory id), so it pages on even after the tenant it names
has left the reach.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

from purchasegraph.db.ordering import cursor_json
from purchasegraph.db.pagination import DEFAULT_PAGE_SIZE, check_page_size
from purchasegraph.errors import BadUserInput
from purchasegraph.policy import Reach

# The first item of a cursor: which connection issued it.
CURSOR_SIGNATURE = "AccessibleTenant"
MAX_CURSOR_LENGTH = 200

Key = tuple[bool, uuid.UUID]  # (is a customer, directory id): home sorts first


@dataclass(frozen=True)
class FleetPage:
    items: tuple[Reach, ...]
    has_previous_page: bool
    has_next_page: bool
    total_count: int

    @property
    def cursors(self) -> tuple[str, ...]:
        """Each item's cursor: its sort key, which it holds whatever the reach becomes."""
        return tuple(encode_cursor(key_of(reach)) for reach in self.items)


def key_of(reach: Reach) -> Key:
    return (not reach.at_home, reach.scope.tenant_id)


def encode_cursor(key: Key) -> str:
    text = json.dumps([CURSOR_SIGNATURE, int(key[0]), str(key[1])], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str, field: str) -> Key:
    """The key a cursor of this connection holds; anything else is refused as the field's input."""
    decoded = cursor_json(cursor, MAX_CURSOR_LENGTH)
    if isinstance(decoded, list) and len(decoded) == 3 and decoded[0] == CURSOR_SIGNATURE and decoded[1] in (0, 1):
        try:
            return (bool(decoded[1]), uuid.UUID(str(decoded[2])))
        except ValueError:
            pass
    raise BadUserInput(f"`{field}` is not a cursor of this connection.", field=field)


def page_of(
    reach: list[Reach], *, first: int | None, after: str | None, last: int | None, before: str | None
) -> FleetPage:
    """One page of ``reach`` (in ``reach_of``'s order), or BadUserInput for arguments the
    connections of ``db/pagination.py`` refuse."""
    check_page_size(first=first, last=last)
    low = decode_cursor(after, "after") if after is not None else None
    high = decode_cursor(before, "before") if before is not None else None
    keys = [key_of(r) for r in reach]
    window = [i for i, k in enumerate(keys) if (low is None or k > low) and (high is None or k < high)]
    upto_after = low is not None and any(k <= low for k in keys)
    from_before = high is not None and any(k >= high for k in keys)
    if last is not None:
        chosen = window[max(len(window) - last, 0) :] if last else []
        has_previous = len(window) > last or upto_after
        has_next = from_before
    else:
        size = DEFAULT_PAGE_SIZE if first is None else first
        chosen = window[:size]
        has_previous = upto_after
        has_next = len(window) > size or from_before
    return FleetPage(
        items=tuple(reach[i] for i in chosen),
        has_previous_page=has_previous,
        has_next_page=has_next,
        total_count=len(reach),
    )
