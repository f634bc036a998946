"""Time to first token and tokens/s per profile, measured through the engine (for `firsttoken_bench`)."""

from __future__ import annotations

import statistics
from typing import Any

from firsttoken import Engine

__all__ = ["PROMPT", "bench_profile"]

PROMPT = "Reply with a short paragraph about latency."


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def bench_profile(engine: Engine, profile: str, *, requests: int, max_tokens: int | None) -> dict[str, Any]:
    """`requests` sequential streams on one profile; failures are counted, not raised."""
    ttfts: list[float] = []
    rates: list[float] = []
    errors: dict[str, int] = {}
    overrides: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    model = engine.profile(profile).model
    for _ in range(requests):
        try:
            with engine.stream(
                messages=[{"role": "user", "content": PROMPT}], profile=profile, **overrides
            ) as s:
                for _text in s:
                    pass
                model = s.model
                if s.timings.ttft is not None:
                    ttfts.append(s.timings.ttft * 1000)
                if s.timings.tps is not None:
                    rates.append(s.timings.tps)
        except Exception as exc:  # every failure kind is reported by name in the result
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
    p50, p95 = _percentile(ttfts, 50), _percentile(ttfts, 95)
    tps = _percentile(rates, 50)
    return {
        "profile": profile,
        "model": model,
        "requests": requests,
        "ok": len(ttfts),
        "errors": errors,
        "ttft_p50_ms": None if p50 is None else round(p50, 1),
        "ttft_p95_ms": None if p95 is None else round(p95, 1),
        "tps_p50": None if tps is None else round(tps, 1),
    }
