"""A span per GraphQL request, when OpenTelemetry is installed and told where to export.

Tracing is on only when both hold: the ``otel`` extra is importable
(``pip install 'purchasegraph[otel]'``) and ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. Then each
request runs in a server span named ``graphql <operation>``, continuing the caller's trace when
it sends a ``traceparent`` header, and spans are exported over OTLP/HTTP (the exporter reads
the standard ``OTEL_*`` variables; ``OTEL_SERVICE_NAME`` defaults to ``purchasegraph``). A
tracer provider set up by someone else (``opentelemetry-instrument``) is used as it is.

Otherwise every call here is a no-op, so nothing imports OpenTelemetry and nothing breaks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from purchasegraph.observability.metrics import operation_label

log = logging.getLogger("purchasegraph.tracing")

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"


class RequestSpan(Protocol):
    def finish(self, *, request_id: str, operation: str | None, status: int, code: str | None, statements: int) -> None:
        """Name the span after the operation and attach what the request did."""


class RequestTracing(Protocol):
    enabled: bool

    def span(self, headers: Mapping[str, str]) -> Any:
        """A context manager around one request, yielding its RequestSpan."""


class _NoSpan:
    def finish(self, *, request_id: str, operation: str | None, status: int, code: str | None, statements: int) -> None:
        return None


class NoTracing:
    """What runs without the extra or an endpoint: nothing at all."""

    enabled = False

    @contextmanager
    def span(self, headers: Mapping[str, str]) -> Iterator[RequestSpan]:
        yield _NoSpan()


class _OtelSpan:
    def __init__(self, span: Any, trace: Any) -> None:
        self._span = span
        self._trace = trace

    def finish(self, *, request_id: str, operation: str | None, status: int, code: str | None, statements: int) -> None:
        span = self._span
        # Span names are grouped on by every backend: bounded like the metrics' labels.
        span.update_name(f"graphql {operation_label(operation)}")
        span.set_attribute("purchasegraph.request_id", request_id)
        if operation is not None:
            span.set_attribute("graphql.operation.name", operation[:256])
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("purchasegraph.statements", statements)
        if code is not None:
            span.set_attribute("purchasegraph.code", code)
        if status >= 500:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, code))


class OtelTracing:
    enabled = True

    def __init__(self, trace: Any, propagate: Any) -> None:
        self._trace = trace
        self._tracer = trace.get_tracer("purchasegraph")
        self._propagate = propagate

    @contextmanager
    def span(self, headers: Mapping[str, str]) -> Iterator[RequestSpan]:
        parent = self._propagate.extract(carrier=dict(headers))
        kind = self._trace.SpanKind.SERVER
        with self._tracer.start_as_current_span("graphql", context=parent, kind=kind) as span:
            yield _OtelSpan(span, self._trace)


def request_tracing(environ: Mapping[str, str] | None = None) -> RequestTracing:
    """OpenTelemetry tracing when it is installed and an endpoint is configured, else NoTracing."""
    environ = os.environ if environ is None else environ
    if not environ.get(ENDPOINT_VARIABLE):
        return NoTracing()
    try:
        from opentelemetry import propagate, trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("%s is set but OpenTelemetry is not installed (the `otel` extra): no traces", ENDPOINT_VARIABLE)
        return NoTracing()
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        resource = Resource.create()
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": "purchasegraph"}))
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    return OtelTracing(trace, propagate)
