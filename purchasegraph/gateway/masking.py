"""What a client is shown of an error met while executing: the API's own as it is, any other masked.

Any exception the API did not raise on purpose is a failure the caller cannot fix, and its text
may name hosts, accounts or rows: it is logged with its trace under the request id, and the caller
gets a code and that id. The log names the field's path, never the document (a query may carry a
card number inline)."""

from __future__ import annotations

import logging

from graphql import GraphQLError

from purchasegraph.db.availability import database_unavailable
from purchasegraph.gateway.refusals import RequestCode

log = logging.getLogger("purchasegraph.graphql")


def masked(error: GraphQLError, request_id: str) -> GraphQLError:
    """``error`` itself when the API raised it on purpose; else, logged, an error at the same place
    whose ``extensions`` hold only its code (INTERNAL_SERVER_ERROR or SERVICE_UNAVAILABLE) and
    ``requestId``."""
    original = error.original_error
    path = ".".join(str(p) for p in error.path or ()) or "-"
    if original is None or isinstance(original, GraphQLError):
        log.debug("error [request %s] at %s: %s", request_id, path, error.message)
        return error
    if database_unavailable(original):
        log.warning("database unavailable [request %s] at %s: %r", request_id, path, original)
        code, message = RequestCode.SERVICE_UNAVAILABLE, "The database is unavailable; retry shortly."
    else:
        log.error("internal error [request %s] at %s", request_id, path, exc_info=original)
        code, message = RequestCode.INTERNAL_SERVER_ERROR, "Internal server error."
    return GraphQLError(
        message, nodes=error.nodes, path=error.path, extensions={"code": code.value, "requestId": request_id}
    )
