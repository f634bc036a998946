# Generated from _async/turn.py by scripts/unasync.py: edit that file, then `make unasync`.
"""An agent turn's loop, written once: this async source is the only one.

`../_sync/turn.py` is generated from it (`make unasync`). Stream a model call, start each tool call
as soon as its input is complete, pass every event on, send the results back, stream the next
call: until the model stops or the profile's `max_steps` is reached, or a tool that needs the
user's approval was called (the turn pauses, and a later call with `approvals=` goes on from it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import anthropic

from ..._call import Call
from ..._errors import UpstreamFailure
from ..._events import Reset, StepFinish, StepStart, StreamEvent, TextDelta, ToolCall, ToolOutput
from ..._upstream._sync.calls import TextStream
from ..._upstream._sync.text import TextIteration
from ..._upstream.governor import RateLimited
from ..._upstream.stream import Event, text_of
from ..core import APPROVAL_TTL, TYPED, AgentCore, Paused, TurnParts, UnknownApproval, denied_result
from ..runner import ToolRunner

__all__ = ["AgentStream"]


class AgentStream(AgentCore, TextIteration):
    """`with engine.stream(..., tools=[clock]) as turn: for text in turn: ...`.

    The same members as `TextStream` (`events()`, `typed_events()`, text iteration, `usage`,
    `timings`), over every model call of the turn; `steps` counts them.
    """

    def __init__(self, call: Call, parts: TurnParts, step: Callable[[Call], TextStream]) -> None:
        super().__init__(call, parts)
        self._new_step = step
        self._step: TextStream | None = None
        self._runner: ToolRunner | None = None
        self._tool_seconds = 0.0
        # A resumed turn's answered calls, passed on before its first step's events.
        self._held: list[tuple[str, Any]] = []

    def _new_runner(self) -> ToolRunner:
        return ToolRunner(self.call.tools, self.call.options.tool_timeout, self._threads)

    def open(self) -> AgentStream:
        """Send the first model call; raises its refusal (after retries and fallbacks) as the SDK's error.

        A call with `approvals` first takes its paused turn back (a `Refused` when the answers do
        not fit one) and runs the approved tools; the model's next call follows their results.
        """
        if self._step is None:
            if self.call.approvals:
                self._resume()
            self._step = self._new_step(self._first_call())
            self._stepped(self._step)
            self._step.open()
        return self

    def _resume(self) -> None:
        first = self.call.approvals[0].id
        raw = self._approvals.take(first)
        if raw is None:
            raise UnknownApproval(f"no tool call {first} waits for approval: unknown, answered or expired")
        paused = Paused.loads(raw)
        try:
            answers = paused.answered(self.call, self.call.approvals)
        except Exception:
            # Kept for a right answer: a wrong one must not cost the user the paused turn.
            self._approvals.keep([first], raw, APPROVAL_TTL)
            raise
        for id, _, _ in paused.pending:
            if id != first:
                self._approvals.take(id)
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
        for outcome in runner.outcomes():
            results.append(outcome.block)
            self._ran(outcome.event.name, outcome.event.seconds, outcome.event.is_error)
            self._held.append((TYPED, outcome.event))
        self._tool_seconds += runner.busy
        self._resumed(paused, results)

    def events(self) -> Iterator[Event]:
        """Every event of every step: the API's text deltas and pings as they are, the rest typed
        (`"firsttoken.event"`, a `StreamEvent`), the tools' outputs and the steps' bounds included."""
        self.open()
        step = self._step
        assert step is not None
        error: str | None = "cancelled"
        try:
            held, self._held = self._held, []
            for event in held:
                yield event
            while True:
                runner = self._runner = self._new_runner()
                for name, data in step.events():
                    passed, call = self._sort(step, name, data)
                    if call is not None:
                        runner.start(call)
                    if passed is not None:
                        if isinstance(passed[1], Reset):
                            # The calls the step made before it restarted are void, their tools too.
                            runner.cancel()
                            runner = self._runner = self._new_runner()
                        yield passed
                # Its connection goes back to the pool while the tools run.
                step.close()
                if not self._continues(step, runner.started):
                    runner.cancel()
                    break
                for request in self._approval_requests():
                    yield request
                results = []
                for outcome in runner.outcomes():
                    results.append(outcome.block)
                    self._ran(outcome.event.name, outcome.event.seconds, outcome.event.is_error)
                    yield TYPED, outcome.event
                self._tool_seconds += runner.busy
                if runner.stopped:
                    return  # the browser left while the tools ran: no next step
                self._runner = None
                if self._awaiting:
                    ids, paused = self._paused(step, results)
                    self._approvals.keep(ids, paused, APPROVAL_TTL)
                    break
                if self.steps >= self.call.options.max_steps:
                    self.max_steps_reached = True
                    break
                yield TYPED, StepFinish(self.steps)
                step = self._step = self._new_step(self._next_call(step, results))
                self._stepped(step)
                try:
                    step.open()
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

    def typed_events(self) -> Iterator[StreamEvent]:
        """Every event typed: text, thinking, tool calls, `ToolOutput`, `StepStart`/`StepFinish`..."""
        for name, data in self.events():
            if name == TYPED:
                yield data
            elif text_of(name, data) is not None:
                yield TextDelta(data["index"], data["delta"]["text"])

    def close(self) -> None:
        """Idempotent: cancels the running tools and closes the model call in flight."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
        if self._step is not None:
            self._step.close()
        self._record(None if self.complete else "cancelled", self._tool_seconds)

    def interrupt(self) -> None:
        runner = self._runner
        if runner is not None:
            runner.interrupt()

    def __enter__(self) -> AgentStream:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
