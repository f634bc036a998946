"""Per-call records, rolling percentiles per model and profile, and OpenTelemetry export.

The instruments use the OpenTelemetry GenAI semantic-convention names, so dashboards built for
other GenAI clients work unchanged. Without a configured MeterProvider the API is a no-op.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics as otel

from ._version import __version__

__all__ = ["CacheWindow", "CallRecord", "Metrics", "percentile"]


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
        self._all = _Window(window)
        meter = otel.get_meter("firsttoken", __version__)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration"
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Measures number of input and output tokens used",
        )
        self._ttft = meter.create_histogram(
            "gen_ai.client.streaming.time_to_first_token",
            unit="s",
            description="Time to the first output token",
        )

    def record(self, record: CallRecord, *, saved: float = 0.0) -> None:
        """Count one finished call; `saved` is what prompt caching saved on it, in dollars."""
        with self._lock:
            for groups, key in ((self._models, record.model), (self._profiles, record.profile)):
                window = groups.get(key)
                if window is None:
                    window = groups[key] = _Window(self._window)
                window.add(record, saved)
            self._all.add(record, saved)
        attributes: dict[str, str] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": record.model,
            "firsttoken.profile": record.profile,
        }
        if record.error is not None:
            attributes["error.type"] = record.error
        self._duration.record(record.total, attributes)
        if record.ttft is not None:
            self._ttft.record(record.ttft, attributes)
        if record.error is None:
            self._tokens.record(record.prompt_tokens, {**attributes, "gen_ai.token.type": "input"})
            self._tokens.record(record.output_tokens, {**attributes, "gen_ai.token.type": "output"})

    def snapshot(self) -> dict[str, Any]:
        """JSON-able: per model and per profile the count, TTFT p50/p95, tokens/s p50, cache read ratio."""
        with self._lock:
            return {
                "models": {name: w.summary() for name, w in sorted(self._models.items())},
                "profiles": {name: w.summary() for name, w in sorted(self._profiles.items())},
                "total": self._all.summary(),
            }

    def reset(self) -> None:
        with self._lock:
            self._models.clear()
            self._profiles.clear()
            self._all = _Window(self._window)
