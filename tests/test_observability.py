"""Metrics at /metrics, JSON log lines, the no-op tracer, and logs that keep no token or card."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from purchasegraph.catalogue import POWER_BI_PRO
from purchasegraph.demo.actors import ALEX, CONTOSO
from purchasegraph.demo.global_ids import GOOD_CARD
from purchasegraph.identity import mint_token
from purchasegraph.observability import metrics
from purchasegraph.observability.logs import JsonFormatter, TextFormatter, scrub
from purchasegraph.observability.tracing import NoTracing, request_tracing
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings, ThrottleSettings, settings_from_env
from tests.factories import TenantRows, create_tenant
from tests.mutations import PURCHASE
from tests.settings import SECRET, gateway_settings
from tests.test_compiled_reads import RELAY
from tests.test_http import VIEWER_QUERY, serving, token_for

PAULA = ("paula.purchaser@contoso.example", "contoso.example")
NUMBER = str(GOOD_CARD["number"])
FIFTY = "{ viewer { homeTenant { subscriptions(first: 50) { nodes { id } } } } }"


@pytest.fixture(scope="module")
async def client(database_url: str, pool: object) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(gateway_settings(database_url)) as http:
        yield http


@pytest.fixture(scope="module")
async def tenant(pool: asyncpg.Pool) -> TenantRows:
    """A committed tenant of its own: its purchases and throttle buckets touch no demo data."""
    async with pool.acquire() as conn:
        return await create_tenant(conn, users=2)


def token_of(tenant: TenantRows, user: uuid.UUID) -> str:
    return mint_token(
        secret=SECRET, user_id=user, tenant_id=tenant.tenant_id, issuer=DEV_ISSUER, audience=DEFAULT_AUDIENCE
    )


class Scrape:
    """One /metrics answer, as sample name and labels → value."""

    def __init__(self, text: str) -> None:
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str, **labels: str) -> bool:
        return (name, frozenset(labels.items())) in self.samples


async def scrape(http: httpx.AsyncClient) -> Scrape:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return Scrape(response.text)


async def graphql(http: httpx.AsyncClient, query: str, token: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.post("/graphql", json={"query": query, **body}, headers=headers)


def requests_of(scraped: Scrape, operation: str, outcome: str) -> tuple[float, float]:
    """The request counter and the latency histogram's count for one operation and outcome."""
    return (
        scraped.value("purchasegraph_graphql_requests_total", operation=operation, outcome=outcome),
        scraped.value("purchasegraph_graphql_request_duration_seconds_count", operation=operation, outcome=outcome),
    )


# -- /metrics ------------------------------------------------------------------------------------


async def test_metrics_answer_in_the_prometheus_text_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE purchasegraph_graphql_requests_total counter" in response.text
    assert "# TYPE purchasegraph_graphql_request_duration_seconds histogram" in response.text
    assert "# TYPE purchasegraph_subscriptions_active gauge" in response.text


async def test_metrics_speak_openmetrics_to_who_asks_for_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert response.text.count("# EOF") == 1
    assert "purchasegraph_db_pool_connections_idle" in response.text


async def test_a_successful_query_counts_as_ok_with_its_latency_and_statements(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    query = "query ObservedViewer " + VIEWER_QUERY
    response = await graphql(client, query, token_for(*PAULA))
    assert response.status_code == 200
    after = await scrape(client)
    count, latency = requests_of(after, "ObservedViewer", "ok")
    assert (count, latency) == tuple(n + 1 for n in requests_of(before, "ObservedViewer", "ok"))
    statements = "purchasegraph_graphql_request_statements"
    assert after.value(f"{statements}_count", operation="ObservedViewer") == (
        before.value(f"{statements}_count", operation="ObservedViewer") + 1
    )
    assert after.value(f"{statements}_sum", operation="ObservedViewer") > before.value(
        f"{statements}_sum", operation="ObservedViewer"
    )


async def test_refusals_count_under_their_code(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    bad_token = await graphql(client, "query ObservedBadToken " + VIEWER_QUERY, "not-a-jwt")
    assert bad_token.status_code == 401
    too_deep = "{ viewer { homeTenant { subscriptions(first: 1) { nodes { orders(first: 1) { nodes { subscription {"
    too_deep += " orders(first: 1) { nodes { subscription { id } } } } } } } } } } }"
    refused = await client.post(
        "/graphql", json={"query": too_deep}, headers={"Accept": "application/graphql-response+json"}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "MAX_DEPTH_EXCEEDED"
    after = await scrape(client)
    for operation, outcome in [("ObservedBadToken", "UNAUTHENTICATED"), ("unknown", "MAX_DEPTH_EXCEEDED")]:
        assert requests_of(after, operation, outcome) == tuple(n + 1 for n in requests_of(before, operation, outcome))


async def test_operation_names_are_bounded(client: httpx.AsyncClient) -> None:
    long_name = "A" * 65
    before = await scrape(client)
    response = await graphql(client, f"query {long_name} {{ __typename }}")
    assert response.status_code == 200
    after = await scrape(client)
    assert requests_of(after, "other", "ok")[0] == requests_of(before, "other", "ok")[0] + 1
    assert not after.has("purchasegraph_graphql_requests_total", operation=long_name, outcome="ok")
    assert requests_of(after, "anonymous", "ok")[0] == requests_of(before, "anonymous", "ok")[0]
    await graphql(client, "{ __typename }")
    assert requests_of(await scrape(client), "anonymous", "ok")[0] == requests_of(after, "anonymous", "ok")[0] + 1


def test_operation_labels() -> None:
    assert metrics.operation_label(None) == "unknown"
    assert metrics.operation_label("anonymous") == "anonymous"
    assert metrics.operation_label("GetThings,PutThings") == "batch"
    assert metrics.operation_label("Get_Things2") == "Get_Things2"
    assert metrics.operation_label("1abc") == "other"
    assert metrics.operation_label("drop table") == "other"
    assert metrics.operation_label("x" * 64) == "x" * 64
    assert metrics.operation_label("x" * 65) == "other"


def test_only_so_many_operation_names_get_a_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_known_names", {"Seen"})
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 2)
    assert metrics.operation_label("Seen") == "Seen"
    assert metrics.operation_label("Second") == "Second"
    assert metrics.operation_label("Third") == "other"
    assert metrics.operation_label("Second") == "Second"


def reads(scraped: Scrape, path: str, reason: str) -> float:
    return scraped.value("purchasegraph_reads_total", path=path, reason=reason)


async def test_a_relay_shaped_read_counts_as_compiled_and_a_refused_filter_as_a_fallback_with_its_reason(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = token_for(ALEX, "contoso.example")
    before = await scrape(client)
    page = await graphql(client, RELAY, token, variables={"tenantId": CONTOSO, "first": 2, "after": None})
    assert page.status_code == 200
    after_cursor = page.json()["data"]["tenant"]["subscriptions"]["pageInfo"]["endCursor"]
    page_2 = await graphql(client, RELAY, token, variables={"tenantId": CONTOSO, "first": 2, "after": after_cursor})
    assert page_2.json()["data"]["tenant"]["subscriptions"]["pageInfo"]["hasPreviousPage"] is True
    middle = await scrape(client)
    assert reads(middle, "compiled", "none") == reads(before, "compiled", "none") + 2
    assert reads(middle, "resolvers", "invalid_input") == reads(before, "resolvers", "invalid_input")
    # A value the resolvers refuse with an error of their own: they answer, with that error.
    refused = f'{{ tenant(id: "{CONTOSO}") {{ subscriptions(purchaserId: "not-a-user") {{ totalCount }} }} }}'
    with caplog.at_level(logging.INFO, logger="purchasegraph.compiled"):
        assert (await graphql(client, refused, token)).json()["errors"]
    after = await scrape(client)
    assert reads(after, "resolvers", "invalid_input") == reads(middle, "resolvers", "invalid_input") + 1
    assert reads(after, "compiled", "none") == reads(middle, "compiled", "none")
    assert any(m.startswith("read answered by the resolvers: invalid_input") for m in caplog.messages), caplog.messages


async def test_reads_with_the_compiled_path_off_count_as_disabled(database_url: str, pool: object) -> None:
    async with serving(gateway_settings(database_url, compiled_reads=False)) as http:
        before = reads(await scrape(http), "resolvers", "disabled")
        response = await graphql(http, RELAY, token_for(ALEX, "contoso.example"), variables={"tenantId": CONTOSO})
        assert response.status_code == 200
        assert reads(await scrape(http), "resolvers", "disabled") == before + 1


async def test_the_pool_gauges_are_read_at_scrape_time(client: httpx.AsyncClient) -> None:
    scraped = await scrape(client)
    for pool in ("gateway", "owner"):
        assert scraped.has("purchasegraph_db_pool_connections_in_use", pool=pool)
        assert scraped.has("purchasegraph_db_pool_connections_idle", pool=pool)
    assert scraped.value("purchasegraph_db_pool_connections_max", pool="gateway") == Settings().pool_max_size
    assert scraped.value("purchasegraph_db_pool_connections_idle", pool="gateway") >= 1  # pool_min_size
    # Nothing is lent out between requests.
    assert scraped.value("purchasegraph_db_pool_connections_in_use", pool="gateway") == 0


async def test_a_throttled_request_moves_the_throttled_counter(
    database_url: str, pool: object, tenant: TenantRows
) -> None:
    tiny = ThrottleSettings(maximum_available=60, restore_rate=1)
    token = token_of(tenant, tenant.user_ids[0])
    async with serving(gateway_settings(database_url, throttle=tiny)) as http:
        before = await scrape(http)
        assert (await graphql(http, FIFTY, token)).status_code == 200  # 60 → 9
        refused = await graphql(http, FIFTY, token)
        assert refused.status_code == 429
        after = await scrape(http)
    assert (
        after.value("purchasegraph_throttled_requests_total")
        == before.value("purchasegraph_throttled_requests_total") + 1
    )
    assert requests_of(after, "anonymous", "THROTTLED")[0] == requests_of(before, "anonymous", "THROTTLED")[0] + 1


def test_the_subscription_gauge_goes_up_and_down() -> None:
    before = metrics.SUBSCRIPTIONS_ACTIVE._value.get()
    metrics.subscription_started()
    metrics.subscription_started()
    assert metrics.SUBSCRIPTIONS_ACTIVE._value.get() == before + 2
    metrics.subscription_ended()
    metrics.subscription_ended()
    assert metrics.SUBSCRIPTIONS_ACTIVE._value.get() == before


# -- Logs ----------------------------------------------------------------------------------------


def record(message: str, *args: object, exc_info: Any = None, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("purchasegraph.request", logging.INFO, __file__, 1, message, args, exc_info)
    made.__dict__.update(extra)
    return made


def test_the_json_formatter_writes_one_object_a_line_with_the_request_fields() -> None:
    fields = {
        "request_id": "req-12345678",
        "operation": "Buy",
        "viewer_id": str(uuid.uuid4()),
        "tenant_id": str(uuid.uuid4()),
        "status": 200,
        "code": None,
        "duration_ms": 12.5,
        "statements": 4,
    }
    line = JsonFormatter().format(record("%s %s", "POST", "Buy", **fields))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "POST Buy"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "purchasegraph.request"
    assert entry["timestamp"].endswith("+00:00")
    assert {k: entry[k] for k in fields} == fields
    assert "stack" not in entry


def test_the_json_formatter_leaves_out_absent_fields_and_writes_the_stack() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record("it failed", exc_info=exc_info)))
    assert entry["message"] == "it failed"
    assert "request_id" not in entry
    assert "Traceback" in entry["stack"]
    assert "ValueError: boom" in entry["stack"]


def test_the_formatters_mask_tokens_and_card_numbers_that_slip_into_a_message() -> None:
    token = token_for(*PAULA)
    leaked = f"header Authorization: Bearer {token} card 4242 4242 4242 4242 and {token}"
    for formatter in (JsonFormatter(), TextFormatter()):
        text = formatter.format(record("%s", leaked))
        assert token not in text
        assert "4242" not in text
    # Only Luhn-valid numbers are cards: an order number stays.
    assert scrub("order 1234567890123") == "order 1234567890123"


def test_the_log_format_follows_the_environment() -> None:
    assert settings_from_env({}).effective_log_format == "text"
    assert settings_from_env({"PURCHASEGRAPH_ENV": "production"}).effective_log_format == "json"
    assert settings_from_env({"PURCHASEGRAPH_LOG_FORMAT": "JSON"}).effective_log_format == "json"
    production_text = {"PURCHASEGRAPH_ENV": "production", "PURCHASEGRAPH_LOG_FORMAT": "text"}
    assert settings_from_env(production_text).effective_log_format == "text"
    with pytest.raises(ValueError, match="PURCHASEGRAPH_LOG_FORMAT"):
        settings_from_env({"PURCHASEGRAPH_LOG_FORMAT": "xml"})


async def test_a_purchase_leaves_neither_token_nor_card_in_the_logs(
    client: httpx.AsyncClient, tenant: TenantRows, caplog: pytest.LogCaptureFixture
) -> None:
    buyer = tenant.user_ids[1]
    token = token_of(tenant, buyer)
    variables = {
        "input": {
            "tenantId": str(tenant.tenant_id),
            "productId": POWER_BI_PRO,
            "quantity": 1,
            "card": GOOD_CARD,
            "idempotencyKey": uuid.uuid4().hex,
        }
    }
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "observability-purchase"}
    with caplog.at_level(logging.DEBUG):
        bought = await client.post("/graphql", json={"query": PURCHASE, "variables": variables}, headers=headers)
        # The same card in a GET's URL (refused: mutations are POSTed), and inline in a document
        # with an expiry the processor refuses.
        over_get = await client.get(
            "/graphql", params={"query": PURCHASE, "variables": json.dumps(variables)}, headers=headers
        )
        inline = (
            "mutation InlineCard { purchaseSubscription(input: {"
            f' tenantId: "{tenant.tenant_id}", productId: "{POWER_BI_PRO}", quantity: 1,'
            f' card: {{number: "{NUMBER}", expMonth: 13, expYear: 2030, cvc: "123"}},'
            f' idempotencyKey: "{uuid.uuid4().hex}"'
            "}) { subscription { id } userErrors { code } } }"
        )
        refused_card = await client.post("/graphql", json={"query": inline}, headers=headers)
    assert bought.status_code == 200, bought.text
    payload = bought.json()["data"]["purchaseSubscription"]
    assert payload["userErrors"] == []
    assert payload["subscription"]["paymentMethod"]["last4"] == NUMBER[-4:]
    assert over_get.status_code == 405
    assert refused_card.status_code == 200, refused_card.text
    assert refused_card.json()["data"]["purchaseSubscription"]["subscription"] is None

    # The test's own HTTP client logs the URLs it fetches: that is not the gateway's log.
    logged_here = [r for r in caplog.records if r.name != "httpx"]
    request_lines = [r for r in logged_here if r.name == "purchasegraph.request"]
    assert len(request_lines) == 3
    assert request_lines[0].__dict__["viewer_id"] == str(buyer)
    assert request_lines[0].__dict__["status"] == 200
    secrets = [token, NUMBER, NUMBER[-4:]]
    for logged in logged_here:
        written = JsonFormatter().format(logged)
        # The viewer's and tenant's ids are random: they are not card data even if "4242" is in them.
        for known in (str(buyer), str(tenant.tenant_id)):
            written = written.replace(known, "<id>")
        for text in (written, logged.getMessage()):
            for secret in secrets:
                assert secret not in text, (logged.name, text)


# -- Tracing -------------------------------------------------------------------------------------


def test_tracing_is_a_no_op_without_an_endpoint() -> None:
    tracing = request_tracing({})
    assert isinstance(tracing, NoTracing)
    assert not tracing.enabled
    with tracing.span({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}) as span:
        span.finish(request_id="r", operation="Op", status=200, code=None, statements=3)


def test_tracing_is_a_no_op_without_the_extra(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A None in sys.modules makes `import opentelemetry` raise ImportError, installed or not.
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with caplog.at_level(logging.WARNING, logger="purchasegraph.tracing"):
        tracing = request_tracing({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.invalid:4318"})
    assert isinstance(tracing, NoTracing)
    assert "not installed" in caplog.text
    with tracing.span({}) as span:
        span.finish(request_id="r", operation=None, status=500, code="INTERNAL_SERVER_ERROR", statements=0)
