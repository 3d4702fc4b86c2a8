"""The printable invoice: ``GET /invoices/{Invoice ID}``, an HTML page of one bill.

Fetched with the same bearer token as the API (the ``Authorization`` header) and scoped exactly
like the invoice (``policy.INVOICE_VISIBLE``, as ``node(id:)`` reads it): the user billed, and the
tenant's whole-tenant viewers. Without a token: 401, as the page is never public. An ID that is
no invoice, an invoice of a tenant the caller does not reach, and one outside their scope all get
the very same 404, so the answer never tells that a bill exists. Every value printed is
HTML-escaped; the page is private to the caller and never stored (``Cache-Control``).
"""

from __future__ import annotations

import datetime
import html
import logging
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from purchasegraph.db.availability import database_unavailable
from purchasegraph.db.executor import Record, RequestExecutor
from purchasegraph.db.queries.invoices import fetch_printable_invoice
from purchasegraph.gateway.authentication import authenticate
from purchasegraph.gateway.refusals import RequestError
from purchasegraph.gateway.throttle import CostBucket, throttled
from purchasegraph.policy import scope_for
from purchasegraph.runtime import Runtime
from purchasegraph.schema.ids import decode_id

log = logging.getLogger("purchasegraph")

# One object read: what the throttle takes for a page.
PAGE_COST = 1

# Private to the caller (a shared cache must not keep one user's bill for another), and not kept
# at all: a bill's status changes when it is paid.
NO_STORE = {"Cache-Control": "private, no-store"}

STATUS_LABELS = {"open": "Open", "paid": "Paid", "past_due": "Past due"}

NOT_FOUND_PAGE = "<!doctype html><title>Not found</title><p>No such invoice.</p>\n"


def not_found() -> Response:
    """The one answer for an ID that is no invoice and for an invoice outside the caller's scope."""
    return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers=NO_STORE)


def sign_in_required() -> Response:
    return PlainTextResponse(
        "Sign in: send the bearer token in the Authorization header.",
        status_code=401,
        headers={**NO_STORE, "WWW-Authenticate": "Bearer"},
    )


def refusal(error: RequestError) -> Response:
    """A refused token (401), a throttled caller (429), the database away (503): said in plain text."""
    return PlainTextResponse(error.message, status_code=error.status, headers={**error.headers, **NO_STORE})


class InvoicePage:
    """The route's endpoint; it takes the request's cost from the bucket every request shares."""

    def __init__(self, bucket: CostBucket) -> None:
        self.bucket = bucket

    async def respond(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        authorization = request.headers.get("authorization")
        if authorization is None:
            return sign_in_required()
        executor: RequestExecutor | None = None
        try:
            address = request.client.host if request.client else None
            signed_in = await authenticate(authorization, runtime, self.bucket, PAGE_COST, address)
            executor = signed_in.db
            if signed_in.throttle is not None and not signed_in.throttle.granted:
                return refusal(throttled(PAGE_COST, signed_in.throttle))
            gid = decode_id(request.path_params["invoice_id"])
            if gid is None or gid.type_name != "Invoice" or gid.tenant_id is None:
                return not_found()
            try:
                invoice_id = gid.uuid
            except ValueError:
                return not_found()
            scope = scope_for(signed_in.viewer, gid.tenant_id)
            row = await fetch_printable_invoice(executor, scope=scope, invoice_id=invoice_id)
            if row is None:
                return not_found()
            return HTMLResponse(render_invoice(row), headers=NO_STORE)
        except RequestError as error:
            return refusal(error)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("database unavailable for an invoice page: %r", error)
            return PlainTextResponse("The database is unavailable; retry shortly.", status_code=503, headers=NO_STORE)
        finally:
            if executor is not None:
                await executor.close()


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _day(value: datetime.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _moment(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_invoice(row: Record) -> str:
    """The bill as a small standalone HTML document; every value from the database escaped."""
    paid_at: datetime.datetime | None = row["paid_at"]
    lines = [
        ("Invoice number", row["number"]),
        ("Billed to", row["billed_to"] or ""),
        ("Organization", row["tenant_name"]),
        ("Product", row["product_name"]),
        ("Period", f"{_day(row['period_start'])} to {_day(row['period_end'])}"),
        ("Amount", _money(row["amount"], row["currency"].strip())),
        ("Status", STATUS_LABELS.get(row["status"], row["status"])),
        ("Due date", _day(row["due_date"])),
        ("Paid", _moment(paid_at) if paid_at is not None else "Not paid"),
    ]
    rows = "\n".join(f"<tr><th scope=row>{_text(label)}</th><td>{_text(value)}</td></tr>" for label, value in lines)
    title = _text(f"Invoice {row['number']}")
    return f"""<!doctype html>
<html lang=en>
<head>
<meta charset=utf-8>
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}th{{text-align:left;padding-right:2rem}}</style>
</head>
<body>
<h1>{title}</h1>
<table>
{rows}
</table>
</body>
</html>
"""
