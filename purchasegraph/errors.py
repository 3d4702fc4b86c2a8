"""Errors the API reports on purpose, each with a stable ``extensions.code``."""

from __future__ import annotations

from graphql import GraphQLError


class BadUserInput(GraphQLError):
    """An argument the caller can fix; reported, never a stack trace."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        extensions: dict[str, object] = {"code": "BAD_USER_INPUT"}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)
