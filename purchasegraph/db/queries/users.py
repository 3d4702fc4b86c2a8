"""Users: whole-tenant viewers and members see the directory; a guest sees only themselves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db import ordering
from purchasegraph.db.batch import RowSource, fetch_by_ids, fetch_tenant_page
from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.policy import USER_VISIBLE, Scope

ROWS = RowSource(
    source="FROM users u",
    alias="u",
    columns="""u.tenant_id, u.id, u.display_name, u.user_principal_name, u.mail, u.user_type, u.source,
       u.account_enabled, u.departed_at""",
)

# $3 here is "sees the directory" (see fetch_users_by_id).
SELECT_USERS_BY_ID = ROWS.by_ids(USER_VISIBLE.format(u="u", directory="$3::bool", viewer="$4::uuid"))

# The directory's `search` over a user `{u}`: {prefix} the escaped prefix (``search_prefix``),
# NULL for all. Shared with the compiled read path.
SEARCH = """({prefix} IS NULL
             OR lower({u}.display_name) LIKE lower({prefix}) || '%'
             OR lower({u}.user_principal_name) LIKE lower({prefix}) || '%')"""

# $7 here is "sees the directory", $9 a name or UPN prefix (NULL = all).
SELECT_USERS_BY_TENANT = ROWS.listing(
    "tenant_id",
    f"""{USER_VISIBLE.format(u="u", directory="$7::bool", viewer="$8::uuid")}
        AND {SEARCH.format(u="u", prefix="$9::text")}""",
    ordering.USER,
)

# A sign-in name is unique over all tenants, so its tenant is found in the directory first
# (sign_in_names, a table every server holds); the user is then read within that tenant.
SELECT_USER_BY_PRINCIPAL_NAME = """
SELECT u.tenant_id, u.id, u.display_name, u.user_principal_name
  FROM sign_in_names n
  JOIN users u ON u.tenant_id = n.tenant_id AND u.id = n.user_id
 WHERE n.upn_lower = lower($1)
"""


async def fetch_users_by_id(db: Executor, *, scope: Scope, ids: Sequence[uuid.UUID]) -> list[Record | None]:
    return await fetch_by_ids(db, SELECT_USERS_BY_ID, scope=scope, ids=ids, widen_to=scope.sees_directory)


async def fetch_users_by_tenant(db: Executor, *, scope: Scope, page: PageArgs, search: str | None) -> Slice:
    return await fetch_tenant_page(
        db,
        SELECT_USERS_BY_TENANT,
        scope=scope,
        page=page,
        filters=(search_prefix(search),),
        widen_to=scope.sees_directory,
    )


async def fetch_user_by_principal_name(db: Executor, user_principal_name: str) -> Record | None:
    """For the CLI's `token EMAIL`: not a request path, so no scope."""
    return await db.fetchrow(SELECT_USER_BY_PRINCIPAL_NAME, user_principal_name)


def search_prefix(search: str | None) -> str | None:
    """``SEARCH``'s {prefix}: the text LIKE-escaped, so that it matches only itself; an empty
    search, like none, lists everyone."""
    return _escape_like(search) if search else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
