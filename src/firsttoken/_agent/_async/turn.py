"""An agent turn's loop, written once: this async source is the only one.

`../_sync/turn.py` is generated from it (`make unasync`). Stream a model call, start each tool call
as soon as its input is complete, pass every event on, send the results back, stream the next
call: until the model stops or the profile's `max_steps` is reached, or a tool that needs the
user's approval was called (the turn pauses, and a later call with `approvals=` goes on from it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

import anthropic

from ..._call import Call
from ..._errors import UpstreamFailure
from ..._events import Reset, StepFinish, StepStart, StreamEvent, TextDelta, ToolCall, ToolOutput
from ..._upstream._async.calls import AsyncTextStream
from ..._upstream._async.text import TextIteration
from ..._upstream.governor import RateLimited
from ..._upstream.stream import Event, text_of
from ..core import APPROVAL_TTL, TYPED, AgentCore, Paused, TurnParts, UnknownApproval, denied_result
from ..runner import AsyncToolRunner

__all__ = ["AsyncAgentStream"]


class AsyncAgentStream(AgentCore, TextIteration):
    """`async with engine.astream(..., tools=[clock]) as turn: async for text in turn: ...`.

    The same members as `AsyncTextStream` (`events()`, `typed_events()`, text iteration, `usage`,
    `timings`), over every model call of the turn; `steps` counts them.
    """

    def __init__(self, call: Call, parts: TurnParts, step: Callable[[Call], AsyncTextStream]) -> None:
        super().__init__(call, parts)
        self._new_step = step
        self._step: AsyncTextStream | None = None
        self._runner: AsyncToolRunner | None = None
        self._tool_seconds = 0.0
        # A resumed turn's answered calls, passed on before its first step's events.
        self._held: list[tuple[str, Any]] = []

    def _new_runner(self) -> AsyncToolRunner:
        return AsyncToolRunner(self.call.tools, self.call.options.tool_timeout, self._threads)

    async def open(self) -> AsyncAgentStream:
        """Send the first model call; raises its refusal (after retries and fallbacks) as the SDK's error.

        A call with `approvals` first takes its paused turn back (a `Refused` when the answers do
        not fit one) and runs the approved tools; the model's next call follows their results.
        """
        if self._step is None:
            if self.call.approvals:
                await self._resume()
            self._step = self._new_step(self._first_call())
            self._stepped(self._step)
            await self._step.open()
        return self

    async def _resume(self) -> None:
        first = self.call.approvals[0].id
        raw = await self._approvals.atake(first)
        if raw is None:
            raise UnknownApproval(f"no tool call {first} waits for approval: unknown, answered or expired")
        paused = Paused.loads(raw)
        try:
            answers = paused.answered(self.call, self.call.approvals)
        except Exception:
            # Kept for a right answer: a wrong one must not cost the user the paused turn.
            await self._approvals.akeep([first], raw, APPROVAL_TTL)
            raise
        for id, _, _ in paused.pending:
            if id != first:
                await self._approvals.atake(id)
        runner = self._new_runner()
        results = []
        for id, name, input in paused.pending:
            answer = answers[id]
            if answer.approved:
                runner.start(ToolCall(0, id, name, input, False))
                continue
            said = denied_result(answer.reason)
            results.append({"type": "tool_result", "tool_use_id": id, "content": said, "is_error": True})
            self._held.append((TYPED, ToolOutput(id, name, said, True, 0.0)))
            self._ran(name, 0.0, True)
        async for outcome in runner.outcomes():
            results.append(outcome.block)
            self._ran(outcome.event.name, outcome.event.seconds, outcome.event.is_error)
            self._held.append((TYPED, outcome.event))
        self._tool_seconds += runner.busy
        self._resumed(paused, results)

    async def events(self) -> AsyncIterator[Event]:
        """Every event of every step: the API's text deltas and pings as they are, the rest typed
        (`"firsttoken.event"`, a `StreamEvent`), the tools' outputs and the steps' bounds included."""
        await self.open()
        step = self._step
        assert step is not None
        error: str | None = "cancelled"
        try:
            held, self._held = self._held, []
            for event in held:
                yield event
            while True:
                runner = self._runner = self._new_runner()
                async for name, data in step.events():
                    passed, call = self._sort(step, name, data)
                    if call is not None:
                        runner.start(call)
                    if passed is not None:
                        if isinstance(passed[1], Reset):
                            # The calls the step made before it restarted are void, their tools too.
                            await runner.cancel()
                            runner = self._runner = self._new_runner()
                        yield passed
                # Its connection goes back to the pool while the tools run.
                await step.aclose()
                if not self._continues(step, runner.started):
                    await runner.cancel()
                    break
                for request in self._approval_requests():
                    yield request
                results = []
                async for outcome in runner.outcomes():
                    results.append(outcome.block)
                    self._ran(outcome.event.name, outcome.event.seconds, outcome.event.is_error)
                    yield TYPED, outcome.event
                self._tool_seconds += runner.busy
                if runner.stopped:
                    return  # the browser left while the tools ran: no next step
                self._runner = None
                if self._awaiting:
                    ids, paused = self._paused(step, results)
                    await self._approvals.akeep(ids, paused, APPROVAL_TTL)
                    break
                if self.steps >= self.call.options.max_steps:
                    self.max_steps_reached = True
                    break
                yield TYPED, StepFinish(self.steps)
                step = self._step = self._new_step(self._next_call(step, results))
                self._stepped(step)
                try:
                    await step.open()
                except (anthropic.APIError, RateLimited) as exc:
                    raise UpstreamFailure(self._error_type(exc), str(exc)) from exc
                yield TYPED, StepStart(self.steps)
            self.complete = True
            error = None
        except UpstreamFailure as exc:
            error = exc.type
            raise
        finally:
            self._record(error, self._tool_seconds)

    async def typed_events(self) -> AsyncIterator[StreamEvent]:
        """Every event typed: text, thinking, tool calls, `ToolOutput`, `StepStart`/`StepFinish`..."""
        async for name, data in self.events():
            if name == TYPED:
                yield data
            elif text_of(name, data) is not None:
                yield TextDelta(data["index"], data["delta"]["text"])

    async def aclose(self) -> None:
        """Idempotent: cancels the running tools and closes the model call in flight."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cancel()
        if self._step is not None:
            await self._step.aclose()
        self._record(None if self.complete else "cancelled", self._tool_seconds)

    def interrupt(self) -> None:
        runner = self._runner
        if runner is not None:
            runner.interrupt()

    async def __aenter__(self) -> AsyncAgentStream:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
