"""Failures the caller cannot fix are masked; mistakes they can fix are explained."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from strawberry.extensions import MaskErrors

from purchasegraph.app import mask_unexpected
from purchasegraph.context import build_context
from purchasegraph.db.executor import Record
from purchasegraph.schema import build_schema
from tests.conftest import Api


class BrokenDatabase:
    statements = 0

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        raise RuntimeError("connection to 10.0.0.7 refused: password for purchasegraph_app")

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        raise RuntimeError("connection to 10.0.0.7 refused: password for purchasegraph_app")

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        raise RuntimeError("connection to 10.0.0.7 refused: password for purchasegraph_app")


async def test_an_unexpected_failure_is_masked_and_reveals_nothing() -> None:
    schema = build_schema(extensions=[lambda: MaskErrors(should_mask_error=mask_unexpected)])
    result = await schema.execute(
        "{ products { name } }", context_value=build_context(viewer=None, db=BrokenDatabase())
    )
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["Unexpected error."]
    assert "10.0.0.7" not in str(result.errors[0].formatted)


async def test_a_page_size_over_the_cap_is_a_bad_user_input_error(api: Api) -> None:
    result = await api.execute(
        "{ viewer { homeTenant { subscriptions(first: 101) { totalCount } } } }",
        as_user="alex.admin@contoso.example",
    )
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "first"}


async def test_first_and_last_together_are_refused(api: Api) -> None:
    result = await api.execute(
        "{ viewer { homeTenant { subscriptions(first: 2, last: 2) { totalCount } } } }",
        as_user="alex.admin@contoso.example",
    )
    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_a_forged_cursor_is_refused(api: Api) -> None:
    result = await api.execute(
        '{ viewer { homeTenant { subscriptions(after: "not-a-cursor") { totalCount } } } }',
        as_user="alex.admin@contoso.example",
    )
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "after"}
