"""Rate-limit budgets: what each model may still spend, as its API headers announce it.

This is the governor's arithmetic and state (`_upstream/governor.py` is the clients' HTTP hooks
and the admission policy that use it). Concurrent calls all see the same "remaining" header, so a burst
would overshoot it; each admitted call is charged against the estimate, and a response re-bases it
less the calls still in flight. Budgets refill continuously at limit/60 per second, as the API's
token buckets do. A model never seen goes one call at a time until its first response tells us the
budget, so a cold start cannot flood it either.

Calls reach the API in another order than they were admitted and answer in yet another, so a
response read late can be older than one read before it, and a call already read is in one
figure but not the other. The request budget, where one call over is a 429, therefore only ever
goes down on a reading, unless the call flew alone (no other response was read while it was in
flight: nothing can have overtaken it); its refill brings it back up. Token budgets take the newest
admission's reading: our token estimates are rough (the API does not count cache reads), so a
budget that could only fall would drift below the truth and throttle for nothing.

`MemoryBudgets` holds them for one process; `RedisBudgets` (`redis_budgets.py`) for a deployment.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

__all__ = [
    "FLIGHT_HORIZON",
    "KINDS",
    "PROBE_PATIENCE",
    "PROBE_POLL",
    "Admission",
    "Budgets",
    "MemoryBudgets",
    "number",
    "retry_after",
]

Clock = Callable[[], float]
KINDS = ("requests", "input-tokens", "output-tokens")
# A cold model's probe that never reports back (a hung connection) stops holding others after this.
PROBE_PATIENCE = 5.0
# How often a call waiting on a cold model's probe looks again.
PROBE_POLL = 0.02
# A call in flight whose response was never read (it never made an attempt) stops counting after
# this: by then its share of any budget has refilled.
FLIGHT_HORIZON = 60.0


class Admission(NamedTuple):
    # Seconds to wait before asking again; 0.0 means admitted.
    wait: float
    # The admission's sequence number (the governor reads the call's responses as this); 0 when not admitted.
    seq: int
    # The wait is for a cold model's first response, not a spent budget: always worth queueing.
    probing: bool = False


class Budgets(Protocol):
    """Each model's rate-limit budgets; each method is one atomic step for a shared store.

    `clock` is the time budgets are stamped with: monotonic in one process, wall time where several
    machines share them.
    """

    @property
    def clock(self) -> Clock: ...

    def reserve(self, model: str, input_tokens: int) -> Admission:
        """Charge one call if the budget allows it now (`wait == 0`), else say how long to wait."""
        ...

    def force(self, model: str) -> int:
        """Admit a call without a budget check (a cold model whose probe never reported back)."""
        ...

    def observe(self, model: str, status: int, headers: Mapping[str, str], seq: int | None = None) -> None:
        """Re-base the estimate on one HTTP attempt's response headers; `seq` is its call's admission."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-able remaining budgets per model (for a metrics endpoint); never any credential."""
        ...


@dataclass
class _Budget:
    limit: float
    level: float
    stamp: float
    # The admission sequence number of the response the level came from; older responses arriving
    # late (streams finish out of order) must not overwrite a newer reading.
    seq: int


@dataclass
class _Model:
    budgets: dict[str, _Budget] = field(default_factory=dict)
    blocked_until: float = 0.0
    admitted: int = 0
    # Whether any response of this model was seen; until then one call at a time probes the budget.
    known: bool = False
    probe_since: float | None = None
    # Responses read so far, and the calls admitted but not read yet: seq -> (admitted at, input
    # tokens, responses read by then).
    readings: int = 0
    flying: dict[int, tuple[float, int, int]] = field(default_factory=dict)

    def admit(self, now: float, input_tokens: int) -> int:
        self.admitted += 1
        self.flying[self.admitted] = (now, input_tokens, self.readings)
        return self.admitted

    def land(self, seq: int | None, now: float) -> bool:
        """Take the call `seq` out of the flights; whether it flew alone. Forgets stale flights."""
        self.readings += 1
        flight = self.flying.pop(seq, None) if seq else None
        for stale in [s for s, (at, _, _) in self.flying.items() if now - at > FLIGHT_HORIZON]:
            del self.flying[stale]
        return flight is not None and flight[2] == self.readings - 1


class MemoryBudgets:
    """One process's budgets, behind one lock."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._models: dict[str, _Model] = {}

    def reserve(self, model: str, input_tokens: int) -> Admission:
        with self._lock:
            now = self.clock()
            state = self._models.setdefault(model, _Model())
            if now < state.blocked_until:
                return Admission(state.blocked_until - now, 0)
            if not state.known:
                if state.probe_since is not None and now - state.probe_since < PROBE_PATIENCE:
                    return Admission(PROBE_POLL, 0, probing=True)
                state.probe_since = now
                return Admission(0.0, state.admit(now, input_tokens))
            needs = {"requests": 1.0, "input-tokens": float(input_tokens), "output-tokens": 1.0}
            wait = 0.0
            for kind, budget in state.budgets.items():
                _refill(budget, now)
                need = min(needs[kind], budget.limit)
                if budget.level < need:
                    wait = max(wait, (need - budget.level) * 60.0 / budget.limit)
            if wait > 0:
                return Admission(wait, 0)
            for kind, budget in state.budgets.items():
                # Output tokens are only known once the answer ends; the API charges them then.
                if kind != "output-tokens":
                    budget.level -= needs[kind]
            return Admission(0.0, state.admit(now, input_tokens))

    def force(self, model: str) -> int:
        with self._lock:
            state = self._models.setdefault(model, _Model())
            return state.admit(self.clock(), 0)

    def observe(self, model: str, status: int, headers: Mapping[str, str], seq: int | None = None) -> None:
        with self._lock:
            now = self.clock()
            state = self._models.setdefault(model, _Model())
            state.probe_since = None
            state.known = True
            if status == 429:
                delay = retry_after(headers)
                state.blocked_until = max(state.blocked_until, now + (delay if delay is not None else 1.0))
            alone = state.land(seq, now)
            since = state.admitted if seq is None else seq
            in_flight = {
                "requests": float(len(state.flying)),
                "input-tokens": float(sum(tokens for _, tokens, _ in state.flying.values())),
                "output-tokens": 0.0,
            }
            for kind in KINDS:
                limit = number(headers.get(f"anthropic-ratelimit-{kind}-limit"))
                remaining = number(headers.get(f"anthropic-ratelimit-{kind}-remaining"))
                if limit is None or remaining is None or limit <= 0:
                    continue
                level = remaining - in_flight[kind]
                budget = state.budgets.get(kind)
                if budget is not None and budget.limit == limit and not alone:
                    if kind == "requests":
                        _refill(budget, now)
                        if level >= budget.level:
                            continue
                    elif budget.seq > since:
                        continue
                state.budgets[kind] = _Budget(limit=limit, level=level, stamp=now, seq=since)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            out: dict[str, Any] = {}
            for model, state in self._models.items():
                for budget in state.budgets.values():
                    _refill(budget, now)
                out[model] = {
                    "remaining": {k: int(b.level) for k, b in state.budgets.items()},
                    "limit": {k: int(b.limit) for k, b in state.budgets.items()},
                    "blocked_for": round(max(0.0, state.blocked_until - now), 3),
                }
            return out


def _refill(budget: _Budget, now: float) -> None:
    budget.level = min(budget.limit, budget.level + (now - budget.stamp) * budget.limit / 60.0)
    budget.stamp = now


def number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (what the SDK itself prefers), else `retry-after` in seconds or as an HTTP date."""
    ms = number(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = number(raw)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
