"""Errors the API reports on purpose, each with a stable ``extensions.code``."""

from __future__ import annotations

import enum

from graphql import GraphQLError


class ArgumentCode(enum.StrEnum):
    """The code of an error in an argument, beside the gateway's ``RequestCode`` refusals."""

    BAD_USER_INPUT = "BAD_USER_INPUT"


class BadUserInput(GraphQLError):
    """An argument the caller can fix; reported, never a stack trace."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        extensions: dict[str, object] = {"code": ArgumentCode.BAD_USER_INPUT.value}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)
