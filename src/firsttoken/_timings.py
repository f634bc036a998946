"""What one call took: the two numbers the Anthropic Performance Tuning guide says latency is made of
(time to first token, tokens per second), and how we got them."""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

__all__ = ["Timings"]


@dataclass(slots=True)
class Timings:
    started: float = field(default_factory=perf_counter)
    # Seconds from the call to the upstream's response headers (connection, queueing, retries).
    upstream: float | None = None
    # Seconds from the call to the first text the model produced: what a user waits for.
    ttft: float | None = None
    total: float | None = None
    output_tokens: int = 0
    retries: int = 0
    # The model that answered, and how many models were passed over first (failed or cooling down).
    served_by: str | None = None
    fallbacks: int = 0
    # engine.route(): the label chosen and how long the classification took.
    route: str | None = None
    classify_ms: float | None = None
    # A hedged call: "won" when the hedge answered, "lost" when the first request did (_upstream/hedging.py).
    hedge: str | None = None

    @property
    def tps(self) -> float | None:
        """Output tokens per second once generation began (the Anthropic Performance Tuning guide's second
        latency component)."""
        if self.total is None or self.ttft is None or self.output_tokens <= 1:
            return None
        generating = self.total - self.ttft
        return (self.output_tokens - 1) / generating if generating > 0 else None

    def as_dict(self) -> dict[str, Any]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 2)

        tps = self.tps
        return {
            "upstream_ms": ms(self.upstream),
            "ttft_ms": ms(self.ttft),
            "total_ms": ms(self.total),
            "tps": None if tps is None else round(tps, 1),
            "output_tokens": self.output_tokens,
            "retries": self.retries,
            "served_by": self.served_by,
            "fallbacks": self.fallbacks,
            "route": self.route,
            "classify_ms": self.classify_ms,
        }
