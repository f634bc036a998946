"""The caching part of a metrics window: TTFT split by cache hit and miss, estimated cost saved."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._metrics import CallRecord

__all__ = ["CacheWindow"]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


class CacheWindow:
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
        # Imported here: metrics.py imports this module while it is itself being imported.
        from .._metrics import percentile

        hit, miss = list(self.hit), list(self.miss)
        return {
            "cost_saved_usd": round(self.saved, 6),
            "ttft_hit_p50_ms": _ms(percentile(hit, 50)),
            "ttft_hit_p95_ms": _ms(percentile(hit, 95)),
            "ttft_miss_p50_ms": _ms(percentile(miss, 50)),
            "ttft_miss_p95_ms": _ms(percentile(miss, 95)),
        }
