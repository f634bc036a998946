"""Typed, validated settings of the emulator: per-family timing, limits, faults.

Timing figures default to the latency table of the Anthropic Performance Tuning guide (p50/p95 time to
first token and output tokens per second). Unknown `claude-*` families get sonnet's figures, the
middle of the range, so a new model name never makes a test fast or slow by accident.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_TIMINGS",
    "EmulatorConfig",
    "ModelTiming",
    "RateLimit",
    "family_of",
    "parse_model_profile",
    "parse_rate_limit",
]

# The Anthropic Performance Tuning guide's "10K-token prompt: ~2 s uncached, ~0.5 s cached" on sonnet, with a
# 0.4 s median base: (2.0 - 0.4) s / 10,000 tokens = 0.16 ms per uncached token.
SONNET_PREFILL_MS_PER_TOKEN = 0.16
SONNET_P50_MS = 400.0
# Reading a cached prefix is not free; 1/20 of the prefill cost lands the cached 10K prompt near 0.5 s.
CACHED_PREFILL_FRACTION = 1 / 20


@dataclass(frozen=True, kw_only=True)
class ModelTiming:
    """Latency and cache figures of one model family."""

    ttft_p50_ms: float
    ttft_p95_ms: float
    tokens_per_second: float
    # Anthropic refuses to cache prefixes shorter than this; shorter ones are silently plain input.
    min_cacheable_tokens: int = 1024
    # None derives it from the p50 ratio to sonnet, so a slower family also prefills slower.
    prefill_ms_per_token: float | None = None

    def __post_init__(self) -> None:
        if not (self.ttft_p50_ms > 0 and math.isfinite(self.ttft_p50_ms)):
            raise ValueError(f"ttft_p50_ms must be a positive number, got {self.ttft_p50_ms!r}")
        if not (self.ttft_p95_ms >= self.ttft_p50_ms and math.isfinite(self.ttft_p95_ms)):
            raise ValueError(f"ttft_p95_ms must be >= ttft_p50_ms, got {self.ttft_p95_ms!r}")
        if not (self.tokens_per_second > 0 and math.isfinite(self.tokens_per_second)):
            raise ValueError(f"tokens_per_second must be positive, got {self.tokens_per_second!r}")
        if self.min_cacheable_tokens < 0:
            raise ValueError(f"min_cacheable_tokens must be >= 0, got {self.min_cacheable_tokens!r}")
        if self.prefill_ms_per_token is not None and self.prefill_ms_per_token < 0:
            raise ValueError(f"prefill_ms_per_token must be >= 0, got {self.prefill_ms_per_token!r}")

    @property
    def prefill_seconds_per_token(self) -> float:
        ms = self.prefill_ms_per_token
        if ms is None:
            ms = SONNET_PREFILL_MS_PER_TOKEN * self.ttft_p50_ms / SONNET_P50_MS
        return ms / 1000.0


DEFAULT_TIMINGS: Mapping[str, ModelTiming] = {
    "haiku": ModelTiming(ttft_p50_ms=200, ttft_p95_ms=600, tokens_per_second=150, min_cacheable_tokens=2048),
    "sonnet": ModelTiming(ttft_p50_ms=400, ttft_p95_ms=1200, tokens_per_second=90, min_cacheable_tokens=1024),
    "opus": ModelTiming(ttft_p50_ms=800, ttft_p95_ms=2500, tokens_per_second=40, min_cacheable_tokens=1024),
}
FALLBACK_FAMILY = "sonnet"


def family_of(model: str) -> str:
    """The timing family of a model id: the first known family named in it, else sonnet."""
    lowered = model.lower()
    for family in ("haiku", "sonnet", "opus"):
        if family in lowered:
            return family
    return FALLBACK_FAMILY


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """Per-minute limits for models matching `model` (an fnmatch glob); None means unlimited."""

    model: str = "*"
    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    output_tokens_per_minute: int | None = None

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")

    def matches(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model, self.model)


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. Build once; validated on construction."""

    # 1.0 reproduces the Anthropic Performance Tuning guide's latencies; 0 removes every sleep (tests,
    # throughput runs).
    time_scale: float = 1.0
    seed: int = 0
    # Fault specs in the `KIND[:RATE][@MODEL]` grammar, or parsed `Fault` objects.
    faults: Sequence[object] = ()
    # Merged over DEFAULT_TIMINGS, keyed by family name ("haiku", "sonnet", "opus").
    timings: Mapping[str, ModelTiming] = field(default_factory=dict)
    rate_limits: Sequence[RateLimit] = ()
    # The real API's request size limit; bodies above it get 413 request_too_large.
    max_body_bytes: int = 32 * 1024 * 1024
    # How many recent requests /_emulator/stats keeps; enough to debug a test, bounded for long runs.
    request_log_size: int = 200
    # Seconds since an arbitrary epoch that never runs faster under time_scale (cache TTLs, rate
    # windows); tests inject a fake clock to expire cache entries without waiting.
    clock: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.time_scale, int | float) and self.time_scale >= 0):
            raise ValueError(f"time_scale must be a number >= 0, got {self.time_scale!r}")
        if not math.isfinite(self.time_scale):
            raise ValueError(f"time_scale must be finite, got {self.time_scale!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if self.max_body_bytes <= 0:
            raise ValueError(f"max_body_bytes must be positive, got {self.max_body_bytes!r}")
        if self.request_log_size < 0:
            raise ValueError(f"request_log_size must be >= 0, got {self.request_log_size!r}")
        for name, timing in self.timings.items():
            if not isinstance(timing, ModelTiming):
                raise ValueError(f"timings[{name!r}] must be a ModelTiming, got {timing!r}")
        # Parse eagerly so a bad fault string fails at construction, naming itself.
        from .faults import parse_faults

        object.__setattr__(self, "faults", tuple(parse_faults(self.faults)))
        object.__setattr__(self, "timings", {**DEFAULT_TIMINGS, **self.timings})
        object.__setattr__(self, "rate_limits", tuple(self.rate_limits))

    def timing_for(self, model: str) -> ModelTiming:
        lowered = model.lower()
        for name, timing in self.timings.items():
            if name not in DEFAULT_TIMINGS and name.lower() in lowered:
                return timing
        return self.timings[family_of(model)]

    def replace(self, **changes: object) -> EmulatorConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def parse_model_profile(spec: str) -> tuple[str, ModelTiming]:
    """Parse `FAMILY:P50_MS,P95_MS,TOKENS_PER_S[,MIN_CACHEABLE_TOKENS]`, e.g. `haiku:200,600,150`."""
    family, sep, rest = spec.partition(":")
    family = family.strip()
    if not sep or not family:
        raise ValueError(f"expected FAMILY:P50_MS,P95_MS,TOKENS_PER_S[,MIN_CACHE], got {spec!r}")
    parts = [p.strip() for p in rest.split(",")]
    if len(parts) not in (3, 4):
        raise ValueError(f"expected 3 or 4 comma-separated numbers after {family!r}:, got {rest!r}")
    try:
        p50, p95, tps = (float(p) for p in parts[:3])
        min_cache = (
            int(parts[3])
            if len(parts) == 4
            else DEFAULT_TIMINGS.get(family, DEFAULT_TIMINGS[FALLBACK_FAMILY]).min_cacheable_tokens
        )
    except ValueError:
        raise ValueError(f"not a number in model profile {spec!r}") from None
    return family, ModelTiming(
        ttft_p50_ms=p50, ttft_p95_ms=p95, tokens_per_second=tps, min_cacheable_tokens=min_cache
    )


def parse_rate_limit(spec: str) -> RateLimit:
    """Parse `[GLOB:]rpm=N,itpm=N,otpm=N` (any subset), e.g. `*opus*:rpm=50,otpm=8000`."""
    glob, sep, rest = spec.rpartition(":") if "=" in spec.rpartition(":")[2] else ("", "", spec)
    keys = {
        "rpm": "requests_per_minute",
        "itpm": "input_tokens_per_minute",
        "otpm": "output_tokens_per_minute",
    }
    values: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq or key not in keys:
            raise ValueError(f"expected rpm=N, itpm=N or otpm=N in {spec!r}, got {item!r}")
        try:
            values[keys[key]] = int(raw)
        except ValueError:
            raise ValueError(f"not an integer in {item!r}") from None
    if not values:
        raise ValueError(f"no limit given in {spec!r}")
    return RateLimit(model=glob if sep else "*", **values)
