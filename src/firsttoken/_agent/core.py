"""An agent turn apart from its I/O: the tools, the conversation as it grows step by step, the
events the loop passes on, and the turn's totals (steps, usage, tool time).

The loop is `_async/turn.py` (the source) and `_sync/turn.py` (generated from it). Each step is
one ordinary engine stream, so fallbacks, cooldowns, the governor and the cache breakpoints apply
to every model call of the turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, NamedTuple

from .._call import Call
from .._events import Finished, StreamEvent, ToolCall
from .._timings import Timings
from .._upstream.stream import answer_turn, sent_block

if TYPE_CHECKING:
    from .._upstream.stream import StreamCore

__all__ = ["TYPED", "AgentCore", "TurnParts", "TurnRecord"]

# The event name under which the loop passes an already-typed event on (the relay's reader hands
# it through); text deltas and pings keep their API names and shapes, the relay's hot path.
TYPED = "firsttoken.event"


class TurnParts(NamedTuple):
    """What the engine hands every turn: the threads its sync tools run on, how an upstream error
    is named (`_fallback.error_type`) and where the finished turn's record goes."""

    threads: Callable[[], Executor]
    error_type: Callable[[BaseException], str]
    on_turn: Callable[[TurnRecord], None]


@dataclass(slots=True)
class TurnRecord:
    """A finished turn, for the metrics: steps, tool calls and their time, the prompt cache."""

    profile: str
    steps: int
    tool_calls: int
    tool_errors: int
    tool_seconds: float
    total: float
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    max_steps_reached: bool
    error: str | None
    tools: list[tuple[str, float, bool]] = field(default_factory=list)


class _Passthrough:
    """The relay's reader for a turn: the loop already typed every event but text and pings."""

    __slots__ = ()

    def feed(self, name: str, data: Any) -> StreamEvent | None:
        return data if name == TYPED else None


class AgentCore:
    """What the sync and async turns share; the loop itself is the I/O shell's."""

    reader: Any = _Passthrough()

    def __init__(self, call: Call, parts: TurnParts) -> None:
        # The turn's call: its tools (`call.tools`), `max_steps` and `tool_timeout` (`call.options`)
        # and the conversation it starts from; each step is `call.step(messages)`.
        self.call = call
        self.profile = call.profile
        self._error_type = parts.error_type
        self._on_turn = parts.on_turn
        self._threads = parts.threads
        self._messages: list[Mapping[str, Any]] = list(call.messages)
        self._steps: list[StreamCore] = []
        self._started = perf_counter()
        # When the last step's first text arrived: the final answer's first token.
        self.final_ttft: float | None = None
        self.max_steps_reached = False
        self._tool_calls: list[tuple[str, float, bool]] = []
        self._foreign = False
        self._recorded = False
        # Set when the loop ended on its own (the model stopped, or max_steps): not cancelled.
        self.complete = False
        # The step whose text came last; its first text is the final answer's first token.
        self._text_step: Any = None

    # -- what the relay reads, over the steps --------------------------------------------------

    @property
    def steps(self) -> int:
        return len(self._steps)

    @property
    def _first(self) -> StreamCore:
        return self._steps[0]

    @property
    def _last(self) -> StreamCore:
        return self._steps[-1]

    @property
    def requested_model(self) -> str:
        return self._first.requested_model

    @property
    def model(self) -> str:
        return self._last.model

    @property
    def stop_reason(self) -> str | None:
        return self._last.stop_reason

    @property
    def stop_details(self) -> dict[str, Any] | None:
        return self._last.stop_details

    @property
    def finished(self) -> bool:
        return bool(self._steps) and self._last.finished

    @property
    def usage(self) -> dict[str, Any]:
        """The turn's usage: every step's tokens added up."""
        total: dict[str, int] = {}
        for step in self._steps:
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                total[key] = total.get(key, 0) + int(step.usage.get(key) or 0)
        return total

    @property
    def timings(self) -> Timings:
        """The turn's timings: from its start to its first token and to now, every step's output
        tokens (so tokens/s counts the time tools ran), retries and fallbacks of every call."""
        first = self._first.timings
        return Timings(
            started=self._started,
            upstream=first.upstream,
            ttft=None if first.ttft is None else first.started + first.ttft - self._started,
            total=perf_counter() - self._started,
            output_tokens=sum(s.timings.output_tokens for s in self._steps),
            retries=sum(s.timings.retries for s in self._steps),
            served_by=self._last.timings.served_by,
            fallbacks=sum(s.timings.fallbacks for s in self._steps),
            route=first.route,
            classify_ms=first.classify_ms,
        )

    @property
    def message(self) -> Any:
        """The last step's message (the final answer)."""
        return self._last.message

    @property
    def messages(self) -> list[Mapping[str, Any]]:
        """The conversation so far: the messages sent, then each step's answer and tool results."""
        return list(self._messages)

    def _stepped(self, step: StreamCore) -> None:
        self._steps.append(step)

    # -- the loop's decisions --------------------------------------------------------------------

    def _sort(self, step: StreamCore, name: str, data: Any) -> tuple[tuple[str, Any] | None, ToolCall | None]:
        """What to pass on for one raw event of a step, and the tool call to start now, if any.

        A tool block's `content_block_stop` completes its input (with eager input streaming, before
        the model wrote the rest of its turn): the call starts then, not at the turn's end.
        """
        if name == "content_block_delta" and data["delta"]["type"] == "text_delta":
            if self._text_step is not step:
                self._text_step = step
                self.final_ttft = perf_counter() - self._started
            return (name, data), None
        if name == "ping":
            return (name, data), None
        event = step.reader.feed(name, data)
        if event is None or isinstance(event, Finished):
            return None, None
        if isinstance(event, ToolCall) and not event.server:
            if event.name in self.call.tools:
                return (TYPED, event), event
            self._foreign = True  # a tool the caller runs: the turn ends, as a plain stream would
        return (TYPED, event), None

    def _continues(self, step: StreamCore, started: int) -> bool:
        """Whether the step's tools run and their results go back to the model."""
        return step.stop_reason == "tool_use" and started > 0 and not self._foreign

    def _next_messages(self, step: StreamCore, blocks: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
        """The conversation for the next step: this step's answer as sent (thinking blocks with
        their signatures, as the API requires) and the tool results in the order of the calls."""
        content = [sent_block(block) for block in step.blocks]
        order = {b["id"]: i for i, b in enumerate(content) if b.get("type") == "tool_use"}
        results = sorted(blocks, key=lambda b: order.get(b["tool_use_id"], len(order)))
        self._messages += [{"role": "assistant", "content": content}, {"role": "user", "content": results}]
        return list(self._messages)

    def _next_call(self, step: StreamCore, blocks: list[dict[str, Any]]) -> Call:
        """The next step's call: on a thread (a held chat's, `threads` on), a `continue` from this
        step's answer with only the tool results; otherwise the whole conversation so far."""
        messages = self._next_messages(step, blocks)
        previous = step.message_id
        if self.call.threaded and previous is not None:
            return self.call.continued(previous, messages[-1:])
        return self.call.step(messages)

    @property
    def message_id(self) -> str | None:
        """The last step's answer id: what the thread continues from on the next turn."""
        return self._last.message_id if self._steps else None

    @property
    def answer(self) -> list[Mapping[str, Any]]:
        """The turn's part of the conversation, once it ended: each step's answer and the tool
        results between them, as the next turn sends them back."""
        last = [answer_turn(self._last.blocks)] if self._steps else []
        return [*self._messages[len(self.call.messages) :], *last]

    def _ran(self, name: str, seconds: float, is_error: bool) -> None:
        self._tool_calls.append((name, seconds, is_error))

    def _record(self, error: str | None, tool_seconds: float) -> None:
        if self._recorded or not self._steps:
            return
        self._recorded = True
        usage = self.usage
        on_turn, self._on_turn = self._on_turn, _ignore
        on_turn(
            TurnRecord(
                profile=self.profile,
                steps=self.steps,
                tool_calls=len(self._tool_calls),
                tool_errors=sum(1 for _, _, e in self._tool_calls if e),
                tool_seconds=tool_seconds,
                total=perf_counter() - self._started,
                input_tokens=usage.get("input_tokens", 0),
                cache_read_input_tokens=usage.get("cache_read_input_tokens", 0),
                cache_creation_input_tokens=usage.get("cache_creation_input_tokens", 0),
                max_steps_reached=self.max_steps_reached,
                error=error,
                tools=list(self._tool_calls),
            )
        )


def _ignore(record: TurnRecord) -> None:
    return None
