"""OpenTelemetry metrics and spans under the GenAI conventions, the Prometheus scrape, call rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry import baggage as otel_baggage
from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from firsttoken import AgentStream, Engine, Settings, TextStream, collect_calls, server_timing
from firsttoken.testing.emulator import Emulator

from .conftest import USER

CONVENTION = {
    "gen_ai.client.operation.duration",
    "gen_ai.client.token.usage",
    "gen_ai.client.operation.time_to_first_chunk",
    "gen_ai.client.operation.time_per_output_chunk",
}


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    otel_metrics._internal._METER_PROVIDER_SET_ONCE._done = False  # type: ignore[attr-defined]
    otel_metrics.set_meter_provider(provider)
    yield reader
    provider.shutdown()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # type: ignore[attr-defined]
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()
    # Back to "no provider configured", so later tests see the default again.
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # type: ignore[attr-defined]


def _points(reader: InMemoryMetricReader) -> dict[str, Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return {m.name: m.data for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def _a_stream_and_a_create(engine: Engine) -> TextStream | AgentStream:
    """One streamed call read to its end, then one `create`: the pair the tests here observe."""
    with engine.stream(messages=USER, profile="fast") as s:
        s.text()
    engine.create(messages=USER, profile="fast", max_tokens=64)
    return s


def test_convention_names_attributes_and_buckets_on_real_calls(
    reader: InMemoryMetricReader, engine: Engine
) -> None:
    s = _a_stream_and_a_create(engine)
    metrics = _points(reader)
    assert metrics.keys() >= CONVENTION
    duration = metrics["gen_ai.client.operation.duration"].data_points
    assert sum(p.count for p in duration) == 2
    point: HistogramDataPoint = duration[0]
    model = engine.profile("fast").model
    assert point.attributes["gen_ai.operation.name"] == "chat"
    assert point.attributes["gen_ai.provider.name"] == "anthropic"
    assert point.attributes["gen_ai.request.model"] == model
    assert point.attributes["gen_ai.response.model"] == model
    # The conventions' advised boundaries, not the SDK's default ones.
    assert list(point.explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    assert list(point.explicit_bounds)[-1] == 81.92
    tokens = metrics["gen_ai.client.token.usage"].data_points
    assert list(tokens[0].explicit_bounds)[:3] == [1, 4, 16]
    output = sum(p.sum for p in tokens if p.attributes["gen_ai.token.type"] == "output")
    assert output == engine.metrics.snapshot()["total"]["output_tokens"] > s.usage["output_tokens"]
    ttfc = metrics["gen_ai.client.operation.time_to_first_chunk"].data_points
    # Only the stream has a first chunk; create() waits for the whole message.
    assert sum(p.count for p in ttfc) == 1
    assert abs(ttfc[0].sum - s.timings.ttft) < 1e-9  # type: ignore[operator]


def test_a_span_per_call_nested_in_the_request_span(spans: InMemorySpanExporter, engine: Engine) -> None:
    tracer = trace.get_tracer("the-web-app")
    with tracer.start_as_current_span("POST /api/chat") as request_span:
        s = _a_stream_and_a_create(engine)
    finished = spans.get_finished_spans()
    calls = [sp for sp in finished if sp.name.startswith("chat ")]
    assert len(calls) == 2
    request = request_span.get_span_context()
    for span in calls:
        assert span.parent is not None and span.parent.span_id == request.span_id
        assert span.context.trace_id == request.trace_id
        assert span.kind == trace.SpanKind.CLIENT
        attrs = span.attributes or {}
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "anthropic"
        assert attrs["gen_ai.request.model"] == engine.profile("fast").model
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert "gen_ai.usage.cache_read.input_tokens" in attrs
        assert "gen_ai.usage.cache_creation.input_tokens" in attrs
        assert str(attrs["gen_ai.response.id"]).startswith("msg_")
        # No prompt or answer text unless the user opts in.
        assert not any(key.endswith("messages") for key in attrs)
    stream_span = next(sp for sp in calls if (sp.attributes or {})["gen_ai.request.stream"])
    assert stream_span.attributes["gen_ai.response.time_to_first_chunk"] == s.timings.ttft  # type: ignore[index]
    assert stream_span.end_time - stream_span.start_time > 0  # type: ignore[operator]


def test_prompt_and_answer_text_only_when_opted_in(
    spans: InMemorySpanExporter, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    with Engine(Settings(base_url=emulator.base_url, max_retries=0)) as engine:
        answer = engine.create(messages=USER, profile="fast", max_tokens=64)
    (span,) = [sp for sp in spans.get_finished_spans() if sp.name.startswith("chat ")]
    attrs = span.attributes or {}
    sent = json.loads(str(attrs["gen_ai.input.messages"]))
    assert sent[0]["parts"][0]["content"] == USER[0]["content"]
    got = json.loads(str(attrs["gen_ai.output.messages"]))
    assert got[0]["parts"][0]["content"] == answer.content[0].text  # type: ignore[union-attr]


def test_nothing_recorded_without_a_provider(engine: Engine) -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert engine.telemetry.begin() is None
    seen: list[object] = []
    engine.on_finished.append(lambda call: seen.append(call.trace))
    _a_stream_and_a_create(engine)
    # No context was captured, so no span is built (`Telemetry.finished` skips the span for None).
    assert seen == [None, None]


def test_the_sdks_own_span_of_each_call_still_comes_when_the_app_traces(
    spans: InMemorySpanExporter, engine: Engine
) -> None:
    _a_stream_and_a_create(engine)
    sdk = [sp for sp in spans.get_finished_spans() if sp.instrumentation_scope.name != "firsttoken"]
    assert len(sdk) == 2, [sp.name for sp in spans.get_finished_spans()]


def test_without_a_provider_a_call_skips_the_sdks_span_unless_its_context_carries_one(
    engine: Engine, emulator: Emulator
) -> None:
    sent: list[dict[str, str]] = []
    http = anthropic.DefaultHttpxClient(event_hooks={"request": [lambda r: sent.append(dict(r.headers))]})
    base = anthropic.Anthropic(
        api_key="sk-ant-test", base_url=emulator.base_url, http_client=http, max_retries=0
    )

    def call(traced: bool | None = None) -> None:
        traced = engine.telemetry.sdk_spans() if traced is None else traced
        client = engine.resilience.client(base, traced=traced)
        client.messages.create(model=engine.profile("fast").model, max_tokens=8, messages=USER)

    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    # Nothing to record or carry: the twin without the SDK's tracing, and no trace headers either way.
    assert not engine.telemetry.sdk_spans()
    assert engine.resilience.client(base, traced=False).open_telemetry["traces"]["enabled"] is False
    call()
    call(traced=True)
    skipped, full = sent
    assert not {"traceparent", "baggage"} & (skipped.keys() | full.keys())
    # A span from the caller (extracted from the browser's request, say) or baggage: the SDK's span
    # carries them on, as it would without firsttoken.
    parent = trace.NonRecordingSpan(
        trace.SpanContext(trace_id=7, span_id=9, is_remote=True, trace_flags=trace.TraceFlags(1))
    )
    with trace.use_span(parent):
        assert engine.telemetry.sdk_spans()
        call()
    assert sent[-1]["traceparent"].startswith("00-" + format(7, "032x"))
    token = otel_context.attach(otel_baggage.set_baggage("tenant", "acme"))
    try:
        assert engine.telemetry.sdk_spans()
        call()
    finally:
        otel_context.detach(token)
    assert sent[-1]["baggage"] == "tenant=acme"
    base.close()


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_prometheus_scrape_parses_and_counts_the_calls(engine: Engine) -> None:
    for _ in range(3):
        with engine.stream(messages=USER, profile="fast") as s:
            s.text()
    engine.create(messages=USER, profile="chat", max_tokens=64)
    body, content_type = engine.prometheus()
    assert content_type.startswith("text/plain")
    families = _families(body.decode())
    duration = families["gen_ai_client_operation_duration_seconds"]
    assert duration.type == "histogram"
    counts = {
        sample.labels["firsttoken_profile"]: sample.value
        for sample in duration.samples
        if sample.name.endswith("_count")
    }
    assert counts == {"fast": 3, "chat": 1}
    inf = [sm for sm in duration.samples if sm.name.endswith("_bucket") and sm.labels["le"] == "+Inf"]
    assert sum(sm.value for sm in inf) == 4
    ttfc = families["gen_ai_client_operation_time_to_first_chunk_seconds"]
    assert sum(sm.value for sm in ttfc.samples if sm.name.endswith("_count")) == 3
    tokens = families["gen_ai_client_token_usage"]
    output = sum(
        sm.value
        for sm in tokens.samples
        if sm.name.endswith("_sum") and sm.labels["gen_ai_token_type"] == "output"
    )
    assert output == engine.metrics.snapshot()["total"]["output_tokens"]
    assert families["firsttoken_open_streams"].samples[0].value == 0


def test_prometheus_utf8_names_for_a_scraper_that_asks() -> None:
    with Engine(Settings(base_url="http://127.0.0.1:9")) as engine:
        body, content_type = engine.prometheus("text/plain;version=1.0.0;escaping=allow-utf-8")
    assert "escaping=allow-utf-8" in content_type
    assert b'"firsttoken_open_streams"' in body or b"firsttoken_open_streams" in body


def test_each_advisor_warning_is_a_counter(engine: Engine) -> None:
    for _ in range(3):
        engine.advisor.not_cached("chat", "too short")
    families = _families(engine.prometheus()[0].decode())
    (sample,) = families["firsttoken_advisor_warnings"].samples
    assert sample.labels["firsttoken_advice_cause"] == "not_cached"
    assert sample.value == 3


def test_request_calls_as_rows_and_server_timing(engine: Engine) -> None:
    with collect_calls() as rows:
        with engine.stream(messages=USER, profile="fast") as s:
            s.text()
        engine.create(messages=USER, profile="chat", max_tokens=64)
    engine.create(messages=USER, profile="fast", max_tokens=64)  # outside: not this request's
    assert [row["profile"] for row in rows] == ["fast", "chat"]
    first = rows[0]
    assert first["model"] == engine.profile("fast").model
    assert first["ttft_ms"] == round(s.timings.ttft * 1000, 1)  # type: ignore[operator]
    assert first["output_tokens"] == s.usage["output_tokens"]
    assert first["cost_usd"] > 0
    header = server_timing(rows)
    assert header.count("firsttoken-1") == 2 and "firsttoken-2;dur=" in header
    assert f"{first['model']} (fast) TTFT" in header
