"""The engine: one per app, the composition root and the public face of firsttoken.

It builds every part once (clients, state, resilience, caching, warming, observers) and delegates:
a public call becomes one `Call` (`_call.py`), which `_dispatch.py` sends; what learns of a
finished call is `_observers.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from anthropic.types import Message

from ._advisor import Advisor
from ._agent import AgentStream, AsyncAgentStream, ToolThreads
from ._caching import CacheManager, WarmResult
from ._caching.ahead import AheadResult, WarmAhead
from ._call import CallBuilder
from ._dispatch import Dispatch
from ._fallback import Resilience
from ._lifecycle import Lifecycle, Shutdown
from ._limits import Limits
from ._metrics import Metrics
from ._observers import CallOutcome, Observers
from ._profiles import Profile
from ._prometheus import render_prometheus
from ._relay import Relay
from ._relay.resume import ResumeHub
from ._responses import ResponseCache
from ._routing import Classification, Router, Routing
from ._settings import Settings
from ._state import build_chats, build_state, build_streams
from ._telemetry import Telemetry
from ._uploads import Uploads
from ._upstream._async.calls import AsyncTextStream
from ._upstream._sync.calls import TextStream
from ._upstream.clients import ClientPool
from ._upstream.resolve import Upstream, resolve_upstream
from ._upstream.warmup import WarmUp, WarmUpReport

__all__ = ["Engine"]

Messages = Sequence[Mapping[str, Any]]


class Engine(Lifecycle):
    """Builds calls from profiles and makes them on the process's shared clients.

    Every call takes a profile name, per-call overrides of any profile field (`model`,
    `max_tokens`, ...) and the Messages API's own arguments (`system`, `tools`, `metadata`, ...).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.upstream: Upstream = resolve_upstream(self.settings)
        s = self.settings
        self._pool = ClientPool.for_settings(self.upstream, s)
        self.metrics = Metrics(window=s.metrics_window)
        # Each warning is also a counter (`firsttoken.advisor.warnings`), however often it is logged.
        self.advisor = Advisor(enabled=s.advisor, seen=self.metrics.advised)
        # Where cooldowns, budgets, warm locks, caches and metrics live: this process, or Redis (_state/).
        self.shared = build_state(s, metrics=self.metrics)
        # What one browser request may cost (size, messages, tokens, the client's budget): _limits.py.
        self.limits = Limits(s, self.shared.client_budgets)
        # Resumable answers (_relay/resume/): each written to a Redis Stream as it is sent.
        streams = build_streams(s)
        self.resume = (
            ResumeHub(streams, s, resumed=self.metrics.stream_resumed) if streams is not None else None
        )
        # Held conversations of browser chats that name a `chat_id` (_conversation.py): memory, or Redis.
        self.chats = build_chats(s)
        self.responses = ResponseCache.for_settings(self.shared.responses, self.upstream, s)
        # Attached files uploaded once and sent by id on later turns (_uploads.py), when asked for.
        self.uploads = Uploads.for_settings(self.shared.responses, self._pool, self.upstream, s)
        # Fallback chains, cooldowns and the rate-limit governor (_fallback.py); intent routing (_routing.py).
        self.resilience = Resilience(
            s,
            breaker_store=self.shared.breaker,
            clock=self.shared.clock,
            budgets=self.shared.budgets,
            ttft=self.metrics.ttft_percentile,
        )
        self.router = Router(
            create=self.create,
            acreate=self.acreate,
            model_of=lambda name: self.profile(name).model,
            cache=self.shared.classify_cache,
            ttl=s.classify_cache_ttl,
        )
        # Breakpoint placement, pre-warming and keep-warm (_caching/).
        self.caching = CacheManager(
            s,
            clients=self._pool,
            lock_factory=self.shared.warm_locks(s.warm_lock_dir),
            not_cached=self.advisor.not_cached,
            upstream_url=lambda: self.upstream.base_url,
            count=self.metrics.warming,
        )
        # Warm code paths and the upstream connection when a server starts, and keep it (_upstream/warmup.py).
        self.warmup = WarmUp.for_settings(
            self._pool,
            s,
            model=lambda: self.profile(None).model,
            # Read at warm-up, when the telemetry below exists: the client a call made then would use.
            govern=lambda client: self.resilience.client(client, traced=self.telemetry.sdk_spans()),
            count=self.metrics.warming,
        )
        # `POST /api/warm`: the conversation so far pre-warmed while the user types (_caching/ahead.py).
        self.ahead = WarmAhead(
            s,
            prepare=self.prepare,
            clients=self._pool,
            claims=self.shared.claims,
            budgets=self.shared.client_budgets,
            minimum=self.caching.costs.minimum,
            count=self.metrics.warming,
        )
        # Spans per call when the app traces, and the rows of a request's calls (debug toolbar panel).
        self.telemetry = Telemetry(cost=self.caching.cost)
        # Runs agent turns' sync tools; made by the first turn that has one (no threads at construction).
        self._tools = ToolThreads(s.tool_threads)
        self._shutdown = Shutdown(
            self._pool,
            background=(self.warmup, self.caching, self.resume, self.chats),
            storage=self.shared,
            last=(self._tools, self.upstream),  # the upstream: the embedded emulator, when one was started
        )
        self._calls = CallBuilder(s)
        self._observers = Observers(
            self.metrics, self.shared, self.advisor, self.caching, self.telemetry, self.ahead, self.warmup
        )
        # Everything that learns of a finished call, in order (an app may add its own).
        self.on_finished: list[Callable[[CallOutcome], None]] = self._observers.on_finished
        self._dispatch = Dispatch(
            calls=self._calls,
            pool=self._pool,
            resilience=self.resilience,
            caching=self.caching,
            responses=self.responses,
            telemetry=self.telemetry,
            observers=self._observers,
            threads=self._tools,
            approvals=self.shared.approvals,
            router=self.router,
        )

    def __repr__(self) -> str:
        profiles = sorted(self.settings.profiles)
        return f"<Engine {self.state} upstream={self.upstream.kind} profiles={profiles}>"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Engine:
        """Settings from `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `FIRSTTOKEN_*` and keyword overrides."""
        return cls(Settings.from_env(environ, **overrides))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Engine:
        return cls(Settings.from_mapping(data))

    def metrics_snapshot(self) -> dict[str, Any]:
        """The metrics snapshot plus which upstream answers (for a metrics endpoint or a page banner)."""
        snapshot = {**self.shared.metrics_snapshot(self.metrics), "upstream": self.upstream.describe()}
        # This process's response-cache lookups (a hit never reaches the model, so it is in no window).
        return {
            **snapshot,
            "caching": self.caching.stats(),
            "response_cache": self.responses.describe(),
            "warm_up": self.warmup.stats(),
            "warm_ahead": self.ahead.stats(),
            # What the page's profile picker offers (the console reads it here, not from a list of its own).
            "browser_profiles": {
                "names": list(self.settings.browser_profile_names()),
                "default": self.settings.default_profile,
            },
        }

    def prometheus(self, accept: str | None = None) -> tuple[bytes, str]:
        """The Prometheus scrape (the whole deployment's with Redis) and its content type."""
        return render_prometheus(self.shared.metrics_snapshot(self.metrics), accept)

    def warm(self) -> list[WarmResult]:
        """Pre-warm the profiles' registered prefixes; adapters call it (or `awarm()`) at start-up."""
        return self.caching.warm()

    async def awarm(self) -> list[WarmResult]:
        return await self.caching.awarm()

    def warm_up(self, *, wait: bool = True) -> WarmUpReport | None:
        """Warm the SDK's code paths and open the upstream connection now, as a server starts.

        Waits at most `warm_up_timeout` seconds (`wait=False`: not at all); never raises. Nothing
        billed: a canned answer in memory and `GET /v1/models`. Off with `warm_up=False`.
        """
        return self.warmup.start(wait=wait)

    async def awarm_up(self) -> WarmUpReport:
        """`warm_up()` for the running event loop's async client (a Starlette lifespan)."""
        return await self.warmup.astart()

    def warm_up_in_background(self) -> None:
        """Start warm-up without waiting: a task on the running loop if there is one, else a thread."""
        self.warmup.in_background()

    def warm_for(
        self, messages: Messages, *, profile: str | None = None, client: str | None = None, system: Any = None
    ) -> AheadResult:
        """Pre-warm the prompt cache with the conversation so far (`max_tokens: 0`), so the next
        turn reads it; skipped when too short, warmed recently, in flight or over `client`'s budget."""
        return self.ahead.warm_for(messages, profile=profile, client=client, system=system)

    async def awarm_for(
        self, messages: Messages, *, profile: str | None = None, client: str | None = None, system: Any = None
    ) -> AheadResult:
        return await self.ahead.awarm_for(messages, profile=profile, client=client, system=system)

    def close(self) -> None:
        self._shutdown.close()

    async def aclose(self) -> None:
        await self._shutdown.aclose()

    # -- building a call -------------------------------------------------------------------------

    def profile(self, name: str | None) -> Profile:
        return self.settings.profile(name or self.settings.default_profile)

    def prepare(self, *, profile: str | None = None, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        """The profile's name and the Messages API arguments a call with these arguments sends."""
        call = self._calls.build(profile, kwargs)
        return call.profile, self.caching.apply(call)

    # -- calls: each builds one `Call`, which `_dispatch.py` sends ---------------------------------

    def stream(self, *, profile: str | None = None, **kwargs: Any) -> TextStream | AgentStream:
        """A stream of text deltas; use it as a context manager so it is always closed.

        With tools to run (the profile's `tools`, or callables in `tools=`) it is an agent turn
        (`AgentStream`): every model call of the turn, the tools run between them.
        """
        return self._dispatch.stream(self._calls.build(profile, kwargs))

    def astream(self, *, profile: str | None = None, **kwargs: Any) -> AsyncTextStream | AsyncAgentStream:
        return self._dispatch.astream(self._calls.build(profile, kwargs))

    def create(self, *, profile: str | None = None, **kwargs: Any) -> Message:
        """A non-streaming call; for answers a person waits on, prefer `stream()`."""
        return self._dispatch.create(self._calls.build(profile, kwargs, runs_tools=False))

    async def acreate(self, *, profile: str | None = None, **kwargs: Any) -> Message:
        return await self._dispatch.acreate(self._calls.build(profile, kwargs, runs_tools=False))

    def relay(self, *, format: str = "sse", **kwargs: Any) -> Relay:
        """A browser response in one of the wire formats (see `firsttoken.Relay`)."""
        return Relay(self, format=format, **kwargs)

    # -- routing (guide step 3): classify with the fast profile, then call the chosen one ---------

    def classify(self, text: str, *, labels: Sequence[str], default: str, **call: Any) -> str:
        """One of `labels` for `text`, from a one-word answer of the fast profile; `default` otherwise."""
        return self.router.classify(text, labels=labels, default=default, **call).label

    async def aclassify(self, text: str, *, labels: Sequence[str], default: str, **call: Any) -> str:
        return (await self.router.aclassify(text, labels=labels, default=default, **call)).label

    def classification(
        self, text: str, *, labels: Sequence[str], default: str, **call: Any
    ) -> Classification:
        """`classify()` with how long it took and where the label came from (model, cache, default)."""
        return self.router.classify(text, labels=labels, default=default, **call)

    def route(self, text_or_messages: Any, *, routes: Mapping[str, str], default: str, **options: Any) -> Any:
        """Classify, then `stream()` (or with `stream=False`, `create()`) on `routes[label]`'s profile.

        `classify_profile=` (default `"fast"`) and `classify_options=` shape the classification;
        every other argument goes to the routed call.
        """
        return self._dispatch.routed(Routing(text_or_messages, routes, default, options))

    async def aroute(
        self, text_or_messages: Any, *, routes: Mapping[str, str], default: str, **options: Any
    ) -> Any:
        return await self._dispatch.arouted(Routing(text_or_messages, routes, default, options))

    # -- parallel calls (guide step 5) -----------------------------------------------------------

    def gather(
        self, calls: Sequence[Mapping[str, Any]], *, concurrency: int | None = None
    ) -> list[Message | BaseException]:
        """Run independent calls at once from sync code (a WSGI worker thread included).

        Results come back in order; a failed call leaves its exception in its place.
        """
        return self._dispatch.gather(calls, concurrency or self.settings.gather_concurrency)

    async def agather(
        self, calls: Sequence[Mapping[str, Any]], *, concurrency: int | None = None
    ) -> list[Message | BaseException]:
        return await self._dispatch.agather(calls, concurrency or self.settings.gather_concurrency)
