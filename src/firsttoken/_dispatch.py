"""A built `Call` sent: a stream, an agent turn or one Message, over the parts the engine built.

The engine's public calls build the `Call` (`_call.py`) and hand it here. Every call runs over a
fallback chain (`_fallback.Chain`) whose arguments the cache policy placed; the sync and async
sides differ only in their stream classes and SDK client, so each is a line over `_one()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any, TypeVar

import anthropic
from anthropic.types import Message

from ._agent import AgentStream, AsyncAgentStream, ToolThreads, TurnParts
from ._caching import CacheManager
from ._call import Call, CallBuilder
from ._errors import EngineClosedError
from ._fallback import Chain, Resilience, error_type
from ._latency import expected_seconds
from ._metrics import CallRecord
from ._observers import CallOutcome, Observers
from ._paused import continuation, joined, paused
from ._responses import ResponseCache
from ._routing import Classification, Router, Routing
from ._state import Approvals
from ._telemetry import Telemetry
from ._upstream._async.calls import AsyncTextStream, acreate
from ._upstream._sync.calls import TextStream, create
from ._upstream.clients import ClientPool
from ._upstream.governor import RateLimited
from ._upstream.stream import Finish, server_tool_counts

__all__ = ["Dispatch"]

_S = TypeVar("_S", TextStream, AsyncTextStream)
# A call of `gather()`: built, or the error its arguments raised (left in its place).
Gathered = Call | BaseException


class Dispatch:
    """Sends built calls; handed the engine's parts, never the engine."""

    def __init__(
        self,
        *,
        calls: CallBuilder,
        pool: ClientPool,
        resilience: Resilience,
        caching: CacheManager,
        responses: ResponseCache,
        telemetry: Telemetry,
        observers: Observers,
        threads: ToolThreads,
        approvals: Approvals,
        router: Router,
    ) -> None:
        self._calls, self._pool, self._resilience, self._caching = calls, pool, resilience, caching
        self._router = router
        self._responses, self._telemetry, self._observers = responses, telemetry, observers
        self._turn = TurnParts(threads, error_type, observers.turn, approvals)

    def chain(self, call: Call) -> Chain:
        """`call` as a fallback chain (of one model, for most profiles), its breakpoints placed."""
        params, input_tokens = self._caching.placed(call)
        return self._resilience.chain(call, params, input_tokens)

    def client(self) -> anthropic.Anthropic:
        """The shared sync client for a call made now, with the SDK's tracing only where its span
        could record or carry anything (`Telemetry.sdk_spans`); the governor reads every attempt
        through the pool's httpx hooks."""
        return self._resilience.client(self._pool.sync, traced=self._telemetry.sdk_spans())

    def async_client(self) -> anthropic.AsyncAnthropic:
        return self._resilience.client(self._pool.async_, traced=self._telemetry.sdk_spans())

    # -- streams: one model call, or an agent turn when the call has tools to run -----------------
    # A call with tools the API runs is a turn too: a long server-side loop ends an answer with
    # `pause_turn`, which the turn's loop continues within its `max_steps`.

    def stream(self, call: Call) -> TextStream | AgentStream:
        # A call answering approvals resumes a paused turn, which refuses it if the profile has no tools.
        turn = call.tools or call.approvals or _api_runs_tools(call)
        return AgentStream(call, self._turn, self.text_stream) if turn else self.text_stream(call)

    def astream(self, call: Call) -> AsyncTextStream | AsyncAgentStream:
        turn = call.tools or call.approvals or _api_runs_tools(call)
        return AsyncAgentStream(call, self._turn, self.atext_stream) if turn else self.atext_stream(call)

    def text_stream(self, call: Call) -> TextStream:
        output = call.options.output
        return self._one(
            call, lambda chain, finish: TextStream(self.client(), chain, finish, output, self.client)
        )

    def atext_stream(self, call: Call) -> AsyncTextStream:
        output = call.options.output
        return self._one(
            call,
            lambda chain, finish: AsyncTextStream(
                self.async_client(), chain, finish, output, self.async_client
            ),
        )

    def _one(self, call: Call, make: Callable[[Chain, Finish], _S]) -> _S:
        chain = self.chain(call)
        trace = self._observers.began(streamed=True)
        notify = self._observers.notify
        stream: _S

        def finish(record: CallRecord) -> None:
            notify(CallOutcome(call, chain.params, record, lambda: stream.message, trace))

        stream = make(chain, finish)
        return stream

    # -- a routed call: classified, then sent; the classification stamped on a stream's timings ----

    def routed(self, routing: Routing) -> Any:
        choice = self._router.classify(routing.text, **routing.question)
        call = self._routed(routing, choice)
        if not routing.stream:
            return self.create(call)
        stream = self.stream(call)
        # An agent turn's timings are its steps': the classification is not stamped on them.
        return routing.stamp(stream, choice) if isinstance(stream, TextStream) else stream

    async def arouted(self, routing: Routing) -> Any:
        choice = await self._router.aclassify(routing.text, **routing.question)
        call = self._routed(routing, choice)
        if not routing.stream:
            return await self.acreate(call)
        stream = self.astream(call)
        return routing.stamp(stream, choice) if isinstance(stream, AsyncTextStream) else stream

    def _routed(self, routing: Routing, choice: Classification) -> Call:
        profile = routing.routes[choice.label]
        return self._calls.build(profile, routing.call, route=choice.label, runs_tools=routing.stream)

    # -- one Message -------------------------------------------------------------------------------

    def create(self, call: Call) -> Message:
        one = self._one_shot(call)
        if (message := self._responses.lookup(one.cache_key)) is None:
            with one:
                steps = [one.done(create(self.client(), one.chain))]
            # A turn the API paused goes on, each continuation a call of its own (`_paused.py`).
            while paused(steps, call):
                step = self._one_shot(continuation(call, steps))
                with step:
                    steps.append(step.done(create(self.client(), step.chain)))
            message = joined(steps)
            self._responses.keep(one.cache_key, message)
        return message

    async def acreate(self, call: Call) -> Message:
        one = self._one_shot(call)
        if (message := await self._responses.alookup(one.cache_key)) is None:
            with one:
                steps = [one.done(await acreate(self.async_client(), one.chain))]
            while paused(steps, call):
                step = self._one_shot(continuation(call, steps))
                with step:
                    steps.append(step.done(await acreate(self.async_client(), step.chain)))
            message = joined(steps)
            await self._responses.akeep(one.cache_key, message)
        return message

    def _one_shot(self, call: Call) -> _OneShot:
        chain = self.chain(call)
        _guard_nonstreaming(chain.profile, chain.params)
        key = self._responses.key(chain.params, call.tenant)
        return _OneShot(call, chain, key, self._observers.began(streamed=False), self._observers.notify)

    # -- parallel calls ----------------------------------------------------------------------------

    def gather(
        self, arguments: Sequence[Mapping[str, Any]], concurrency: int
    ) -> list[Message | BaseException]:
        if not arguments:
            return []
        self._check_open()
        calls = [self._calls.gathered(call) for call in arguments]

        def one(call: Gathered) -> Message | BaseException:
            try:
                return self.create(call) if isinstance(call, Call) else call
            except Exception as exc:
                return exc

        workers = min(concurrency, len(calls))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="firsttoken-gather") as pool:
            return list(pool.map(one, calls))

    async def agather(
        self, arguments: Sequence[Mapping[str, Any]], concurrency: int
    ) -> list[Message | BaseException]:
        self._check_open()
        calls = [self._calls.gathered(call) for call in arguments]
        limit = asyncio.Semaphore(concurrency)

        async def one(call: Gathered) -> Message | BaseException:
            if not isinstance(call, Call):
                return call
            async with limit:
                try:
                    return await self.acreate(call)
                except Exception as exc:
                    return exc

        return list(await asyncio.gather(*(one(call) for call in calls)))

    def _check_open(self) -> None:
        if self._pool.closed:
            raise EngineClosedError("this firsttoken engine is closed")


# The tool types the API runs itself (`web_search_20250305`, `mcp_toolset`...), by prefix.
_API_TOOLS = ("web_search_", "web_fetch_", "code_execution_", "tool_search_tool_", "mcp_toolset")


def _api_runs_tools(call: Call) -> bool:
    """Whether the call declares a tool the API runs (its own or its profile's `prefix_tools`), or
    MCP servers (in the body or `extra_body`)."""
    params = call.params
    extra = params.get("extra_body")
    if params.get("mcp_servers") or (isinstance(extra, Mapping) and extra.get("mcp_servers")):
        return True
    tools = (*call.options.prefix_tools, *(params.get("tools") or ()))
    return any(isinstance(t, Mapping) and str(t.get("type", "")).startswith(_API_TOOLS) for t in tools)


def _guard_nonstreaming(name: str, params: Mapping[str, Any]) -> None:
    # The guide's "Timeouts: long generation + default timeout". We refuse rather than silently
    # stream: a caller of create() expects one Message and the latency that comes with it.
    expected = expected_seconds(str(params["model"]), int(params["max_tokens"]))
    timeout = float(params["timeout"])
    if expected > timeout:
        raise ValueError(
            f"profile {name!r}: max_tokens={params['max_tokens']} on {params['model']} can take about "
            f"{expected:.0f}s, longer than the {timeout:g}s timeout; use engine.stream() for long "
            "answers, or lower max_tokens / raise the profile's timeout"
        )


class _OneShot:
    """A `create()` call in flight: `with call:` records a failure; `call.done(message)` a success."""

    __slots__ = ("cache_key", "call", "chain", "notify", "trace")

    def __init__(
        self,
        call: Call,
        chain: Chain,
        cache_key: str | None,
        trace: Any,
        notify: Callable[[CallOutcome], None],
    ) -> None:
        self.call, self.chain, self.cache_key, self.trace, self.notify = call, chain, cache_key, trace, notify

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
            server_tool_use=server_tool_counts(usage.server_tool_use if usage else None),
        )
        self.notify(
            CallOutcome(self.call, chain.params, record, (lambda: message) if message else None, self.trace)
        )
