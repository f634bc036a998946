"""When each part of an answer is due.

TTFT = (lognormal draw fitted to the family's p50/p95 + uncached_tokens * prefill_cost
        + cached_tokens * prefill_cost / 20) * (10 if the `slow` fault fires)

The lognormal has median p50 and sigma = ln(p95 / p50) / 1.645, so its 95th percentile is p95.
Uncached tokens are `input_tokens + cache_creation_input_tokens`; on sonnet a 10,000-token prompt
adds 1.6 s uncached (about 2 s TTFT at the median) and 0.08 s when read from cache (about 0.5 s).

Token n (0-based, n >= 1) is due at `first + (n + j_n) / tps`, with j_n uniform in +-0.25 and
`tps` multiplied by 2.5 for `speed: fast`. Deadlines are absolute so scheduler lag never piles up.
Every delay is multiplied by `time_scale`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .config import CACHED_PREFILL_FRACTION, ModelTiming

__all__ = ["FAST_SPEED_FACTOR", "Schedule", "plan_schedule"]

FAST_SPEED_FACTOR = 2.5
SLOW_FAULT_FACTOR = 10.0
# z-score of the 95th percentile of a standard normal.
Z95 = 1.6448536269514722
JITTER = 0.25


@dataclass(frozen=True)
class Schedule:
    ttft: float  # seconds after the request arrived until the first token, already scaled
    interval: float  # scaled seconds per output token
    jitter: tuple[float, ...]

    def due(self, n: int) -> float:
        """Scaled seconds after arrival at which token n is due."""
        if n == 0:
            return self.ttft
        return self.ttft + (n + self.jitter[n % len(self.jitter)]) * self.interval


def plan_schedule(
    timing: ModelTiming,
    rng: random.Random,
    *,
    uncached_tokens: int,
    cached_tokens: int,
    fast: bool,
    slow: bool,
    time_scale: float,
) -> Schedule:
    p50 = timing.ttft_p50_ms / 1000.0
    sigma = math.log(timing.ttft_p95_ms / timing.ttft_p50_ms) / Z95
    base = math.exp(math.log(p50) + sigma * rng.gauss(0.0, 1.0))
    cost = timing.prefill_seconds_per_token
    ttft = base + uncached_tokens * cost + cached_tokens * cost * CACHED_PREFILL_FRACTION
    if slow:
        ttft *= SLOW_FAULT_FACTOR
    tps = timing.tokens_per_second * (FAST_SPEED_FACTOR if fast else 1.0)
    jitter = tuple(rng.uniform(-JITTER, JITTER) for _ in range(64))
    return Schedule(ttft=ttft * time_scale, interval=time_scale / tps, jitter=jitter)
