"""The Prometheus scrape of a metrics snapshot, written by prometheus_client.

The snapshot is this process's (`Metrics.snapshot()`) or the deployment's merged in Redis
(`_state/aggregate.py`): either way its histograms are bucket counts that add up, so one scrape of
any worker shows the whole deployment. The histograms carry the GenAI conventions' names as
OpenTelemetry's own Prometheus exporter spells them (`gen_ai.client.operation.duration` in seconds
becomes `gen_ai_client_operation_duration_seconds`); a scraper that asks for UTF-8 names in its
`Accept` header gets the dotted names themselves, which prometheus_client's encoder handles.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from ._metrics import ADVICE, HISTOGRAMS, RESUMED, SERVER_TOOL_REQUESTS, WARMING

__all__ = ["render_prometheus"]

_INSTRUMENTS = {i.name: i for i in HISTOGRAMS}
# Window counters per model that no histogram already counts (calls are the duration's `_count`).
_MODEL_COUNTERS = (
    ("retries", "firsttoken_retries", "Retries the SDK made before an answer or a failure"),
    ("fallbacks", "firsttoken_fallbacks", "Models passed over before another one answered"),
    ("errors", "firsttoken_errors", "Calls that failed (a client that left is not an error)"),
    ("cache_read_input_tokens", "firsttoken_cache_read_input_tokens", "Prompt tokens read from cache"),
    ("cache_creation_input_tokens", "firsttoken_cache_creation_input_tokens", "Prompt tokens cached"),
    ("hedges", "firsttoken_hedges", "Hedged first tokens: second requests sent after the hedge delay"),
    ("hedges_won", "firsttoken_hedges_won", "Hedges whose first token came first (their answer was served)"),
    (
        "hedge_input_tokens",
        "firsttoken_hedge_input_tokens",
        "Prompt tokens of the hedged calls' losing requests",
    ),
    (
        "hedge_output_tokens",
        "firsttoken_hedge_output_tokens",
        "Output tokens of the hedged calls' losing requests",
    ),
    ("hedge_cost_usd", "firsttoken_hedge_cost_usd", "Estimated dollars of the hedged calls' losing requests"),
    ("cost_usd", "firsttoken_cost_usd", "Estimated dollars of the answers, as each one's done prices it"),
)


def _bound(value: float) -> str:
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


class _Snapshot:
    """A prometheus_client collector over one snapshot (built per scrape, so nothing goes stale)."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        series = self.snapshot.get("series") or {}
        families: dict[str, Metric] = {}
        for h in sorted(series.get("histograms", ()), key=lambda h: sorted(h["attributes"].items())):
            instrument = _INSTRUMENTS.get(h["name"])
            if instrument is None:
                continue
            family = families.get(h["name"])
            if family is None:
                # Series of one histogram differ in their attributes (error.type, gen_ai.token.type),
                # so samples are added with their own labels rather than one fixed label list.
                family = families[h["name"]] = Metric(
                    instrument.prometheus, instrument.description, "histogram"
                )
            labels: dict[str, str] = dict(h["attributes"])
            bounds = [*(_bound(b) for b in instrument.buckets), "+Inf"]
            for bound, count in zip(bounds, accumulate(int(c) for c in h["counts"]), strict=True):
                family.add_sample(f"{instrument.prometheus}_bucket", {**labels, "le": bound}, count)
            family.add_sample(f"{instrument.prometheus}_count", labels, int(h["count"]))
            family.add_sample(f"{instrument.prometheus}_sum", labels, float(h["sum"]))
        yield from families.values()
        advice = CounterMetricFamily(
            "firsttoken_advisor_warnings",
            "The advisor's warnings, counted each time their cause is seen",
            labels=["firsttoken.advice.cause"],
        )
        for c in series.get("counters", ()):
            if c["name"] == ADVICE:
                advice.add_metric([c["attributes"]["firsttoken.advice.cause"]], float(c["value"]))
        yield advice
        tool_labels = ["gen_ai.tool.name", "gen_ai.response.model", "firsttoken.profile"]
        server_tools = CounterMetricFamily(
            "firsttoken_server_tool_requests",
            "Requests of tools the API ran (web search, web fetch), as its usage counts them",
            labels=tool_labels,
        )
        for c in series.get("counters", ()):
            if c["name"] == SERVER_TOOL_REQUESTS:
                values = [str(c["attributes"].get(k, "")) for k in tool_labels]
                server_tools.add_metric(values, float(c["value"]))
        yield server_tools
        models: Mapping[str, Mapping[str, Any]] = self.snapshot.get("models", {})
        for field, name, doc in _MODEL_COUNTERS:
            counter = CounterMetricFamily(name, doc, labels=["gen_ai.response.model"])
            for model, window in models.items():
                counter.add_metric([model], float(window.get(field) or 0))
            yield counter
        yield from _warming(series)
        resumed = sum(float(c["value"]) for c in series.get("counters", ()) if c["name"] == RESUMED)
        yield CounterMetricFamily(
            "firsttoken_streams_resumed",
            "Answers a client resumed after its connection dropped",
            value=resumed,
        )
        yield from _turns(self.snapshot.get("turns") or {})
        saved = GaugeMetricFamily(
            "firsttoken_cache_saved_usd",
            "Dollars prompt caching saved against the same prompts uncached (negative: writes unread)",
            labels=["gen_ai.response.model"],
        )
        for model, window in models.items():
            saved.add_metric([model], float(window.get("cost_saved_usd") or 0))
        yield saved
        yield GaugeMetricFamily(
            "firsttoken_open_streams",
            "Streams begun and not finished",
            value=self.snapshot.get("open_streams", 0),
        )
        workers = self.snapshot.get("workers")
        yield GaugeMetricFamily(
            "firsttoken_workers", "Workers this scrape covers", value=1 if workers is None else workers
        )


_WARM_LABELS = ("firsttoken.warm.kind", "firsttoken.warm.outcome", "firsttoken.warm.reason")
# Agent turns per profile (`Metrics.record_turn`): the tools' time is the execute_tool histogram.
_TURN_COUNTERS = (
    ("turns", "firsttoken_agent_turns", "Agent turns finished"),
    ("steps", "firsttoken_agent_steps", "Model calls the agent turns took"),
    ("tool_calls", "firsttoken_agent_tool_calls", "Tool calls the server ran for agent turns"),
    ("tool_errors", "firsttoken_agent_tool_errors", "Tool calls that failed or timed out"),
)


def _warming(series: Mapping[str, Any]) -> Iterator[Metric]:
    warming = CounterMetricFamily(
        "firsttoken_warming",
        "Warming's requests by kind (keep_warm, stay_warm, ahead) and outcome (sent, skipped, failed, hit)",
        labels=list(_WARM_LABELS),
    )
    for c in series.get("counters", ()):
        if c["name"] == WARMING:
            warming.add_metric([c["attributes"].get(label, "") for label in _WARM_LABELS], float(c["value"]))
    yield warming


def _turns(turns: Mapping[str, Mapping[str, Any]]) -> Iterator[Metric]:
    for field, name, doc in _TURN_COUNTERS:
        counter = CounterMetricFamily(name, doc, labels=["firsttoken.profile"])
        for profile, totals in turns.items():
            counter.add_metric([profile], float(totals.get(field) or 0))
        yield counter


def render_prometheus(snapshot: Mapping[str, Any], accept: str | None = None) -> tuple[bytes, str]:
    """The scrape body and its content type, for the scraper's `Accept` header."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(snapshot))
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
