"""Running one step's tool calls, all at once: async tools as tasks on the loop, sync tools on the
engine's bounded thread pool; each with its timeout, and all of them cancelled together.

Two runners, one per side, since the two sides wait differently (tasks vs futures); the turn's loop
(`_async/turn.py`, its `_sync/` twin generated) only calls `start`, `outcomes` and `cancel`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from .._events import ToolCall, ToolOutput
from .._tools import Tool, ToolContext, result_content, to_json

__all__ = ["AsyncToolRunner", "Outcome", "ToolRunner", "ToolThreads"]

# How often a sync wait looks at the turn's cancellation: well under the 100 ms a browser's
# leaving should take to reach the tools.
_POLL = 0.02


@dataclass(frozen=True, slots=True)
class Outcome:
    """One finished tool call: the event the browser sees and the block the model gets."""

    event: ToolOutput
    block: dict[str, Any]


def _outcome(call: ToolCall, value: Any, error: str | None, started: float) -> Outcome:
    seconds = perf_counter() - started
    if error is not None:
        event = ToolOutput(call.id, call.name, error, True, seconds)
        return Outcome(
            event, {"type": "tool_result", "tool_use_id": call.id, "content": error, "is_error": True}
        )
    event = ToolOutput(call.id, call.name, to_json(value), False, seconds)
    return Outcome(event, {"type": "tool_result", "tool_use_id": call.id, "content": result_content(value)})


def _failed(exc: BaseException) -> str:
    # The tool's own words, as the model and the browser should see them; firsttoken adds nothing
    # of its own (no key, no traceback).
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _timed_out(name: str, seconds: float) -> str:
    return f"the tool {name} took longer than its {seconds:g}s timeout and was cancelled"


class ToolThreads:
    """The engine's threads for sync tools: made by the first turn that has one (none at construction)."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def __call__(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self._workers, thread_name_prefix="firsttoken-tool"
                    )
                pool = self._pool
        return pool

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # Running sync tools were told to stop (their flags); nobody waits for a tool that does not.
            pool.shutdown(wait=False, cancel_futures=True)


class _Runner:
    """What both runners share: the tools, the timeout, the contexts of the calls started."""

    def __init__(self, tools: Mapping[str, Tool], timeout: float) -> None:
        self._tools = tools
        self._timeout = timeout
        self._contexts: list[ToolContext] = []
        self.started = 0
        # Set once the calls were cancelled (the browser left): the turn must not go on.
        self.stopped = False
        # Seconds the step's tools ran, each counted (for the turn's metrics).
        self.busy = 0.0

    def _context(self, call: ToolCall) -> tuple[Tool | None, ToolContext, float]:
        tool = self._tools.get(call.name)
        context = ToolContext(call.id, call.name)
        self._contexts.append(context)
        timeout = tool.timeout if tool is not None and tool.timeout is not None else self._timeout
        return tool, context, timeout

    def _cancel_contexts(self) -> None:
        self.stopped = True
        for context in self._contexts:
            context.cancel()


class AsyncToolRunner(_Runner):
    def __init__(
        self, tools: Mapping[str, Tool], timeout: float, pool: Callable[[], concurrent.futures.Executor]
    ) -> None:
        super().__init__(tools, timeout)
        self._pool = pool
        self._tasks: list[asyncio.Task[Outcome]] = []

    def start(self, call: ToolCall) -> None:
        """Start `call` now, on the running loop (a sync tool on the pool's threads)."""
        self.started += 1
        self._tasks.append(asyncio.ensure_future(self._run(call)))

    async def _run(self, call: ToolCall) -> Outcome:
        tool, context, timeout = self._context(call)
        started = perf_counter()
        if tool is None:
            return _outcome(call, None, f"there is no tool named {call.name}", started)
        try:
            kwargs = tool.arguments(call.input, context)
            if tool.is_async:
                value = await asyncio.wait_for(tool.function(**kwargs), timeout)
            else:
                work = asyncio.get_running_loop().run_in_executor(
                    self._pool(), lambda: tool.function(**kwargs)
                )
                value = await asyncio.wait_for(work, timeout)
        except TimeoutError:
            context.cancel()
            return _outcome(call, None, _timed_out(call.name, timeout), started)
        except asyncio.CancelledError:
            context.cancel()
            raise
        except Exception as exc:
            return _outcome(call, None, _failed(exc), started)
        finally:
            self.busy += perf_counter() - started
        return _outcome(call, value, None, started)

    async def outcomes(self) -> AsyncIterator[Outcome]:
        """Each call's outcome as it finishes (not in the order they started)."""
        for next_done in asyncio.as_completed(self._tasks):
            yield await next_done

    async def cancel(self) -> None:
        """Cancel every call still running: async tools get a cancellation, sync ones their flag."""
        self._cancel_contexts()
        running = [t for t in self._tasks if not t.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    def interrupt(self) -> None:
        self._cancel_contexts()


class ToolRunner(_Runner):
    def __init__(
        self, tools: Mapping[str, Tool], timeout: float, pool: Callable[[], concurrent.futures.Executor]
    ) -> None:
        super().__init__(tools, timeout)
        self._pool = pool
        self._pending: list[
            tuple[ToolCall, ToolContext, float, float, concurrent.futures.Future[Any] | None]
        ] = []
        self._stop = threading.Event()

    def start(self, call: ToolCall) -> None:
        """Start `call` now on the pool; an async tool runs on a loop of its own in that thread."""
        self.started += 1
        tool, context, timeout = self._context(call)
        started = perf_counter()
        future: concurrent.futures.Future[Any] | None = None
        if tool is not None:
            try:
                kwargs = tool.arguments(call.input, context)
            except TypeError as exc:
                future = concurrent.futures.Future()
                future.set_exception(exc)
            else:
                run = _in_thread(tool, kwargs, context)
                future = self._pool().submit(run)
        self._pending.append((call, context, timeout, started, future))

    def outcomes(self) -> Iterator[Outcome]:
        pending = list(self._pending)
        while pending and not self._stop.is_set():
            now = perf_counter()
            futures = [p[4] for p in pending if p[4] is not None]
            deadline = min(p[3] + p[2] for p in pending)
            concurrent.futures.wait(
                futures,
                timeout=max(0.0, min(_POLL, deadline - now)),
                return_when=concurrent.futures.FIRST_COMPLETED,
            )
            now = perf_counter()
            for item in list(pending):
                call, context, timeout, started, future = item
                if future is None:
                    outcome = _outcome(call, None, f"there is no tool named {call.name}", started)
                elif future.done():
                    error = future.exception()
                    value = None if error is not None else future.result()
                    outcome = _outcome(call, value, None if error is None else _failed(error), started)
                elif now - started >= timeout:
                    context.cancel()
                    future.cancel()
                    outcome = _outcome(call, None, _timed_out(call.name, timeout), started)
                else:
                    continue
                pending.remove(item)
                self.busy += outcome.event.seconds
                yield outcome

    def cancel(self) -> None:
        self.interrupt()
        for item in self._pending:
            if item[4] is not None:
                item[4].cancel()

    def interrupt(self) -> None:
        """Thread-safe: the waiting loop stops within `_POLL` and every tool's flag is set."""
        self._stop.set()
        self._cancel_contexts()


def _in_thread(tool: Tool, kwargs: dict[str, Any], context: ToolContext) -> Callable[[], Any]:
    if not tool.is_async:
        return lambda: tool.function(**kwargs)

    async def watched() -> Any:
        # A sync engine still runs async tools: on a loop of their own, cancelled with the call.
        task = asyncio.ensure_future(tool.function(**kwargs))
        while not task.done():
            await asyncio.wait((task,), timeout=_POLL)
            if context.cancelled:
                task.cancel()
        return task.result()

    return lambda: asyncio.run(watched())
