"""The Anthropic Performance Tuning guide's error table as advice: each cause is logged once per model or
profile, not per call.

Every sighting of a cause is also counted (`seen`, which the engine points at the metrics'
`firsttoken.advisor.warnings` counter), so a dashboard shows how often the advice still applies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from ._latency import family_of
from ._metrics import CallRecord

__all__ = ["Advisor"]

logger = logging.getLogger("firsttoken.advisor")

# "TTFT > 3s — large uncached prompt — enable prompt caching".
SLOW_TTFT = 3.0
LARGE_UNCACHED = 4096
# "Slow output — using Opus for simple tasks": an Opus answer this short is Haiku's job.
TINY_OUTPUT = 64
# "529 overloaded — add fallback model": this many within the window means it is not a blip.
OVERLOADS = 3
OVERLOAD_WINDOW = 60.0


class Advisor:
    def __init__(self, *, enabled: bool = True, seen: Callable[[str], None] | None = None) -> None:
        self.enabled = enabled
        self._seen = seen
        self.given: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._overloads: defaultdict[str, deque[float]] = defaultdict(deque)

    def _once(self, cause: str, subject: str, message: str) -> None:
        if self._seen is not None:
            self._seen(cause)
        if (cause, subject) in self.given:
            # Given already (a set only grows, and a membership test is atomic): most calls, on
            # the request path (a prompt below the cacheable length is asked about every call).
            return
        with self._lock:
            if (cause, subject) in self.given:
                return
            self.given.add((cause, subject))
        if self.enabled:
            # The prefix as every firsttoken warning has it: with no logging configured, Python's
            # last-resort handler prints the message alone, and this says who is speaking.
            logger.warning("firsttoken: %s", message)

    def observe(self, record: CallRecord) -> None:
        if record.ttft is not None and record.ttft > SLOW_TTFT and record.input_tokens >= LARGE_UNCACHED:
            self._once(
                "slow_ttft_uncached",
                record.profile,
                f"profile {record.profile!r}: first token took {record.ttft:.1f}s with {record.input_tokens} "
                "uncached input tokens; cache the static prefix (system prompt, tools) to cut TTFT",
            )
        if record.error is None and family_of(record.model) == "opus" and record.output_tokens <= TINY_OUTPUT:
            self._once(
                "big_model_tiny_output",
                record.profile,
                f"profile {record.profile!r} uses {record.model} for a {record.output_tokens}-token answer; "
                "a Haiku profile answers short tasks several times faster",
            )

    def timed_out(self, profile: str, model: str, timeout: float) -> None:
        self._once(
            "timeout",
            profile,
            f"profile {profile!r}: a call to {model} timed out after {timeout:g}s; stream long generations "
            "and lower max_tokens, or raise the profile's timeout",
        )

    def overloaded(self, profile: str, model: str, *, has_fallback: bool) -> None:
        now = time.monotonic()
        with self._lock:
            seen = self._overloads[model]
            seen.append(now)
            while seen and now - seen[0] > OVERLOAD_WINDOW:
                seen.popleft()
            repeated = len(seen) >= OVERLOADS
        if repeated and not has_fallback:
            self._once(
                "overloaded_no_fallback",
                model,
                f"{model} answered 529 overloaded {OVERLOADS}+ times in {OVERLOAD_WINDOW:g}s after the SDK's "
                f"retries; give profile {profile!r} a fallback model",
            )

    def not_cached(self, profile: str, reason: str) -> None:
        self._once("not_cached", profile, f"profile {profile!r}: prompt not cached: {reason}")
