"""Failures the caller cannot fix are masked; mistakes they can fix are explained."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from graphql import ExecutionResult, GraphQLError, Source, SourceLocation

from purchasegraph.context import build_context
from purchasegraph.db.executor import Record
from purchasegraph.gateway.execution import Engine, format_result
from purchasegraph.schema import build_schema
from purchasegraph.settings import QueryLimits
from tests.conftest import Api


class BrokenDatabase:
    statements = 0

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        raise RuntimeError("connection to 10.0.0.7 refused: password for purchasegraph_app")

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        raise RuntimeError("connection to 10.0.0.7 refused: password for purchasegraph_app")

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        raise RuntimeError("connection to 10.0.0.7 refused: password for purchasegraph_app")


async def test_an_unexpected_failure_is_masked_and_logged_under_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = Engine(build_schema(), QueryLimits(), production=True)
    prepared = engine.prepare("{ products { name } }", None)
    context = build_context(viewer=None, db=BrokenDatabase(), request_id="req-0123456789")
    result = await engine.execute(prepared, variables=None, context=context)
    formatted = format_result(result, request_id="req-0123456789")

    assert formatted.body["errors"] == [
        {
            "message": "Internal server error.",
            "locations": [{"line": 1, "column": 3}],
            "path": ["products"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-0123456789"},
        }
    ]
    assert "10.0.0.7" not in str(formatted.body)
    [logged] = [r for r in caplog.records if r.exc_info is not None]
    assert "req-0123456789" in logged.getMessage()
    assert logged.exc_info is not None
    assert "10.0.0.7" in str(logged.exc_info[1])  # the stack trace stays in the log


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


def test_errors_come_in_document_order_whatever_order_the_resolvers_failed_in() -> None:
    source = Source("{ a b c }")

    def failed(name: str, column: int, path: list[str | int]) -> GraphQLError:
        error = GraphQLError(f"{name} failed", source=source, positions=[column - 1], path=path)
        assert error.locations == [SourceLocation(1, column)]
        return error

    result = ExecutionResult(
        data={"a": None, "b": None, "c": None},
        errors=[failed("c", 7, ["c"]), failed("a", 3, ["a", 10]), failed("a", 3, ["a", 2])],
    )
    body = format_result(result, request_id="r").body
    assert [(e["message"], e["path"]) for e in body["errors"]] == [
        ("a failed", ["a", 2]),
        ("a failed", ["a", 10]),
        ("c failed", ["c"]),
    ]
