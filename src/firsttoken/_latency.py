"""The Anthropic Performance Tuning guide's latency table: what each model family is expected to do,
for advice and guards."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GUIDE_LATENCY", "ModelLatency", "expected_seconds", "family_of"]


@dataclass(frozen=True, slots=True)
class ModelLatency:
    ttft_p50: float
    ttft_p95: float
    tokens_per_second: float


# "Latency Benchmarks (approximate)" in the Anthropic Performance Tuning guide; unknown families are treated
# like Sonnet.
GUIDE_LATENCY: dict[str, ModelLatency] = {
    "haiku": ModelLatency(0.2, 0.6, 150.0),
    "sonnet": ModelLatency(0.4, 1.2, 90.0),
    "opus": ModelLatency(0.8, 2.5, 40.0),
}


def family_of(model: str) -> str:
    lowered = model.lower()
    for family in GUIDE_LATENCY:
        if family in lowered:
            return family
    return "sonnet"


def expected_seconds(model: str, max_tokens: int) -> float:
    """A pessimistic (p95 first token) duration of a call that uses its whole output budget."""
    latency = GUIDE_LATENCY[family_of(model)]
    return latency.ttft_p95 + max_tokens / latency.tokens_per_second
