"""Log records as one JSON object per line, for a log shipper; or as plain text, for a terminal.

The request line (logger ``purchasegraph.request``) carries its fields as ``extra``; the JSON
formatter writes them as keys of their own, so a query can filter on ``code`` or sum
``statements`` without parsing the message.

Nothing the gateway logs holds a token or card data: the request line names the operation, not
the document or its variables, and error logs name the request, not its source. As a second
line of defence the formatter masks a bearer credential or a card-shaped number (a Luhn-valid
run of 12 to 19 digits) that would still reach a message or a stack trace.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

# The request line's fields, in the order they are written.
REQUEST_FIELDS = (
    "request_id",
    "client_request_id",
    "operation",
    "viewer_id",
    "tenant_id",
    "status",
    "code",
    "duration_ms",
    "statements",
)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_DIGITS = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){11,18}(?![0-9])")


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return "[card]" if _luhn(digits) else match.group(0)


def scrub(text: str) -> str:
    """The text with bearer credentials, JWTs and card-shaped numbers masked."""
    text = _BEARER.sub(r"\1 [redacted]", text)
    text = _JWT.sub("[redacted]", text)
    return _DIGITS.sub(_mask_card, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, message, the request fields, stack."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        stack = []
        if record.exc_info and record.exc_info[0] is not None:
            stack.append(self.formatException(record.exc_info))
        elif record.exc_text:
            stack.append(record.exc_text)
        if record.stack_info:
            stack.append(self.formatStack(record.stack_info))
        if stack:
            entry["stack"] = scrub("\n".join(stack))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """The usual one-line text, scrubbed the same way."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(log_format: str, level: str = "info") -> None:
    """Everything to stderr in ``log_format``; purchasegraph's own loggers (and so the request
    line) at ``level``, other libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("purchasegraph").setLevel(level.upper())
