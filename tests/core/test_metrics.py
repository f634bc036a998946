"""Metrics snapshot, OpenTelemetry export under the GenAI names, and the Anthropic Performance Tuning guide's
error table as advice."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import metrics as otel
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from firsttoken import CallRecord, Engine, Metrics, Settings
from firsttoken._advisor import Advisor
from firsttoken._metrics import percentile
from firsttoken.testing.emulator import Emulator

from .conftest import USER


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_snapshot_per_model_and_profile(engine: Engine) -> None:
    for _ in range(3):
        with engine.stream(messages=USER, profile="fast") as s:
            s.text()
    engine.create(messages=USER, profile="chat")
    snap = engine.metrics_snapshot()
    fast = snap["profiles"]["fast"]
    assert fast["count"] == 3 and fast["errors"] == 0
    assert fast["ttft_p50_ms"] > 0 and fast["ttft_p95_ms"] >= fast["ttft_p50_ms"]
    assert fast["tps_p50"] > 0
    assert snap["profiles"]["chat"]["count"] == 1
    assert snap["profiles"]["chat"]["ttft_p50_ms"] is None  # not streamed: no first token to time
    assert snap["models"][engine.profile("fast").model]["count"] == 3
    assert snap["total"]["count"] == 4
    assert snap["upstream"]["kind"] == "base_url"


def test_cache_read_ratio(engine: Engine) -> None:
    system = [{"type": "text", "text": "Policy text. " * 2000, "cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        with engine.stream(messages=USER, system=system) as s:
            s.text()
    chat = engine.metrics.snapshot()["profiles"]["chat"]
    assert chat["cache_creation_input_tokens"] > 0
    assert chat["cache_read_input_tokens"] == chat["cache_creation_input_tokens"]
    assert 0.4 < chat["cache_read_ratio"] <= 0.5


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    otel._internal._METER_PROVIDER_SET_ONCE._done = False  # type: ignore[attr-defined]
    otel.set_meter_provider(provider)
    yield reader
    provider.shutdown()


def test_opentelemetry_export_uses_genai_names(reader: InMemoryMetricReader, engine: Engine) -> None:
    with engine.stream(messages=USER, profile="fast") as s:
        s.text()
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        metric.name: metric.data.data_points
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.streaming.time_to_first_token",
    } <= set(points)
    usage = {p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]}  # type: ignore[attr-defined,index]
    assert usage["output"] == s.usage["output_tokens"]
    attrs = points["gen_ai.client.operation.duration"][0].attributes
    assert attrs["gen_ai.request.model"] == engine.profile("fast").model
    assert attrs["gen_ai.provider.name"] == "anthropic"


def test_metrics_without_a_provider_is_a_no_op() -> None:
    m = Metrics(window=4)
    for i in range(10):
        m.record(CallRecord(profile="p", model="m", streamed=True, total=1.0, ttft=i / 10, tps=50.0))
    summary = m.snapshot()["profiles"]["p"]
    assert summary["count"] == 10
    assert summary["ttft_p50_ms"] == 700.0  # only the last 4 calls are in the window


def test_advice_is_given_once_per_cause(caplog: pytest.LogCaptureFixture) -> None:
    advisor = Advisor()
    slow = CallRecord(
        profile="chat", model="claude-sonnet-5-5", streamed=True, total=5, ttft=3.5, input_tokens=10_000
    )
    tiny_opus = CallRecord(
        profile="deep", model="claude-opus-5-5", streamed=True, total=1, ttft=0.9, output_tokens=12
    )
    with caplog.at_level(logging.WARNING, logger="firsttoken.advisor"):
        for _ in range(3):
            advisor.observe(slow)
            advisor.observe(tiny_opus)
            advisor.timed_out("chat", "claude-sonnet-5-5", 60)
        for _ in range(4):
            advisor.overloaded("chat", "claude-sonnet-5-5", has_fallback=False)
        advisor.overloaded("fast", "claude-haiku-5-5", has_fallback=True)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4, messages
    assert any("cache the static prefix" in m for m in messages)
    assert any("Haiku" in m for m in messages)
    assert any("timed out" in m for m in messages)
    assert any("fallback" in m for m in messages)


def test_a_fast_cached_call_gets_no_advice(caplog: pytest.LogCaptureFixture) -> None:
    advisor = Advisor()
    with caplog.at_level(logging.WARNING, logger="firsttoken.advisor"):
        advisor.observe(
            CallRecord(
                profile="chat",
                model="claude-sonnet-5-5",
                streamed=True,
                total=2,
                ttft=0.4,
                input_tokens=10_000,
            )
        )
        advisor.observe(
            CallRecord(
                profile="deep", model="claude-opus-5-5", streamed=True, total=9, ttft=0.9, output_tokens=900
            )
        )
    assert caplog.records == []


def test_create_refuses_a_budget_that_outruns_the_timeout(engine: Engine) -> None:
    with pytest.raises(ValueError, match=r"use engine.stream\(\)"):
        engine.create(messages=USER, profile="deep", max_tokens=8000, timeout=30)
    message = engine.create(messages=USER, profile="deep", max_tokens=100, timeout=30)
    assert message.stop_reason in ("end_turn", "max_tokens")


def test_concise_profiles_add_their_instruction(engine: Engine) -> None:
    _, params = engine.prepare(profile="fast", messages=USER, system="You are helpful.")
    assert params["system"].startswith("You are helpful.\n\n")
    assert params["system"].endswith(engine.profile("fast").concise)
    blocks = [{"type": "text", "text": "Static", "cache_control": {"type": "ephemeral"}}]
    _, params = engine.prepare(profile="fast", messages=USER, system=blocks)
    assert params["system"][0] is blocks[0] and params["system"][-1]["type"] == "text"
    assert len(blocks) == 1  # the caller's list is not mutated
    _, params = engine.prepare(profile="chat", messages=USER)
    assert "system" not in params


def test_a_profile_temperature_reaches_the_api_in_the_body(engine: Engine, emulator: object) -> None:
    _, params = engine.prepare(profile="chat", messages=USER, temperature=0.0)
    assert "temperature" not in params  # not an argument of the installed SDK's create()
    assert params["extra_body"] == {"temperature": 0.0}
    _, params = engine.prepare(
        profile="chat", messages=USER, temperature=0.5, extra_body={"temperature": 1.0}
    )
    assert params["extra_body"] == {"temperature": 1.0}
    message = engine.create(messages=USER, profile="fast", temperature=0.0)
    assert message.stop_reason in ("end_turn", "max_tokens")
    with engine.stream(messages=USER, profile="fast", temperature=0.3) as s:
        assert s.text()


def test_response_cache_hits_and_misses_are_in_the_snapshot(emulator: Emulator) -> None:
    settings = Settings(base_url=emulator.base_url, max_retries=0, response_cache=True)
    exact = {"extra_body": {"temperature": 0}}
    with Engine(settings) as engine:
        first = engine.create(messages=USER, profile="fast", **exact)
        assert engine.create(messages=USER, profile="fast", **exact).id == first.id
        engine.create(messages=USER, profile="fast")  # sampled: never cached, not a lookup
        cache = engine.metrics_snapshot()["response_cache"]
    assert (cache["enabled"], cache["hits"], cache["misses"], cache["stored"]) == (True, 1, 1, 1)
