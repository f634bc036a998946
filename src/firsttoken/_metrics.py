"""Per-call records, rolling percentiles per model and profile, histograms, and OpenTelemetry export.

The instruments use the OpenTelemetry GenAI semantic-convention names, attributes and advised
bucket boundaries, so dashboards built for other GenAI clients work unchanged. Without a configured
MeterProvider nothing is sent to OpenTelemetry; the same histograms are also kept here, as plain
bucket counts, for the Prometheus scrape (`_prometheus.py`) and the deployment-wide sum in Redis.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics as otel

from ._version import __version__

__all__ = [
    "ADVICE",
    "HISTOGRAMS",
    "CacheWindow",
    "CallRecord",
    "Instrument",
    "Metrics",
    "Series",
    "merge_series",
    "percentile",
    "summarize_turns",
]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One histogram of the GenAI conventions: its OTel name, unit, and the buckets they advise."""

    name: str
    unit: str
    description: str
    buckets: tuple[float, ...]
    # The name OpenTelemetry's Prometheus exporter gives it (dots to underscores, the unit spelled out).
    prometheus: str


# Bucket boundaries as the GenAI semantic conventions advise them (the installed
# opentelemetry-semantic-conventions package carries the names but no advice): durations double
# from 10 ms to 82 s, token counts grow fourfold from 1 to 67 M, chunk gaps are finer under 1 s.
_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_CHUNK_GAPS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)

DURATION = Instrument(
    "gen_ai.client.operation.duration",
    "s",
    "GenAI operation duration.",
    _SECONDS,
    "gen_ai_client_operation_duration_seconds",
)
TOKEN_USAGE = Instrument(
    "gen_ai.client.token.usage",
    "{token}",
    "Number of input and output tokens used.",
    tuple(float(b) for b in _TOKENS),
    "gen_ai_client_token_usage",
)
TIME_TO_FIRST_CHUNK = Instrument(
    "gen_ai.client.operation.time_to_first_chunk",
    "s",
    "Time to receive the first chunk, from issuing the request to the first chunk of the stream.",
    _SECONDS,
    "gen_ai_client_operation_time_to_first_chunk_seconds",
)
TIME_PER_OUTPUT_CHUNK = Instrument(
    "gen_ai.client.operation.time_per_output_chunk",
    "s",
    "Time per output chunk after the first one.",
    _CHUNK_GAPS,
    "gen_ai_client_operation_time_per_output_chunk_seconds",
)
EXECUTE_TOOL = Instrument(
    "gen_ai.execute_tool.duration",
    "s",
    "Duration of a tool the server ran for an agent turn.",
    _SECONDS,
    "gen_ai_execute_tool_duration_seconds",
)
HISTOGRAMS = (DURATION, TOKEN_USAGE, TIME_TO_FIRST_CHUNK, TIME_PER_OUTPUT_CHUNK, EXECUTE_TOOL)
# Each of the advisor's warnings, counted every time its cause is seen (the log says it once).
ADVICE = "firsttoken.advisor.warnings"

_Attrs = tuple[tuple[str, str], ...]
_Key = tuple[str, _Attrs]


class Series:
    """Histogram bucket counts and counters by (name, attributes): additive, so workers' sum is exact."""

    __slots__ = ("counters", "histograms")

    def __init__(self) -> None:
        # Per bucket (not cumulative) counts, one more than the boundaries for +Inf, then sum, count.
        self.histograms: dict[_Key, list[Any]] = {}
        self.counters: dict[_Key, float] = {}

    def entry(self, instrument: Instrument, key: tuple[tuple[str, str], ...]) -> list[Any]:
        """The counts of one histogram series, made on first use; `observe` adds to it."""
        entry = self.histograms.get((instrument.name, key))
        if entry is None:
            entry = self.histograms[(instrument.name, key)] = [[0] * (len(instrument.buckets) + 1), 0.0, 0]
        return entry

    def observe(self, instrument: Instrument, value: float, key: tuple[tuple[str, str], ...]) -> None:
        _bump(self.entry(instrument, key), instrument.buckets, value)

    def add(self, name: str, key: tuple[tuple[str, str], ...], amount: float = 1) -> None:
        self.counters[(name, key)] = self.counters.get((name, key), 0) + amount

    def dump(self) -> dict[str, Any]:
        """JSON-able, for the snapshot and the Redis publication."""
        return {
            "histograms": [
                {"name": name, "attributes": dict(key), "counts": list(e[0]), "sum": e[1], "count": e[2]}
                for (name, key), e in self.histograms.items()
            ],
            "counters": [
                {"name": name, "attributes": dict(key), "value": value}
                for (name, key), value in self.counters.items()
            ],
        }


def merge_series(dumps: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several `Series.dump()`s added up: bucket by bucket, counter by counter."""
    merged = Series()
    for dump in dumps:
        for h in dump.get("histograms", ()):
            key = (h["name"], tuple(sorted(h["attributes"].items())))
            entry = merged.histograms.get(key)
            if entry is None:
                entry = merged.histograms[key] = [[0] * len(h["counts"]), 0.0, 0]
            entry[0] = [a + int(b) for a, b in zip(entry[0], h["counts"], strict=True)]
            entry[1] += float(h["sum"])
            entry[2] += int(h["count"])
        for c in dump.get("counters", ()):
            merged.add(c["name"], tuple(sorted(c["attributes"].items())), float(c["value"]))
    return merged.dump()


@dataclass(frozen=True, slots=True)
class CallRecord:
    profile: str
    model: str
    streamed: bool
    total: float
    ttft: float | None = None
    tps: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    retries: int = 0
    # Models passed over before `model` answered (_fallback.py); the label engine.route() chose.
    fallbacks: int = 0
    route: str | None = None
    # None for a call that finished; otherwise the error type, or "cancelled" for a client that left.
    error: str | None = None

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


class ProviderCheck:
    """Whether the app has configured an OpenTelemetry provider, asked at most once a second.

    The API's getters read the environment on every call until a provider is set (about 1 us
    each): too dear per call in the no-provider case most apps are in. A provider set later is
    seen within a second; once set it cannot be unset, so a yes is kept for good.
    """

    __slots__ = ("_get", "_live", "_next", "_placeholders")

    def __init__(self, get: Callable[[], object], placeholders: frozenset[str]) -> None:
        # By class name: the API exports no name for its metrics proxy (`_ProxyMeterProvider`).
        self._get, self._placeholders = get, placeholders
        self._live = False
        self._next = 0.0

    def __call__(self) -> bool:
        if self._live:
            return True
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 1.0
            self._live = type(self._get()).__name__ not in self._placeholders
        return self._live


def _bump(entry: list[Any], buckets: tuple[float, ...], value: float) -> None:
    entry[0][bisect_left(buckets, value)] += 1
    entry[1] += value
    entry[2] += 1


def meter_configured() -> ProviderCheck:
    return ProviderCheck(otel.get_meter_provider, frozenset({"_ProxyMeterProvider", "NoOpMeterProvider"}))


def summarize_turns(totals: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Per profile: turns, steps (and per turn), tool calls, errors and seconds, cache reads."""
    out = {}
    for profile, t in sorted(totals.items()):
        turns = t["turns"]
        prompt = t["input_tokens"] + t["cache_read_input_tokens"] + t["cache_creation_input_tokens"]
        out[profile] = {
            "turns": int(turns),
            "steps": int(t["steps"]),
            "steps_per_turn": round(t["steps"] / turns, 2),
            "tool_calls": int(t["tool_calls"]),
            "tool_errors": int(t["tool_errors"]),
            "tool_seconds": round(t["tool_seconds"], 3),
            "cache_read_input_tokens": int(t["cache_read_input_tokens"]),
            "cache_read_ratio": round(t["cache_read_input_tokens"] / prompt, 4) if prompt else None,
            "max_steps_reached": int(t["max_steps_reached"]),
        }
    return out


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no data (a JSON null is honest, a zero would lie)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


class CacheWindow:
    """The caching part of a window: TTFT split by cache hit and miss, estimated cost saved."""

    __slots__ = ("hit", "miss", "saved")

    def __init__(self, size: int) -> None:
        # A hit is a call that read any of its prompt from cache; its TTFT is what caching buys.
        self.hit: deque[float] = deque(maxlen=size)
        self.miss: deque[float] = deque(maxlen=size)
        self.saved = 0.0

    def add(self, record: CallRecord, saved: float) -> None:
        self.saved += saved
        if record.ttft is not None and record.error is None:
            (self.hit if record.cache_read_input_tokens > 0 else self.miss).append(record.ttft)

    def summary(self) -> dict[str, Any]:
        hit, miss = list(self.hit), list(self.miss)
        return {
            "cost_saved_usd": round(self.saved, 6),
            "ttft_hit_p50_ms": _ms(percentile(hit, 50)),
            "ttft_hit_p95_ms": _ms(percentile(hit, 95)),
            "ttft_miss_p50_ms": _ms(percentile(miss, 50)),
            "ttft_miss_p95_ms": _ms(percentile(miss, 95)),
        }


class _Window:
    __slots__ = (
        "cache",
        "cache_read",
        "cache_write",
        "count",
        "errors",
        "fallbacks",
        "input",
        "output",
        "retries",
        "routes",
        "tps",
        "ttft",
    )

    def __init__(self, size: int) -> None:
        self.ttft: deque[float] = deque(maxlen=size)
        self.tps: deque[float] = deque(maxlen=size)
        self.count = self.errors = self.retries = self.fallbacks = 0
        self.routes: dict[str, int] = {}
        self.input = self.output = self.cache_read = self.cache_write = 0
        self.cache = CacheWindow(size)

    def add(self, record: CallRecord, saved: float = 0.0) -> None:
        self.cache.add(record, saved)
        self.count += 1
        self.retries += record.retries
        self.fallbacks += record.fallbacks
        if record.route is not None:
            self.routes[record.route] = self.routes.get(record.route, 0) + 1
        if record.error is not None and record.error != "cancelled":
            self.errors += 1
        if record.ttft is not None:
            self.ttft.append(record.ttft)
        if record.tps is not None:
            self.tps.append(record.tps)
        self.input += record.input_tokens
        self.output += record.output_tokens
        self.cache_read += record.cache_read_input_tokens
        self.cache_write += record.cache_creation_input_tokens

    def summary(self) -> dict[str, Any]:
        ttft = list(self.ttft)
        p50, p95 = percentile(ttft, 50), percentile(ttft, 95)
        tps = percentile(list(self.tps), 50)
        prompt = self.input + self.cache_read + self.cache_write
        return {
            "count": self.count,
            "errors": self.errors,
            "retries": self.retries,
            "fallbacks": self.fallbacks,
            "routes": dict(self.routes),
            "ttft_p50_ms": _ms(p50),
            "ttft_p95_ms": _ms(p95),
            "tps_p50": None if tps is None else round(tps, 1),
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_ratio": round(self.cache_read / prompt, 4) if prompt else None,
            **self.cache.summary(),
        }


class Metrics:
    def __init__(self, *, window: int = 1024) -> None:
        self._window = window
        # Estimated dollars a call's caching saved; the engine plugs in its pricing table.
        self._lock = threading.Lock()
        self._models: dict[str, _Window] = {}
        self._profiles: dict[str, _Window] = {}
        # Agent turns per profile: turns, steps, tool calls and time, cache reads (`record_turn`).
        self._turns: dict[str, dict[str, float]] = {}
        self._all = _Window(window)
        self.series = Series()
        # Streams begun and not yet finished, in this process (a gauge; workers' add up).
        self.open_streams = 0
        # Bumped by every change, so a publisher can tell whether there is anything new to send.
        self.changes = 0
        # Attribute sets by (requested model, answering model, profile, error): built once each.
        self._attributes: dict[tuple[str, str, str, str | None], tuple[_Attrs, _Attrs, _Attrs]] = {}
        # The series' histogram counts of each attribute set, so a call adds to them directly.
        self._entries: dict[_Attrs, tuple[list[Any], ...]] = {}
        self._dicts: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        meter = otel.get_meter("firsttoken", __version__)
        self._otel_live = meter_configured()
        # `gen_ai.client.streaming.time_to_first_token` was never a convention name: it is kept in
        # OpenTelemetry only, as a deprecated alias of `time_to_first_chunk` for existing dashboards.
        self._otel = {
            i.name: meter.create_histogram(
                i.name, unit=i.unit, description=i.description, explicit_bucket_boundaries_advisory=i.buckets
            )
            for i in HISTOGRAMS
        }
        self._deprecated_ttft = meter.create_histogram(
            "gen_ai.client.streaming.time_to_first_token",
            unit="s",
            description="Deprecated: use gen_ai.client.operation.time_to_first_chunk",
            explicit_bucket_boundaries_advisory=TIME_TO_FIRST_CHUNK.buckets,
        )
        self._advice = meter.create_counter(
            ADVICE, unit="{warning}", description="Advisor warnings, counted each time the cause is seen"
        )

    def _key(self, record: CallRecord, requested: str | None) -> tuple[_Attrs, _Attrs, _Attrs]:
        """The call's attribute set, and the same with `gen_ai.token.type` input and output."""
        cached = (requested or record.model, record.model, record.profile, record.error)
        key = self._attributes.get(cached)
        if key is None:
            # The conventions' attributes; the profile is ours, under our own namespace.
            attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": cached[0],
                "firsttoken.profile": record.profile,
            }
            if record.error is None:
                attributes["gen_ai.response.model"] = record.model
            else:
                attributes["error.type"] = record.error
            if len(self._attributes) >= 1024:
                self._attributes.clear()
                self._entries.clear()
            plain = tuple(sorted(attributes.items()))
            key = self._attributes[cached] = (
                plain,
                (*plain, ("gen_ai.token.type", "input")),
                (*plain, ("gen_ai.token.type", "output")),
            )
        return key

    def _as_dict(self, key: tuple[tuple[str, str], ...]) -> dict[str, str]:
        # The OTel API wants a mapping; one per attribute set, shared (nothing mutates it).
        found = self._dicts.get(key)
        if found is None:
            if len(self._dicts) >= 4096:
                self._dicts.clear()
            found = self._dicts[key] = dict(key)
        return found

    def stream_opened(self) -> None:
        with self._lock:
            self.open_streams += 1
            self.changes += 1

    def record(self, record: CallRecord, *, saved: float = 0.0, requested: str | None = None) -> None:
        """Count one finished call; `saved` is what prompt caching saved on it, in dollars.

        `requested` is the model the call asked for, when a fallback answered with another one.
        """
        keys = self._key(record, requested)
        with self._lock:
            self.changes += 1
            if record.streamed and self.open_streams > 0:
                self.open_streams -= 1
            for groups, name in ((self._models, record.model), (self._profiles, record.profile)):
                window = groups.get(name)
                if window is None:
                    window = groups[name] = _Window(self._window)
                window.add(record, saved)
            self._all.add(record, saved)
            # Straight into the series' counts (looked up once per attribute set): this runs for
            # every call, and the scrape needs nothing more.
            duration, first_chunk, per_chunk, tokens_in, tokens_out = self._entries_for(keys)
            _bump(duration, DURATION.buckets, record.total)
            if record.ttft is not None:
                _bump(first_chunk, TIME_TO_FIRST_CHUNK.buckets, record.ttft)
            if record.tps:
                # The mean gap between output chunks once the first arrived, once per call: the
                # stream loop times the first chunk and the last, not each one in between.
                _bump(per_chunk, TIME_PER_OUTPUT_CHUNK.buckets, 1.0 / record.tps)
            if record.error is None:
                _bump(tokens_in, TOKEN_USAGE.buckets, record.prompt_tokens)
                _bump(tokens_out, TOKEN_USAGE.buckets, record.output_tokens)
        if self._otel_live():
            self._export(record, keys)

    def _entries_for(self, keys: tuple[_Attrs, _Attrs, _Attrs]) -> tuple[list[Any], ...]:
        entries = self._entries.get(keys[0])
        if entries is None:
            key, input_key, output_key = keys
            series = self.series
            entries = self._entries[key] = (
                series.entry(DURATION, key),
                series.entry(TIME_TO_FIRST_CHUNK, key),
                series.entry(TIME_PER_OUTPUT_CHUNK, key),
                series.entry(TOKEN_USAGE, input_key),
                series.entry(TOKEN_USAGE, output_key),
            )
        return entries

    def _export(self, record: CallRecord, keys: tuple[_Attrs, _Attrs, _Attrs]) -> None:
        """The same observations to OpenTelemetry, once the app has configured a MeterProvider."""
        key, input_key, output_key = keys
        attributes = self._as_dict(key)
        otel_of = self._otel
        otel_of[DURATION.name].record(record.total, attributes)
        if record.ttft is not None:
            otel_of[TIME_TO_FIRST_CHUNK.name].record(record.ttft, attributes)
            self._deprecated_ttft.record(record.ttft, attributes)
        if record.tps:
            otel_of[TIME_PER_OUTPUT_CHUNK.name].record(1.0 / record.tps, attributes)
        if record.error is None:
            otel_of[TOKEN_USAGE.name].record(record.prompt_tokens, self._as_dict(input_key))
            otel_of[TOKEN_USAGE.name].record(record.output_tokens, self._as_dict(output_key))

    def record_turn(self, turn: Any) -> None:
        """Count one finished agent turn (`_agent.TurnRecord`) and each tool call it ran, the
        latter as `gen_ai.execute_tool.duration`."""
        keys = []
        for name, seconds, failed in turn.tools:
            attributes = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "firsttoken.profile": turn.profile,
            }
            if failed:
                attributes["error.type"] = "tool_error"
            keys.append((tuple(sorted(attributes.items())), seconds))
        with self._lock:
            self.changes += 1
            totals = self._turns.setdefault(turn.profile, {})
            for field, value in (
                ("turns", 1),
                ("steps", turn.steps),
                ("tool_calls", turn.tool_calls),
                ("tool_errors", turn.tool_errors),
                ("tool_seconds", turn.tool_seconds),
                ("input_tokens", turn.input_tokens),
                ("cache_read_input_tokens", turn.cache_read_input_tokens),
                ("cache_creation_input_tokens", turn.cache_creation_input_tokens),
                ("max_steps_reached", int(turn.max_steps_reached)),
            ):
                totals[field] = totals.get(field, 0) + value
            for key, seconds in keys:
                self.series.observe(EXECUTE_TOOL, seconds, key)
        if self._otel_live():
            histogram = self._otel[EXECUTE_TOOL.name]
            for key, seconds in keys:
                histogram.record(seconds, self._as_dict(key))

    def advised(self, cause: str) -> None:
        """One of the advisor's warnings was seen again (the advisor logs each cause only once)."""
        key = (("firsttoken.advice.cause", cause),)
        with self._lock:
            self.changes += 1
            self.series.add(ADVICE, key)
        self._advice.add(1, self._as_dict(key))

    def snapshot(self) -> dict[str, Any]:
        """JSON-able: per model and per profile the count, TTFT p50/p95, tokens/s p50, cache read ratio.

        Also the open streams and the histograms' bucket counts (`series`, for the Prometheus scrape).
        """
        with self._lock:
            return {
                "models": {name: w.summary() for name, w in sorted(self._models.items())},
                "profiles": {name: w.summary() for name, w in sorted(self._profiles.items())},
                "total": self._all.summary(),
                "open_streams": self.open_streams,
                "turns": summarize_turns(self._turns),
                "series": self.series.dump(),
            }

    def reset(self) -> None:
        with self._lock:
            self._models.clear()
            self._profiles.clear()
            self._turns.clear()
            self._all = _Window(self._window)
            self.series = Series()
            self._entries.clear()
