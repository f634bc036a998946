"""`Metrics`: one process's calls counted, in rolling windows, GenAI histograms and OpenTelemetry."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from .export import OtelExport
from .instruments import (
    ADVICE,
    DURATION,
    EXECUTE_TOOL,
    RESUMED,
    SERVER_TOOL_REQUESTS,
    TIME_PER_OUTPUT_CHUNK,
    TIME_TO_FIRST_CHUNK,
    TOKEN_USAGE,
    WARMING,
)
from .record import CallRecord
from .series import Attrs, Series, bump, merge_series
from .windows import Window, percentile, summarize_turns

__all__ = ["Metrics", "merge_dumps"]

# A TTFT percentile needs this many of the model's calls before a hedge trusts it...
PERCENTILE_MIN_CALLS = 20
# ...and is worked out again after this many more (sorting the window on every call would not pay).
PERCENTILE_EVERY = 16


class Metrics:
    """One process's calls: windows per model, per profile and in all, agent turns per profile, the
    histograms' series, and the same sent to OpenTelemetry once the app configures a provider."""

    def __init__(self, *, window: int = 1024) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._models: dict[str, Window] = {}
        self._profiles: dict[str, Window] = {}
        # Agent turns per profile: turns, steps, tool calls and time, cache reads (`record_turn`).
        self._turns: dict[str, dict[str, float]] = {}
        self._all = Window(window)
        self.series = Series()
        # Streams begun and not yet finished, in this process (a gauge; workers' add up).
        self.open_streams = 0
        # Bumped by every change, so a publisher can tell whether there is anything new to send.
        self.changes = 0
        # Attribute sets by (requested model, answering model, profile, error): built once each.
        self._attributes: dict[tuple[str, str, str, str | None], tuple[Attrs, Attrs, Attrs]] = {}
        # The series' histogram counts of each attribute set, so a call adds to them directly.
        self._entries: dict[Attrs, tuple[list[Any], ...]] = {}
        self._otel = OtelExport()
        self._otel_live = self._otel.live
        # (model, q) -> (the model's call count then, the percentile in seconds): ttft_percentile().
        self._percentiles: dict[tuple[str, float], tuple[int, float | None]] = {}

    def _key(self, record: CallRecord, requested: str | None) -> tuple[Attrs, Attrs, Attrs]:
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

    def stream_opened(self) -> None:
        with self._lock:
            self.open_streams += 1
            self.changes += 1

    def ttft_percentile(self, model: str, q: float) -> float | None:
        """The `q`th percentile (0 to 100) of `model`'s recent TTFT in seconds, from this process's
        window; None until it holds `PERCENTILE_MIN_CALLS` first tokens (hedging's delay)."""
        key = (model, q)
        with self._lock:
            window = self._models.get(model)
            if window is None or len(window.ttft) < PERCENTILE_MIN_CALLS:
                return None
            cached = self._percentiles.get(key)
            if cached is not None and window.count - cached[0] < PERCENTILE_EVERY:
                return cached[1]
            value = percentile(list(window.ttft), q)
            if len(self._percentiles) >= 256:
                self._percentiles.clear()
            self._percentiles[key] = (window.count, value)
            return value

    def record(
        self,
        record: CallRecord,
        *,
        saved: float = 0.0,
        requested: str | None = None,
        hedge_cost: float = 0.0,
        cost: float = 0.0,
    ) -> None:
        """Count one finished call; `saved` is what prompt caching saved on it, in dollars,
        `hedge_cost` what the request that lost cost, when the call was hedged, and `cost` what
        its answer cost (`done`'s `cost_usd`).

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
                    window = groups[name] = Window(self._window)
                window.add(record, saved, hedge_cost, cost)
            self._all.add(record, saved, hedge_cost, cost)
            # Straight into the series' counts (looked up once per attribute set): this runs for
            # every call, and the scrape needs nothing more.
            duration, first_chunk, per_chunk, tokens_in, tokens_out = self._entries_for(keys)
            bump(duration, DURATION.buckets, record.total)
            if record.ttft is not None:
                bump(first_chunk, TIME_TO_FIRST_CHUNK.buckets, record.ttft)
            if record.tps:
                # The mean gap between output chunks once the first arrived, once per call: the
                # stream loop times the first chunk and the last, not each one in between.
                bump(per_chunk, TIME_PER_OUTPUT_CHUNK.buckets, 1.0 / record.tps)
            if record.error is None:
                bump(tokens_in, TOKEN_USAGE.buckets, record.prompt_tokens)
                bump(tokens_out, TOKEN_USAGE.buckets, record.output_tokens)
            for field, count in record.server_tool_use:
                if count:
                    tool = (
                        ("firsttoken.profile", record.profile),
                        ("gen_ai.response.model", record.model),
                        ("gen_ai.tool.name", field.removesuffix("_requests")),
                    )
                    self.series.add(SERVER_TOOL_REQUESTS, tool, count)
        if self._otel_live():
            self._otel.call(record, keys)

    def _entries_for(self, keys: tuple[Attrs, Attrs, Attrs]) -> tuple[list[Any], ...]:
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
            self._otel.tools(keys)

    def advised(self, cause: str) -> None:
        """One of the advisor's warnings was seen again (the advisor logs each cause only once)."""
        key = (("firsttoken.advice.cause", cause),)
        with self._lock:
            self.changes += 1
            self.series.add(ADVICE, key)
        self._otel.advised(key)

    def stream_resumed(self) -> None:
        """A client resumed an answer after its connection dropped (`RESUMED`)."""
        with self._lock:
            self.changes += 1
            self.series.add(RESUMED, ())

    def warming(self, kind: str, outcome: str, reason: str | None = None) -> None:
        """One of warming's requests (`WARMING`): sent, skipped (why), failed, or a later hit."""
        attributes = {"firsttoken.warm.kind": kind, "firsttoken.warm.outcome": outcome}
        if reason is not None:
            attributes["firsttoken.warm.reason"] = reason
        with self._lock:
            self.changes += 1
            self.series.add(WARMING, tuple(sorted(attributes.items())))

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

    def dump(self) -> dict[str, Any]:
        """The raw windows (counters and the samples behind the percentiles), JSON-able: what a
        worker publishes for the deployment's view, which `merge_dumps` adds up."""
        with self._lock:
            return {
                "models": {name: w.dump() for name, w in self._models.items()},
                "profiles": {name: w.dump() for name, w in self._profiles.items()},
                "total": self._all.dump(),
                # Histogram buckets and counters add up across workers; so do the streams open in each.
                "series": self.series.dump(),
                "open_streams": self.open_streams,
                "turns": {profile: dict(t) for profile, t in self._turns.items()},
            }

    def reset(self) -> None:
        with self._lock:
            self._models.clear()
            self._profiles.clear()
            self._turns.clear()
            self._all = Window(self._window)
            self.series = Series()
            self._entries.clear()
            self._percentiles.clear()


def merge_dumps(dumps: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One `Metrics.snapshot()`-shaped dict from several workers' `Metrics.dump()`."""
    out: dict[str, Any] = {}
    for group in ("models", "profiles"):
        names = sorted({name for d in dumps for name in d[group]})
        out[group] = {
            name: Window.merged([d[group][name] for d in dumps if name in d[group]]).summary()
            for name in names
        }
    out["total"] = Window.merged([d["total"] for d in dumps]).summary()
    out["open_streams"] = sum(int(d.get("open_streams", 0)) for d in dumps)
    out["series"] = merge_series(d["series"] for d in dumps if "series" in d)
    # Agent turns' totals add up per profile and field (a worker of an older version has none).
    turns: dict[str, dict[str, float]] = {}
    for d in dumps:
        for profile, totals in (d.get("turns") or {}).items():
            merged = turns.setdefault(profile, {})
            for field, value in totals.items():
                merged[field] = merged.get(field, 0) + value
    out["turns"] = summarize_turns(turns)
    return out
