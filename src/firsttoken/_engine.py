"""The engine: one per app, holding the shared clients, profiles, metrics and advice."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import perf_counter
from types import TracebackType
from typing import Any, Literal

import anthropic
from anthropic.types import Message

from ._advisor import Advisor
from ._agent import AgentStream, AsyncAgentStream, AsyncToolRunner, ToolRunner, Turn, TurnRecord
from ._caching import CacheManager, WarmResult
from ._caching.ahead import AheadResult, WarmAhead
from ._errors import EngineClosedError
from ._fallback import Chain, Resilience, error_type
from ._latency import expected_seconds
from ._limits import Limits
from ._metrics import CallRecord, Metrics
from ._profiles import Profile
from ._prometheus import render_prometheus
from ._relay import Relay
from ._relay.resume import ResumeHub
from ._responses import ResponseCache
from ._routing import Classification, Router, Routing
from ._settings import Settings
from ._state import build_state
from ._telemetry import Telemetry
from ._timings import Timings
from ._tools import as_tools, is_runnable
from ._upstream._async.calls import AsyncTextStream, acreate
from ._upstream._sync.calls import TextStream, create
from ._upstream.clients import ClientPool
from ._upstream.governor import RateLimited
from ._upstream.resolve import Upstream, resolve_upstream
from ._upstream.stream import Finish
from ._upstream.warmup import WarmUp, WarmUpReport

__all__ = ["Engine"]

_PROFILE_FIELDS = frozenset(
    {
        "model",
        "max_tokens",
        "temperature",
        "speed",
        "timeout",
        "concise",
        "thinking",
        "thinking_display",
        "max_steps",
        "tool_timeout",
    }
)

State = Literal["unopened", "open", "closed"]


class Engine:
    """Builds calls from profiles and makes them on the process's shared clients.

    Every call takes a profile name, per-call overrides of any profile field (`model`,
    `max_tokens`, ...) and the Messages API's own arguments (`system`, `tools`, `metadata`, ...).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.upstream: Upstream = resolve_upstream(self.settings)
        s = self.settings
        # Opens nothing: clients, and the embedded emulator behind them, start at the first call.
        self._pool = ClientPool(
            upstream=self.upstream,
            timeout=s.timeout,
            connect_timeout=s.connect_timeout,
            max_retries=s.max_retries,
            max_connections=s.max_connections,
            max_keepalive_connections=s.max_keepalive_connections,
            # Staying warm pings an idle connection every `stay_warm_interval`: it must outlive that.
            keepalive_expiry=max(5.0, s.stay_warm_interval * 1.5) if s.stay_warm else 5.0,
        )
        self.metrics = Metrics(window=s.metrics_window)
        # Each warning is also a counter (`firsttoken.advisor.warnings`), however often it is logged.
        self.advisor = Advisor(enabled=s.advisor, seen=self.metrics.advised)
        # Where cooldowns, budgets, warm locks, caches and metrics live: this process, or Redis (_state/).
        self.shared = build_state(s, metrics=self.metrics)
        # What one browser request may cost (size, messages, tokens, the client's budget): _limits.py.
        self.limits = Limits(s, self.shared.client_budgets)
        # Resumable answers (_relay/resume.py): each written to a Redis Stream as it is sent.
        self.resume: ResumeHub | None = None
        if s.resumes and s.redis_url is not None:
            # Imported here: redis-py is there only when Redis is set (build_state checked it).
            from ._state.streams import RedisStreams

            streams = RedisStreams(
                url=s.redis_url, prefix=s.redis_prefix, timeout=s.redis_timeout, ttl=s.resume_ttl
            )
            self.resume = ResumeHub(streams, s)
        self.responses = ResponseCache(
            self.shared.responses,
            enabled=s.response_cache,
            api_key=self.upstream.api_key,
            base_url=self.upstream.identity,
            tenant=s.tenant,
        )
        # Fallback chains (_fallback.py), cooldowns and the rate-limit governor (_upstream/); intent
        # routing (_routing.py).
        self.resilience = Resilience(
            s, breaker_store=self.shared.breaker, clock=self.shared.clock, budgets=self.shared.budgets
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
        )
        # Warm code paths and the upstream connection when a server starts, and keep it (_upstream/warmup.py).
        self.warmup = WarmUp(
            self._pool,
            enabled=s.warm_up,
            timeout=s.warm_up_timeout,
            stay_warm=s.stay_warm,
            interval=s.stay_warm_interval,
            model=lambda: self.profile(None).model,
            govern=self.resilience.client,
        )
        # `POST /api/warm`: the conversation so far pre-warmed while the user types (_caching/ahead.py).
        self.ahead = WarmAhead(
            s,
            prepare=self.prepare,
            clients=self._pool,
            claims=self.shared.claims,
            budgets=self.shared.client_budgets,
            minimum=self.caching.costs.minimum,
        )
        # Spans per call when the app traces, and the rows of a request's calls (debug toolbar panel).
        self.telemetry = Telemetry(costs=self.caching.costs, ttl_of=self.caching.ttl_of)
        self._close_lock = threading.Lock()
        # Runs agent turns' sync tools; made by the first turn that has one (no threads at construction).
        self._tool_pool: ThreadPoolExecutor | None = None
        # Profiles with per-call overrides (`max_tokens=...` on nearly every call), validated once.
        self._overridden: dict[tuple[Any, ...], Profile] = {}
        # Everything that learns of a finished call, in order; streams and one-shot calls alike.
        self.on_finished: list[Callable[[Finished], None]] = [
            self._observe_metrics,
            self._observe_advice,
            self._observe_caching,
            self._observe_telemetry,
            self._observe_warming,
        ]

    def __repr__(self) -> str:
        return (
            f"<Engine {self.state} upstream={self.upstream.kind} profiles={sorted(self.settings.profiles)}>"
        )

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
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        profile: str | None = None,
        client: str | None = None,
        system: Any = None,
    ) -> AheadResult:
        """Pre-warm the prompt cache with the conversation so far (`max_tokens: 0`), so the next
        turn reads it; skipped when too short, warmed recently, in flight or over `client`'s budget."""
        return self.ahead.warm_for(messages, profile=profile, client=client, system=system)

    async def awarm_for(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        profile: str | None = None,
        client: str | None = None,
        system: Any = None,
    ) -> AheadResult:
        return await self.ahead.awarm_for(messages, profile=profile, client=client, system=system)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        if self._pool.closed:
            return "closed"
        return "open" if self._pool.created else "unopened"

    @property
    def closed(self) -> bool:
        return self._pool.closed

    @property
    def client(self) -> anthropic.Anthropic:
        """The process's shared sync client (rebuilt after a fork)."""
        return self._pool.sync

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        """The shared async client of the running event loop."""
        return self._pool.async_

    def close(self) -> None:
        with self._close_lock:
            if self._pool.closed:
                return
            self.warmup.close()
            self.caching.close()
            self.shared.close()
            if self.resume is not None:
                self.resume.close()
            self._pool.close()
            self._close_tools()
            self._stop_emulator()

    async def aclose(self) -> None:
        if self._pool.closed:
            return
        self.warmup.close()
        self.caching.close()
        await self.shared.aclose()
        if self.resume is not None:
            self.resume.close()
        await self._pool.aclose()
        self._close_tools()
        self._stop_emulator()

    def _stop_emulator(self) -> None:
        self.upstream.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- building a call -------------------------------------------------------------------------

    def profile(self, name: str | None) -> Profile:
        return self.settings.profile(name or self.settings.default_profile)

    def prepare(self, *, profile: str | None = None, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        """The profile's name and the Messages API arguments a call with these arguments sends."""
        name = profile or self.settings.default_profile
        chosen = self.settings.profile(name)
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in _PROFILE_FIELDS}
        if overrides:
            chosen = self._override(name, chosen, overrides)
        if "messages" not in kwargs:
            raise TypeError("a call needs messages=[{'role': 'user', 'content': ...}]")
        params: dict[str, Any] = {"model": chosen.model, "max_tokens": chosen.max_tokens, **kwargs}
        if chosen.temperature is not None:
            # The installed SDK's `create()` has no `temperature` argument; the API reads it from
            # the body, so it travels there, unless the caller already put one in `extra_body`.
            extra = dict(params.get("extra_body") or {})
            extra.setdefault("temperature", chosen.temperature)
            params["extra_body"] = extra
        if chosen.speed is not None:
            params.setdefault("speed", chosen.speed)
        for key, value in chosen.thinking_params().items():
            params.setdefault(key, value)
        params.setdefault("timeout", chosen.timeout or self.settings.timeout)
        if chosen.concise:
            params["system"] = _with_instruction(params.get("system"), chosen.concise)
        return name, self.caching.apply(name, chosen, params)

    def _override(self, name: str, chosen: Profile, overrides: dict[str, Any]) -> Profile:
        key = (name, *sorted(overrides.items()))
        try:
            cached = self._overridden.get(key)
        except TypeError:  # an unhashable override value: build it every time
            return chosen.replace(**overrides)
        if cached is None:
            if len(self._overridden) >= 256:
                self._overridden.clear()
            cached = self._overridden[key] = chosen.replace(**overrides)
        return cached

    # -- after a call: every observer, from one list ----------------------------------------------

    def _finished(self, call: Finished) -> None:
        self.warmup.touch()
        for observe in self.on_finished:
            observe(call)

    def _observe_metrics(self, call: Finished) -> None:
        record = call.record
        saved = self.caching.saved(record) if record.error is None else 0.0
        self.metrics.record(record, saved=saved, requested=str(call.params.get("model", record.model)))
        self.shared.watch(self.metrics)

    def _observe_advice(self, call: Finished) -> None:
        record = call.record
        self.advisor.observe(record)
        if record.error in ("APITimeoutError", "timeout_error"):
            self.advisor.timed_out(call.profile, str(call.params["model"]), float(call.params["timeout"]))
        elif record.error in ("OverloadedError", "overloaded_error"):
            fallbacks = bool(self.profile(call.profile).fallbacks)
            self.advisor.overloaded(call.profile, str(call.params["model"]), has_fallback=fallbacks)

    def _observe_caching(self, call: Finished) -> None:
        self.caching.finished(call.profile, call.params, call.record, call.message)

    def _observe_telemetry(self, call: Finished) -> None:
        self.telemetry.finished(call.trace, call.params, call.record, call.message)

    def _observe_warming(self, call: Finished) -> None:
        self.ahead.finished(call.params, call.record)

    # -- streaming (the Anthropic Performance Tuning guide's step 1, always stream) -------------

    def _chain(self, profile: str | None, kwargs: dict[str, Any], route: str | None = None) -> Chain:
        """The call these arguments make, as a fallback chain (of one model, for most profiles)."""
        self.warmup.touch()
        policy = self.resilience.policy(self.profile(profile), kwargs)
        name, params = self.prepare(profile=profile, **kwargs)
        return self.resilience.chain(name, params, policy, Timings(route=route))

    def _stream_finish(self, chain: Chain, stream: Callable[[], TextStream | AsyncTextStream]) -> Finish:
        trace = self.telemetry.begin()  # the request's span context, when the app traces
        self.metrics.stream_opened()

        def finish(record: CallRecord) -> None:
            self._finished(Finished(chain.profile, chain.params, record, lambda: stream().message, trace))

        return finish

    def stream(self, *, profile: str | None = None, **kwargs: Any) -> TextStream | AgentStream:
        """A stream of text deltas; use it as a context manager so it is always closed.

        With tools to run (the profile's `tools`, or callables in `tools=`) it is an agent turn
        (`AgentStream`): every model call of the turn, the tools run between them.
        """
        turn = self._turn(profile, kwargs)
        if turn is not None:
            return AgentStream(
                turn,
                profile or self.settings.default_profile,
                step=lambda messages: self._one_stream(profile, {**kwargs, "messages": messages}),
                runner=lambda: ToolRunner(turn.tools, turn.tool_timeout, self._tools_pool),
                error_type=error_type,
                on_turn=self._observe_turn,
            )
        return self._one_stream(profile, kwargs)

    def _client(self) -> anthropic.Anthropic:
        """The shared sync client for a call made now, with the governor (and the SDK's tracing
        only where its span could record or carry anything: `Telemetry.sdk_spans`)."""
        return self.resilience.client(self.client, traced=self.telemetry.sdk_spans())

    def _async_client(self) -> anthropic.AsyncAnthropic:
        return self.resilience.client(self.async_client, traced=self.telemetry.sdk_spans())

    def _one_stream(self, profile: str | None, kwargs: dict[str, Any]) -> TextStream:
        chain = self._chain(profile, kwargs)
        stream = TextStream(self._client(), chain, self._stream_finish(chain, lambda: stream))
        return stream

    def astream(self, *, profile: str | None = None, **kwargs: Any) -> AsyncTextStream | AsyncAgentStream:
        turn = self._turn(profile, kwargs)
        if turn is not None:
            return AsyncAgentStream(
                turn,
                profile or self.settings.default_profile,
                step=lambda messages: self._one_astream(profile, {**kwargs, "messages": messages}),
                runner=lambda: AsyncToolRunner(turn.tools, turn.tool_timeout, self._tools_pool),
                error_type=error_type,
                on_turn=self._observe_turn,
            )
        return self._one_astream(profile, kwargs)

    def _one_astream(self, profile: str | None, kwargs: dict[str, Any]) -> AsyncTextStream:
        chain = self._chain(profile, kwargs)
        client = self._async_client()
        stream = AsyncTextStream(client, chain, self._stream_finish(chain, lambda: stream))
        return stream

    # -- agent turns: tools the server runs (_agent/) ---------------------------------------------

    def _turn(self, profile: str | None, kwargs: dict[str, Any]) -> Turn | None:
        """The agent turn these arguments ask for, or None for a plain call (no tools to run).

        The runnable tools of `tools=` leave it for their API definitions, after the profile's;
        plain definitions stay (the model may call them; the turn then ends, as a plain call would).
        """
        chosen = self.profile(profile)
        given = kwargs.get("tools")
        passed = [t for t in given or () if is_runnable(t)]
        if not chosen.tools and not passed:
            return None
        if "messages" not in kwargs:
            raise TypeError("a call needs messages=[{'role': 'user', 'content': ...}]")
        tools = as_tools((*chosen.tools, *passed))
        kwargs["tools"] = [*(t.definition() for t in tools), *(t for t in given or () if not is_runnable(t))]
        max_steps = kwargs.get("max_steps", chosen.max_steps)
        timeout = kwargs.get("tool_timeout", chosen.tool_timeout)
        messages = list(kwargs.pop("messages"))
        return Turn({t.name: t for t in tools}, max_steps, timeout, messages)

    def _tools_pool(self) -> ThreadPoolExecutor:
        pool = self._tool_pool
        if pool is None:
            with self._close_lock:
                if self._tool_pool is None:
                    self._tool_pool = ThreadPoolExecutor(
                        max_workers=self.settings.tool_threads, thread_name_prefix="firsttoken-tool"
                    )
                pool = self._tool_pool
        return pool

    def _close_tools(self) -> None:
        pool, self._tool_pool = self._tool_pool, None
        if pool is not None:
            # Running sync tools were told to stop (their flags); nobody waits for a tool that does not.
            pool.shutdown(wait=False, cancel_futures=True)

    def _observe_turn(self, record: TurnRecord) -> None:
        self.metrics.record_turn(record)
        self.shared.watch(self.metrics)

    def relay(self, *, format: str = "sse", **kwargs: Any) -> Relay:
        """A browser response in one of the wire formats (see `firsttoken.Relay`)."""
        return Relay(self, format=format, **kwargs)

    # -- one-shot calls --------------------------------------------------------------------------

    def _one_shot(self, profile: str | None, kwargs: dict[str, Any], route: str | None) -> _OneShot:
        # `tenant=` keys the response cache (_responses.py); it is never sent upstream.
        tenant = kwargs.pop("tenant", None)
        if any(is_runnable(t) for t in kwargs.get("tools") or ()):
            raise TypeError(
                "tools the server runs (callables, firsttoken.tool) need an agent turn: "
                "use engine.stream() or astream(); create() sends API tool definitions only"
            )
        chain = self._chain(profile, kwargs, route)
        self._guard_nonstreaming(chain.profile, chain.params)
        return _OneShot(self, chain, self.responses.key(chain.params, tenant))

    def _guard_nonstreaming(self, name: str, params: Mapping[str, Any]) -> None:
        # The Anthropic Performance Tuning guide's error table, "Timeouts: long generation + default
        # timeout". We refuse rather than silently stream: a caller of create() expects one Message
        # and the latency that comes with it.
        expected = expected_seconds(str(params["model"]), int(params["max_tokens"]))
        timeout = float(params["timeout"])
        if expected > timeout:
            raise ValueError(
                f"profile {name!r}: max_tokens={params['max_tokens']} on {params['model']} can take about "
                f"{expected:.0f}s, longer than the {timeout:g}s timeout; use engine.stream() for long "
                "answers, or lower max_tokens / raise the profile's timeout"
            )

    def create(self, *, profile: str | None = None, _route: str | None = None, **kwargs: Any) -> Message:
        """A non-streaming call; for answers a person waits on, prefer `stream()`."""
        call = self._one_shot(profile, kwargs, _route)
        hit = self.responses.lookup(call.cache_key)
        if hit is not None:
            return hit
        with call:
            message = call.done(create(self._client(), call.chain))
        self.responses.keep(call.cache_key, message)
        return message

    async def acreate(
        self, *, profile: str | None = None, _route: str | None = None, **kwargs: Any
    ) -> Message:
        call = self._one_shot(profile, kwargs, _route)
        if (hit := await self.responses.alookup(call.cache_key)) is not None:
            return hit
        with call:
            message = call.done(await acreate(self._async_client(), call.chain))
        await self.responses.akeep(call.cache_key, message)
        return message

    # -- routing (the Anthropic Performance Tuning guide's step 3, Haiku for speed-critical calls):
    # classify with the fast profile, then call the chosen one

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
        routing = Routing(text_or_messages, routes, default, options)
        choice = self.router.classify(routing.text, **routing.question)
        if not routing.stream:
            return self.create(**routing.call_for(choice), _route=choice.label)
        stream = self.stream(**routing.call_for(choice))
        # An agent turn's timings are its steps': the classification is not stamped on them.
        return routing.stamp(stream, choice) if isinstance(stream, TextStream) else stream

    async def aroute(
        self, text_or_messages: Any, *, routes: Mapping[str, str], default: str, **options: Any
    ) -> Any:
        routing = Routing(text_or_messages, routes, default, options)
        choice = await self.router.aclassify(routing.text, **routing.question)
        if not routing.stream:
            return await self.acreate(**routing.call_for(choice), _route=choice.label)
        stream = self.astream(**routing.call_for(choice))
        return routing.stamp(stream, choice) if isinstance(stream, AsyncTextStream) else stream

    # -- parallel calls (the Anthropic Performance Tuning guide's step 5) ----------------------

    def gather(
        self, calls: Sequence[Mapping[str, Any]], *, concurrency: int | None = None
    ) -> list[Message | BaseException]:
        """Run independent calls at once from sync code (a WSGI worker thread included).

        Results come back in order; a failed call leaves its exception in its place.
        """
        if not calls:
            return []
        if self.closed:
            raise EngineClosedError("this firsttoken engine is closed")
        workers = min(concurrency or self.settings.gather_concurrency, len(calls))

        def one(call: Mapping[str, Any]) -> Message | BaseException:
            try:
                return self.create(**call)
            except Exception as exc:
                return exc

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="firsttoken-gather") as pool:
            return list(pool.map(one, calls))

    async def agather(
        self, calls: Sequence[Mapping[str, Any]], *, concurrency: int | None = None
    ) -> list[Message | BaseException]:
        if self.closed:
            raise EngineClosedError("this firsttoken engine is closed")
        limit = asyncio.Semaphore(concurrency or self.settings.gather_concurrency)

        async def one(call: Mapping[str, Any]) -> Message | BaseException:
            async with limit:
                try:
                    return await self.acreate(**call)
                except Exception as exc:
                    return exc

        return list(await asyncio.gather(*(one(call) for call in calls)))


@dataclass(frozen=True, slots=True)
class Finished:
    """One finished call, as every observer of the engine sees it."""

    profile: str
    params: Mapping[str, Any]
    record: CallRecord
    # The answer, built on demand (a stream's message is folded only if an observer asks).
    message: Callable[[], Message] | None
    # The OpenTelemetry context the call began in (None when the app does not trace).
    trace: Any = None


class _OneShot:
    """A `create()` call in flight: `with call:` records a failure; `call.done(message)` a success."""

    __slots__ = ("cache_key", "chain", "engine", "trace")

    def __init__(self, engine: Engine, chain: Chain, cache_key: str | None) -> None:
        self.engine, self.chain, self.cache_key = engine, chain, cache_key
        self.trace = engine.telemetry.begin()

    def __enter__(self) -> _OneShot:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, (anthropic.APIError, RateLimited)):
            self._finish(exc, None)

    def done(self, message: Message) -> Message:
        self._finish(None, message)
        return message

    def _finish(self, exc: BaseException | None, message: Message | None) -> None:
        chain, timings = self.chain, self.chain.timings
        usage = message.usage if message is not None else None
        record = CallRecord(
            profile=chain.profile,
            model=message.model if message is not None else chain.model,
            streamed=False,
            total=perf_counter() - timings.started,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cache_read_input_tokens=(usage.cache_read_input_tokens or 0) if usage else 0,
            cache_creation_input_tokens=(usage.cache_creation_input_tokens or 0) if usage else 0,
            retries=timings.retries,
            fallbacks=timings.fallbacks,
            route=timings.route,
            error=type(exc).__name__ if exc is not None else None,
        )
        self.engine._finished(
            Finished(chain.profile, chain.params, record, (lambda: message) if message else None, self.trace)
        )


def _with_instruction(system: Any, instruction: str) -> Any:
    if system is None or system == "":
        return instruction
    if isinstance(system, str):
        return f"{system}\n\n{instruction}"
    # A list of blocks: the instruction goes last, after any cache breakpoint, so it never changes
    # the cached prefix.
    return [*system, {"type": "text", "text": instruction}]
