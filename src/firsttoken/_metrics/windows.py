"""Rolling windows per model and profile: counts and tokens, percentiles of the latest calls.

A window keeps the latest `size` samples; its counters add up, so several workers' windows merge
exactly (`Window.dump()`, `Window.merged()`: the deployment's view in Redis).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from .record import CallRecord

__all__ = ["CacheWindow", "Window", "percentile", "summarize_turns"]


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


# The counters of a window, as `Window.dump()` writes them.
_COUNTERS = ("count", "errors", "retries", "fallbacks", "input", "output", "cache_read", "cache_write")
# Hedged first tokens' counters: hedges sent, hedges whose answer was served, the prompt and output
# tokens of the requests that lost. Read with a default: a worker of an older version has none.
_HEDGE_COUNTERS = ("hedges", "hedges_won", "hedge_input", "hedge_output")


class Window:
    """One group's rolling window (a model, a profile, all): counts, tokens, TTFT and tokens/s."""

    __slots__ = (
        "cache",
        "cache_read",
        "cache_write",
        "cost",
        "count",
        "errors",
        "fallbacks",
        "hedge_cost",
        "hedge_input",
        "hedge_output",
        "hedges",
        "hedges_won",
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
        self.hedges = self.hedges_won = self.hedge_input = self.hedge_output = 0
        self.hedge_cost = 0.0
        # Dollars of the answers (the requests that lost a hedge are in `hedge_cost`).
        self.cost = 0.0
        self.cache = CacheWindow(size)

    def add(self, record: CallRecord, saved: float = 0.0, hedge_cost: float = 0.0, cost: float = 0.0) -> None:
        self.cache.add(record, saved)
        self.cost += cost
        if record.hedge is not None:
            self.hedges += 1
            self.hedges_won += record.hedge == "won"
            self.hedge_input += (
                record.hedge_input_tokens
                + record.hedge_cache_read_input_tokens
                + record.hedge_cache_creation_input_tokens
            )
            self.hedge_output += record.hedge_output_tokens
            self.hedge_cost += hedge_cost
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

    def dump(self) -> dict[str, Any]:
        """The counters and samples, JSON-able (a worker's part of the deployment's view)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in (*_COUNTERS, *_HEDGE_COUNTERS)}
        out["hedge_cost"] = self.hedge_cost
        out["cost"] = self.cost
        out["routes"] = dict(self.routes)
        out["ttft"], out["tps"] = list(self.ttft), list(self.tps)
        out["hit"], out["miss"], out["saved"] = list(self.cache.hit), list(self.cache.miss), self.cache.saved
        return out

    @classmethod
    def merged(cls, parts: list[Mapping[str, Any]]) -> Window:
        """One window holding every sample and the summed counters of several `dump()`s."""
        size = max(1, sum(len(p["ttft"]) + len(p["tps"]) + len(p["hit"]) + len(p["miss"]) for p in parts))
        window = cls(size)
        for part in parts:
            for name in _COUNTERS:
                setattr(window, name, getattr(window, name) + int(part[name]))
            for name in _HEDGE_COUNTERS:
                setattr(window, name, getattr(window, name) + int(part.get(name, 0)))
            window.hedge_cost += float(part.get("hedge_cost", 0.0))
            window.cost += float(part.get("cost", 0.0))
            for route, count in part["routes"].items():
                window.routes[route] = window.routes.get(route, 0) + int(count)
            window.ttft.extend(part["ttft"])
            window.tps.extend(part["tps"])
            window.cache.hit.extend(part["hit"])
            window.cache.miss.extend(part["miss"])
            window.cache.saved += float(part["saved"])
        return window

    def summary(self) -> dict[str, Any]:
        ttft = list(self.ttft)
        p50, p95, p99 = percentile(ttft, 50), percentile(ttft, 95), percentile(ttft, 99)
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
            "ttft_p99_ms": _ms(p99),
            "tps_p50": None if tps is None else round(tps, 1),
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_ratio": round(self.cache_read / prompt, 4) if prompt else None,
            "hedges": self.hedges,
            "hedges_won": self.hedges_won,
            "hedge_input_tokens": self.hedge_input,
            "hedge_output_tokens": self.hedge_output,
            "hedge_cost_usd": round(self.hedge_cost, 6),
            "cost_usd": round(self.cost, 6),
            **self.cache.summary(),
        }


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
