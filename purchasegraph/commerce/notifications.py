"""Notifications: a user marks what they have been told as read; only ever their own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.unit_of_work import Problem, Refusal, Work, refuse
from purchasegraph.db.pagination import MAX_PAGE_SIZE
from purchasegraph.policy import NOTIFICATION_VISIBLE

# The most ids one call names: as many as a page of `notifications` holds.
MAX_IDS_PER_CALL = MAX_PAGE_SIZE

_MINE = NOTIFICATION_VISIBLE.format(n="n", tenant="$1", user="$2")
SELECT_MINE = f"SELECT n.id FROM notifications n WHERE {_MINE} AND n.id = ANY($3::uuid[])"
# Null ids: all of mine. One already read keeps the time it was first read.
MARK_READ = f"""
UPDATE notifications n SET read_at = app_now()
 WHERE {_MINE} AND n.read_at IS NULL AND ($3::uuid[] IS NULL OR n.id = ANY($3::uuid[]))
"""


async def mark_read(work: Work, *, ids: Sequence[uuid.UUID | None] | None) -> dict[str, Any]:
    """Mark the named notifications of the viewer read, or all of them; an id that is not one of
    theirs (someone else's, or none at all) is not found, and then nothing is marked."""
    viewer = work.viewer  # an application has no notifications: refused
    if ids is not None:
        if len(ids) > MAX_IDS_PER_CALL:
            raise refuse(ErrorCode.INVALID_INPUT, f"At most {MAX_IDS_PER_CALL} ids in one call.", "ids")
        named = [i for i in ids if i is not None]
        found = {r["id"] for r in await work.conn.fetch(SELECT_MINE, viewer.tenant_id, viewer.user_id, named)}
        missing = [i for i, key in enumerate(ids) if key not in found]
        if missing:
            raise Refusal(*(Problem(ErrorCode.NOT_FOUND, "No such notification.", ("ids", str(i))) for i in missing))
    status = await work.conn.execute(
        MARK_READ, viewer.tenant_id, viewer.user_id, None if ids is None else [i for i in ids if i is not None]
    )
    marked = int(status.split()[-1])
    work.details.update(marked=marked, all=ids is None)
    return {"marked": marked}
