"""Why a read goes to the resolvers: the compiler's refusal and its closed set of reasons.

Apart from the compiler so that the modules it delegates to (``roots``, ``viewer``, ``lists``)
decline with the same exception without importing the compiler back.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a read goes to the resolvers: a closed set, the ``reason`` label of the reads metric."""

    # Not a query, or an operation carrying directives.
    OPERATION = "operation"
    # A field the compiler does not know, or a node type it does not compile.
    FIELD = "field"
    # An argument it does not take, or a value it does not read (a float, say).
    ARGUMENT = "argument"
    # A value the resolvers refuse with an error of their own: a foreign cursor, a page size out
    # of range, `first` with `last`, a tenant id that is not a string.
    INVALID_INPUT = "invalid_input"
    # Variables that do not coerce: the resolver path reports them as it always does.
    VARIABLES = "variables"
    # A directive other than @include and @skip.
    DIRECTIVE = "directive"
    # More response keys on one object than one json_build_object takes.
    TOO_WIDE = "too_wide"
    # A statement holding a parameter it never reads (PostgreSQL cannot type it): a compiler bug,
    # which the resolvers answer rather than the client seeing a 500.
    UNREAD_PARAMETER = "unread_parameter"


class NotCompilable(Exception):
    """The resolvers answer this one; ``reason`` says why, ``detail`` where (schema names only)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
