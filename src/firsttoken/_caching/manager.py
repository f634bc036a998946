"""The engine's caching hook: placement per call, pre-warming, keep-warm, debug accounting; the
calls' prices are `CallCosts`' (`costs.py`)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .._call import Call
from .._metrics import UNCOUNTED, CallRecord, CountWarming
from .._pricing import TTL_SECONDS, CostModel
from .._profiles import Profile
from .._settings import Settings
from .._state import LockFactory, file_locks, lock_name
from ._async.warm import COUNT_TIMEOUT, awarm
from ._sync.warm import warm
from .clients import Clients
from .costs import CallCosts
from .diagnostics import ConversationLog, report_miss
from .estimate import prefix_digest, prefix_tokens
from .keepwarm import LEAD, KeepWarm
from .policy import place
from .prefixes import WARM_MESSAGE, WARM_MESSAGE_TOKENS, StaticPrefix, WarmResult, merge_prefix

__all__ = ["CacheManager", "WarmResult"]

logger = logging.getLogger("firsttoken.caching")

# A local estimate this close to the minimum could be on the wrong side of it; ask count_tokens.
CONFIRM_MARGIN = 0.2
MAX_CONFIRMED = 1024


class CacheManager(CallCosts):
    """One per engine: it is handed the settings, the clients, where its locks come from, where its
    advice goes and the upstream's address (for the locks' names), never the engine itself.

    `clock` (monotonic seconds) may be replaced before traffic (tests drive keep-warm with it).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clients: Clients,
        lock_factory: LockFactory | None = None,
        not_cached: Callable[[str, str], None],
        upstream_url: Callable[[], str],
        count: CountWarming = UNCOUNTED,
    ) -> None:
        s = settings
        self._count = count
        self._profiles = s.profiles
        self._clients = clients
        self._not_cached = not_cached
        self._upstream_url = upstream_url
        self.costs = CostModel.build(prices=s.pricing, min_tokens=s.cache_min_tokens)
        self.debug = s.cache_debug
        self.clock: Callable[[], float] = time.monotonic
        self.lock_factory: LockFactory = lock_factory or file_locks(s.warm_lock_dir)
        self.conversations = ConversationLog()
        self._lock = threading.Lock()
        self._confirmed: OrderedDict[str, int] = OrderedDict()
        self._pending: set[str] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self.warm_calls = 0
        self.prefixes: dict[str, StaticPrefix] = {}
        self._by_profile: dict[str, StaticPrefix] = {}
        for name, profile in s.profiles.items():
            self._register(name, profile)
        shortest = min((TTL_SECONDS[p.ttl] for p in self.prefixes.values()), default=TTL_SECONDS["5m"])
        # Four looks within the lead time, so a refresh is never later than the lead allows.
        self.keep_warm = KeepWarm(self.tick, interval=shortest * LEAD / 4)

    def _register(self, name: str, profile: Profile) -> None:
        if profile.caching == "off" or not (profile.prefix_system or profile.prefix_tools):
            return
        keep = profile.keep_warm if profile.keep_warm is not None else profile.cache_ttl == "5m"
        prefix = StaticPrefix.build(
            profile=name,
            model=profile.model,
            system=profile.prefix_system,
            tools=profile.prefix_tools,
            ttl=profile.cache_ttl,
            warm=profile.warm,
            keep_warm=keep,
        )
        # Profiles that share a prefix and model share one cache entry, warmed once.
        prefix = self.prefixes.setdefault(prefix.digest, prefix)
        self._by_profile[name] = prefix

    # -- the request path ------------------------------------------------------------------------

    def apply(self, call: Call) -> dict[str, Any]:
        """The call's final arguments: registered prefix merged in, breakpoints placed (by the
        call's `caching` and `cache_ttl`), debug ids added."""
        return self.placed(call)[0]

    def placed(self, call: Call) -> tuple[dict[str, Any], int]:
        """`apply()`'s arguments and the prompt's estimated input tokens (`estimate.py`'s rule),
        which the rate-limit governor charges: one walk of the conversation serves both."""
        name, profile, params = call.profile, call.options, call.params
        registered = self._by_profile.get(name)
        prefix = registered if registered is not None and registered.model == params["model"] else None
        if registered is not None:
            # A per-call model override still sends the profile's prompt, just not its warm entry.
            params = merge_prefix(registered, params)
        model = str(params["model"])
        minimum = self.costs.minimum(model)
        static = None
        if prefix is not None:
            known: int | None = prefix.tokens
            end = registered.end if registered is not None else None
            if prefix.confirmed is None and _near(prefix.estimate, minimum):
                self._confirm_later(prefix.digest, prefix.count_params(), prefix)
        else:
            known, end = None, registered.end if registered is not None else None
            static = prefix_tokens(params.get("tools"), params.get("system"))
            if _near(static, minimum):
                digest = prefix_digest(model, params.get("tools"), params.get("system"))
                with self._lock:
                    known = self._confirmed.get(digest)
                if known is None:
                    self._confirm_later(digest, _count_params(params), None)
        placed = place(
            params,
            mode=profile.caching,
            ttl=profile.cache_ttl,
            min_tokens=minimum,
            model=model,
            prefix_end=end,
            prefix_size=known,
            static=static,
        )
        if placed.not_cached is not None:
            self._not_cached(name, placed.not_cached)
        out = placed.params
        if self.debug and "diagnostics" not in out:
            previous = self.conversations.previous(out)
            if previous is not None:
                out["diagnostics"] = {"previous_message_id": previous}
        return out, placed.total_tokens

    def finished(
        self, name: str, params: Mapping[str, Any], record: CallRecord, message: Callable[[], Any] | None
    ) -> None:
        """After a call: note prefix traffic for keep-warm; in debug mode remember ids and log misses."""
        if record.error is not None:
            return
        prefix = self._by_profile.get(name)
        touched = record.cache_read_input_tokens + record.cache_creation_input_tokens
        if prefix is not None and prefix.model == params.get("model") and touched >= prefix.tokens:
            with self._lock:
                prefix.traffic.used(self.clock(), request=True)
            if prefix.keep_warm:
                self.keep_warm.start()
        if self.debug and message is not None:
            msg = message()
            if msg is None:
                return
            message_id = getattr(msg, "id", None)
            if isinstance(message_id, str):
                self.conversations.remember(params, message_id)
            if "diagnostics" in params:
                report_miss(
                    name,
                    getattr(msg, "diagnostics", None),
                    read=record.cache_read_input_tokens,
                    written=record.cache_creation_input_tokens,
                )

    # -- token counts, off the request path ------------------------------------------------------

    def _confirm_later(self, digest: str, params: dict[str, Any], prefix: StaticPrefix | None) -> None:
        with self._lock:
            if self._closed or digest in self._pending or digest in self._confirmed:
                return
            self._pending.add(digest)
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="firsttoken-cache")
            executor = self._executor
        future: Future[None] = executor.submit(self._confirm, digest, params, prefix)
        future.add_done_callback(_log_failure)

    def _confirm(self, digest: str, params: dict[str, Any], prefix: StaticPrefix | None) -> None:
        try:
            counted = self._clients.sync.messages.count_tokens(**params, timeout=COUNT_TIMEOUT)
            self.store_count(digest, counted.input_tokens, prefix)
        finally:
            with self._lock:
                self._pending.discard(digest)

    def store_count(self, digest: str, input_tokens: int, prefix: StaticPrefix | None) -> None:
        size = max(0, input_tokens - WARM_MESSAGE_TOKENS)
        with self._lock:
            self._confirmed[digest] = size
            while len(self._confirmed) > MAX_CONFIRMED:
                self._confirmed.popitem(last=False)
            if prefix is not None:
                prefix.confirmed = size

    def to_confirm(self) -> list[StaticPrefix]:
        """The registered prefixes near their model's minimum, whose size count_tokens should confirm."""
        return [
            p
            for p in self.prefixes.values()
            if p.confirmed is None and _near(p.estimate, self.costs.minimum(p.model))
        ]

    # -- pre-warming and keep-warm ---------------------------------------------------------------

    def _lock_for(self, prefix: StaticPrefix) -> bool:
        if prefix.lock is None:
            name = lock_name(prefix_digest=prefix.digest, model=prefix.model, base_url=self._upstream_url())
            prefix.lock = self.lock_factory(name)
        return prefix.lock.acquire()

    def warm_params(self, prefix: StaticPrefix) -> dict[str, Any]:
        params = merge_prefix(prefix, {"model": prefix.model, "max_tokens": 0, "messages": [WARM_MESSAGE]})
        placed = place(
            params,
            mode="explicit",
            ttl=prefix.ttl,
            min_tokens=0,
            model=prefix.model,
            prefix_end=prefix.end,
            prefix_size=prefix.tokens,
        )
        return placed.params

    def warm_plan(self) -> list[tuple[StaticPrefix, WarmResult | None]]:
        plan: list[tuple[StaticPrefix, WarmResult | None]] = []
        for prefix in self.prefixes.values():
            if not prefix.warm:
                continue
            if prefix.tokens < self.costs.minimum(prefix.model):
                reason = (
                    f"its registered prefix has about {prefix.tokens} tokens, below {prefix.model}'s minimum "
                    f"cacheable length of {self.costs.minimum(prefix.model)}; not warmed or cached alone"
                )
                self._not_cached(prefix.profile, reason)
                plan.append(
                    (prefix, WarmResult(prefix.profile, prefix.model, "below_minimum", prefix.tokens))
                )
            elif not self._lock_for(prefix):
                plan.append(
                    (prefix, WarmResult(prefix.profile, prefix.model, "held_elsewhere", prefix.tokens))
                )
            else:
                plan.append((prefix, None))
        return plan

    def warmed(self, prefix: StaticPrefix, usage: Any, *, refresh: bool) -> WarmResult:
        with self._lock:
            self.warm_calls += 1
            prefix.warmed = True
            if refresh:
                prefix.refreshes += 1
            prefix.traffic.used(self.clock(), request=False)
        return WarmResult(
            prefix.profile,
            prefix.model,
            "warmed",
            prefix.tokens,
            usage.cache_read_input_tokens or 0,
            usage.cache_creation_input_tokens or 0,
        )

    def warm_failed(self, prefix: StaticPrefix, exc: Exception) -> WarmResult:
        logger.warning(
            "firsttoken: profile %r: warming its prefix failed: %s", prefix.profile, type(exc).__name__
        )
        return WarmResult(prefix.profile, prefix.model, "failed", prefix.tokens)

    def warm(self) -> list[WarmResult]:
        """Pre-warm every registered prefix this process holds the lock for (sync; start-up)."""
        return warm(self, self._clients.sync)

    async def awarm(self) -> list[WarmResult]:
        return await awarm(self, self._clients.async_)

    def start_keep_warm(self) -> None:
        if not self._closed and any(p.keep_warm for p in self.prefixes.values()):
            self.keep_warm.start()

    def tick(self) -> None:
        """One keep-warm round; the thread calls it every `keep_warm.interval` seconds."""
        self.refresh_due()

    def refresh_due(self) -> int:
        """Refresh every prefix whose refresh is due and pays (see keepwarm); how many were refreshed."""
        refreshed = 0
        for prefix in self.prefixes.values():
            if self._closed or not prefix.keep_warm:
                continue
            with self._lock:
                due = prefix.traffic.due(self.clock())
            # The lock is taken here too, so a process takes over when the warming one exits.
            if not due or not self._lock_for(prefix):
                continue
            try:
                message = self._clients.sync.messages.create(**self.warm_params(prefix))
            except Exception:
                self._count("keep_warm", "failed", None)
                raise
            self._count("keep_warm", "sent", None)
            self.warmed(prefix, message.usage, refresh=True)
            refreshed += 1
        return refreshed

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            prefixes = [
                {
                    "profile": p.profile,
                    "model": p.model,
                    "ttl": p.ttl,
                    "tokens": p.tokens,
                    "confirmed": p.confirmed is not None,
                    "warmed": p.warmed,
                    "keep_warm": p.keep_warm,
                    "refreshes": p.refreshes,
                    "idle_s": None
                    if p.traffic.last_refresh is None
                    else round(now - p.traffic.last_refresh, 1),
                }
                for p in self.prefixes.values()
            ]
            return {
                "prefixes": prefixes,
                "warm_calls": self.warm_calls,
                "keep_warm_running": self.keep_warm.running,
            }

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        self.keep_warm.stop()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        for prefix in self.prefixes.values():
            if prefix.lock is not None:
                prefix.lock.release()


def _near(estimate: int, minimum: int) -> bool:
    return abs(estimate - minimum) <= CONFIRM_MARGIN * minimum


def _count_params(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"model": params["model"], "messages": [WARM_MESSAGE]}
    for key in ("tools", "system"):
        if params.get(key):
            out[key] = params[key]
    return out


def _log_failure(future: Future[None]) -> None:
    exc = future.exception() if not future.cancelled() else None
    if exc is not None:
        logger.warning(
            "firsttoken: count_tokens off the request path failed; keeping the local estimate: %s",
            type(exc).__name__,
        )
