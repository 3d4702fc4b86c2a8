"""Refusals of a whole HTTP request, each with a stable ``extensions.code`` and an HTTP status.

A refusal happens before the operation executes, so nothing was read or written. The
GraphQL-over-HTTP spec answers malformed requests, unparsable and invalid documents with 400
under ``application/graphql-response+json`` but with 200 under the legacy ``application/json``
(clients of that media type read ``errors``, not the status): ``legacy_status`` says which.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class RequestCode(enum.StrEnum):
    BAD_REQUEST = "BAD_REQUEST"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    OPERATION_NOT_FOUND = "OPERATION_NOT_FOUND"
    BAD_VARIABLES = "BAD_VARIABLES"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    SUBSCRIPTION_NEEDS_WEBSOCKET = "SUBSCRIPTION_NEEDS_WEBSOCKET"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    # Limits: each is its own code so a client knows which knob it turned too far.
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
    MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
    MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
    MAX_ROOT_FIELDS_EXCEEDED = "MAX_ROOT_FIELDS_EXCEEDED"
    BATCHING_DISABLED = "BATCHING_DISABLED"
    BATCH_LIMIT_EXCEEDED = "BATCH_LIMIT_EXCEEDED"
    PAGE_SIZE_EXCEEDED = "PAGE_SIZE_EXCEEDED"
    QUERY_COST_EXCEEDED = "QUERY_COST_EXCEEDED"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    THROTTLED = "THROTTLED"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    TRUSTED_DOCUMENT_REQUIRED = "TRUSTED_DOCUMENT_REQUIRED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class RequestError(Exception):
    def __init__(
        self,
        code: RequestCode,
        message: str,
        *,
        status: int = 400,
        legacy_status: int | None = None,
        headers: Mapping[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.legacy_status = status if legacy_status is None else legacy_status
        self.headers = dict(headers or {})
        # Several GraphQL errors (validation reports them all); else one made of code and message.
        self.errors = errors
        self.extensions = dict(extensions or {})

    def anew(self) -> RequestError:
        """The same refusal as a fresh exception, to keep or to raise again. Raising one exception
        object again grows its traceback, and a traceback holds the frames of every raise: with
        them each request's variables and a parsed document, however small the refusal looks."""
        return RequestError(
            self.code,
            self.message,
            status=self.status,
            legacy_status=self.legacy_status,
            headers=self.headers,
            errors=self.errors,
            extensions=self.extensions,
        )

    def graphql_errors(self) -> list[dict[str, Any]]:
        if self.errors is not None:
            return self.errors
        return [{"message": self.message, "extensions": {**self.extensions, "code": self.code.value}}]


def malformed(message: str) -> RequestError:
    """A request the spec calls malformed: 400 under either media type."""
    return RequestError(RequestCode.BAD_REQUEST, message, status=400)
