"""When refreshing a cached prefix pays, and the daemon thread that does it.

The cost model, per prefix of P tokens at input price p, TTL T (write multiplier w: 1.25 for 5m,
2 for 1h; read 0.1):

* a refresh (a `max_tokens: 0` call) reads the prefix from cache: it costs 0.1·P·p and keeps the
  entry for another T;
* letting it lapse costs nothing until the next request, which then writes the prefix instead of
  reading it: (w - 0.1)·P·p more, plus the slower TTFT of an uncached prefix.

With requests arriving at rate λ (estimated from the last `RATE_WINDOW` of traffic, idle time
included), the chance that at least one arrives within the next T is q = 1 - exp(-λT). A refresh
pays when q·(w - 0.1) > 0.1, that is λT > -ln(1 - 0.1 / (w - 0.1)): about one request per 55
minutes for 5m, one per 18 hours for 1h. The rule ignores the TTFT gain, so it never refreshes
when refreshing costs more than it saves; and as λ decays with idle time, a prefix nobody uses is
left to lapse after at most `RATE_WINDOW`.

A refresh is only considered when the entry is about to lapse (within `LEAD` of T after its last
use); traffic that reads or writes the prefix resets that clock, so steady traffic never triggers one.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .._pricing import READ_MULTIPLIER, TTL_SECONDS, WRITE_MULTIPLIER, Ttl

__all__ = ["KeepWarm", "PrefixTraffic", "refresh_pays"]

logger = logging.getLogger("firsttoken.caching")

# Fractions of the TTL: refresh once less than LEAD is left; look this many TTLs back for the rate.
LEAD = 0.2
RATE_WINDOW_TTLS = 12
# Arrival timestamps remembered per prefix; more changes no decision once the rate is clearly high.
MAX_ARRIVALS = 256


def refresh_pays(rate_per_second: float, ttl: Ttl) -> bool:
    """The module docstring's rule: expected saving of one refresh exceeds its cost."""
    q = 1.0 - math.exp(-rate_per_second * TTL_SECONDS[ttl])
    return q * (WRITE_MULTIPLIER[ttl] - READ_MULTIPLIER) > READ_MULTIPLIER


@dataclass
class PrefixTraffic:
    """When a prefix was last written or read, and how often requests carry it."""

    ttl: Ttl
    last_refresh: float | None = None
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_ARRIVALS))
    started: float | None = None

    def used(self, now: float, *, request: bool) -> None:
        self.last_refresh = now if self.last_refresh is None else max(self.last_refresh, now)
        if request:
            self.arrivals.append(now)
        if self.started is None:
            self.started = now

    def rate(self, now: float) -> float:
        window = RATE_WINDOW_TTLS * TTL_SECONDS[self.ttl]
        recent = sum(1 for t in self.arrivals if now - t <= window)
        # A young prefix is judged over the time it has existed, not the full window.
        span = min(window, max(now - (self.started or now), TTL_SECONDS[self.ttl]))
        return recent / span

    def due(self, now: float) -> bool:
        """The entry lapses within LEAD·T and refreshing it pays."""
        if self.last_refresh is None:
            return False
        ttl = TTL_SECONDS[self.ttl]
        if now - self.last_refresh < ttl * (1 - LEAD):
            return False
        # Past its TTL the entry is gone: a refresh would be a full write, which is the request's job.
        if now - self.last_refresh >= ttl:
            return False
        return refresh_pays(self.rate(now), self.ttl)


class KeepWarm:
    """A daemon thread that calls `tick()` every `interval` seconds until `stop()`."""

    def __init__(self, tick: Callable[[], None], *, interval: float) -> None:
        self._tick = tick
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            # Also restarts in a forked child, where the parent's thread does not exist.
            if self.running:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="firsttoken-keep-warm", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval):
            try:
                self._tick()
            except Exception:
                # An upstream hiccup must not end keep-warm for the life of the process.
                logger.warning("firsttoken: keep-warm refresh failed", exc_info=True)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
