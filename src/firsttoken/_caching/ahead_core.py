"""Warming while the user types, all but its I/O: each warm decided, what it did counted.

`ahead.py` tells the feature whole; the warm's claims, budget and request are `_async/ahead.py`'s
(its sync twin generated), over `AheadCore`'s decisions here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._metrics import UNCOUNTED, CallRecord, CountWarming
from .._pricing import TTL_SECONDS, Ttl
from .._settings import Settings
from .._state import Claims
from .._state.client_budgets import ClientBudgets
from .._state.keys import digest
from .clients import Clients
from .estimate import canonical, messages_tokens, prefix_digest, prefix_tokens
from .keepwarm import LEAD
from .prefixes import WARM_MESSAGE

__all__ = ["AheadCore", "AheadPlan", "AheadResult"]

logger = logging.getLogger("firsttoken.caching")

Skip = Literal[
    "off", "caching_off", "too_short", "thinking_budget", "warmed_recently", "in_flight", "over_budget"
]
# Warmed prefixes remembered per process, to count the cache reads they lead to.
MAX_WARMED = 4096
# A claim on a conversation while its warm is in flight outlives the warm's own timeout by this.
IN_FLIGHT_SLACK = 5.0


@dataclass(frozen=True, slots=True)
class AheadResult:
    """What one `warm_for()` did: the contract's `{"warmed": ...}` answer and what it cost."""

    warmed: bool
    reason: str | None = None
    skipped: Skip | None = None
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def as_json(self) -> dict[str, Any]:
        if self.warmed:
            return {"warmed": True}
        return {"warmed": False, "reason": self.reason or "not warmed"}


@dataclass(frozen=True, slots=True)
class AheadPlan:
    """One warm request, decided: its arguments, what it is named by and what it costs."""

    params: dict[str, Any]
    digest: str
    conversation: str
    tokens: int
    ttl: Ttl


Prepare = Callable[..., tuple[str, dict[str, Any]]]


class AheadCore:
    """The decisions and counts of `WarmAhead` (`ahead.py`), handed the engine's `prepare`, the
    clients, the claims and the client budgets."""

    def __init__(
        self,
        settings: Settings,
        *,
        prepare: Prepare,
        clients: Clients,
        claims: Claims,
        budgets: ClientBudgets,
        minimum: Callable[[str], int],
        count: CountWarming = UNCOUNTED,
    ) -> None:
        self._settings = settings
        self._count = count
        self._prepare = prepare
        self._clients = clients
        self._claims = claims
        self._budgets = budgets
        self._minimum = minimum
        self._lock = threading.Lock()
        self._warmed: OrderedDict[str, float] = OrderedDict()
        self.sent = 0
        self.failed = 0
        self.skipped: Counter[str] = Counter()
        self.write_tokens = 0
        self.read_tokens = 0
        self.later_reads = 0
        self.later_read_tokens = 0

    # -- deciding, no I/O ------------------------------------------------------------------------

    def plan(
        self, messages: Sequence[Mapping[str, Any]], *, profile: str | None, system: Any = None
    ) -> AheadPlan | AheadResult:
        """The warm request for this conversation, or why there is none."""
        if not self._settings.warm_ahead:
            return self._skip("off", "warming while typing is turned off")
        name = profile or self._settings.default_profile
        chosen = self._settings.profile(name)
        if chosen.caching != "auto":
            # "explicit" caches only the registered prefix, which start-up warming already warms.
            return self._skip("caching_off", f"the profile {name!r} does not cache conversations")
        call: dict[str, Any] = {"messages": [*messages, WARM_MESSAGE]}
        if system:
            call["system"] = system
        _, params = self._prepare(profile=name, **call)
        model = str(params["model"])
        tokens = prefix_tokens(params.get("tools"), params.get("system")) + messages_tokens(messages)
        minimum = self._minimum(model)
        if tokens < minimum:
            return self._skip(
                "too_short",
                f"too short to cache: about {tokens} tokens, below {model}'s minimum of {minimum}",
            )
        thinking = params.get("thinking")
        if isinstance(thinking, Mapping) and thinking.get("budget_tokens"):
            # `max_tokens: 0` is below any thinking budget, which the API refuses.
            return self._skip("thinking_budget", f"the profile {name!r} thinks with a fixed budget")
        conversation = list(params["messages"][:-1])
        named = prefix_digest(model, params.get("tools"), params.get("system"), conversation)
        # The conversation is named by its model and first message (the browser sends no id).
        first = canonical(conversation[0]) if conversation else ""
        convo = digest(f"{model}\0{first}")
        params = dict(params)
        params.pop("cache_control", None)
        params["max_tokens"] = 0
        params["messages"] = [*conversation[:-1], _marked(conversation[-1], chosen.cache_ttl), WARM_MESSAGE]
        return AheadPlan(params, named, convo, tokens, chosen.cache_ttl)

    def _skip(self, code: Skip, reason: str) -> AheadResult:
        with self._lock:
            self.skipped[code] += 1
        self._count("ahead", "skipped", code)
        return AheadResult(False, reason, code)

    def _window(self, warm: AheadPlan) -> float:
        # Within the entry's life, less the lead keep-warm allows: a warm this late would be wasted.
        return TTL_SECONDS[warm.ttl] * (1 - LEAD)

    def _in_flight_ttl(self, warm: AheadPlan) -> float:
        return float(warm.params.get("timeout") or self._settings.timeout) + IN_FLIGHT_SLACK

    def _budget(self, client: str | None) -> tuple[str, int, int] | None:
        rpm, tpm = self._settings.warm_budget()
        if client is None or not (rpm or tpm):
            return None
        # Its own bucket: warming never spends the requests a client's chat needs.
        return f"warm\0{client}", rpm, tpm

    @staticmethod
    def _flight(warm: AheadPlan, client: str | None) -> str:
        # Per client too: two users who opened with the same words are two conversations. Hashed, as
        # a client's name may be personal data and the claim may live in Redis.
        return "ahead-flight:" + digest(f"{client or ''}\0{warm.conversation}")

    def _sent(self, warm: AheadPlan, usage: Any) -> AheadResult:
        read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        written = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        self._count("ahead", "sent", None)
        with self._lock:
            self.sent += 1
            self.read_tokens += read
            self.write_tokens += written
            self._warmed[warm.digest] = time.monotonic() + TTL_SECONDS[warm.ttl]
            self._warmed.move_to_end(warm.digest)
            while len(self._warmed) > MAX_WARMED:
                self._warmed.popitem(last=False)
        return AheadResult(True, cache_read_input_tokens=read, cache_creation_input_tokens=written)

    def _failed(self, exc: Exception) -> AheadResult:
        self._count("ahead", "failed", None)
        with self._lock:
            self.failed += 1
        logger.info("firsttoken: warming ahead failed: %s", type(exc).__name__)
        return AheadResult(False, f"the upstream did not take the warm ({type(exc).__name__})")

    # -- what the warms led to ---------------------------------------------------------------------

    def finished(self, params: Mapping[str, Any], record: CallRecord) -> None:
        """Count a call that read from cache the conversation a warm of this process wrote."""
        if not self._warmed or record.error is not None or record.cache_read_input_tokens <= 0:
            return
        messages = params.get("messages") or ()
        if len(messages) < 2:
            return
        named = prefix_digest(
            str(params.get("model")), params.get("tools"), params.get("system"), messages[:-1]
        )
        with self._lock:
            until = self._warmed.pop(named, None)
            if until is None or until < time.monotonic():
                return
            self.later_reads += 1
            self.later_read_tokens += record.cache_read_input_tokens
        self._count("ahead", "hit", None)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": self._settings.warm_ahead,
                "warms_sent": self.sent,
                "warms_skipped": dict(self.skipped),
                "warms_failed": self.failed,
                "warm_cache_creation_input_tokens": self.write_tokens,
                "warm_cache_read_input_tokens": self.read_tokens,
                "cache_reads_after_warm": self.later_reads,
                "cache_read_tokens_after_warm": self.later_read_tokens,
            }


def _marked(message: Mapping[str, Any], ttl: Ttl) -> dict[str, Any]:
    """`message` with a breakpoint on its last block (a string content becomes one text block)."""
    content = message.get("content")
    control = {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content}]
    else:
        blocks = [dict(b) if isinstance(b, Mapping) else b for b in content or ()]
    if blocks and isinstance(blocks[-1], dict):
        blocks[-1] = {**blocks[-1], "cache_control": control}
    return {**message, "content": blocks}
