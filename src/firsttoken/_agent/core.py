"""An agent turn apart from its I/O: the tools, the conversation as it grows step by step, the
events the loop passes on, and the turn's totals (steps, usage, tool time).

The loop is `_async/turn.py` (the source) and `_sync/turn.py` (generated from it). Each step is
one ordinary engine stream, so fallbacks, cooldowns, the governor and the cache breakpoints apply
to every model call of the turn.

A tool that needs approval pauses the turn: the conversation so far goes to the state store
(`_state/approvals.py`: this process's memory, or Redis for every worker) under each waiting call's
id, and the request that answers those ids takes it back and goes on (`Paused`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, NamedTuple

from .._call import Call
from .._errors import BadRequest, Refused
from .._events import TYPED, ApprovalRequest, Finished, Reset, StreamEvent, ToolCall
from .._state import Approvals
from .._timings import Timings
from .._tools import Approval
from .._upstream.stream import answer_turn, sent_block

if TYPE_CHECKING:
    from .._upstream.stream import StreamCore

__all__ = ["TYPED", "AgentCore", "Paused", "TurnParts", "TurnRecord", "UnknownApproval"]

# How long a paused turn waits for the user: an hour covers a coffee break, not a day.
APPROVAL_TTL = 3600.0

# The loop passes every event but text deltas and pings on already typed, under `TYPED` (the
# relay's reader hands it through); those two keep their API names and shapes, the relay's hot path.


class TurnParts(NamedTuple):
    """What the engine hands every turn: the threads its sync tools run on, how an upstream error
    is named (`_fallback.error_type`), where the finished turn's record goes and where a turn
    paused for approval waits."""

    threads: Callable[[], Executor]
    error_type: Callable[[BaseException], str]
    on_turn: Callable[[TurnRecord], None]
    approvals: Approvals


class UnknownApproval(Refused):
    """An answer to an approval nobody waits for here: unknown, answered already, or expired."""

    status = 409


@dataclass(frozen=True, slots=True)
class Paused:
    """A turn waiting for approvals: the conversation it was asked (`asked`), the API conversation
    up to the answer that called the tools (`messages`), the results of the tools that ran
    already, and the calls that wait (`pending`: id, name, input)."""

    profile: str
    asked: list[Any]
    messages: list[Any]
    results: list[dict[str, Any]]
    pending: list[tuple[str, str, Any]]
    # On an API thread: the id of the answer that called the tools, which the thread continues from.
    previous: str | None = None

    def dumps(self) -> bytes:
        data = {
            "profile": self.profile,
            "asked": self.asked,
            "messages": self.messages,
            "results": self.results,
            "pending": [list(p) for p in self.pending],
            "previous": self.previous,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Paused:
        data = json.loads(raw)
        pending = [(str(i), str(n), v) for i, n, v in data["pending"]]
        previous = data.get("previous")
        return cls(data["profile"], data["asked"], data["messages"], data["results"], pending, previous)

    def answered(self, call: Call, approvals: Sequence[Approval]) -> dict[str, Approval]:
        """The answers by call id, once they answer every waiting call of this turn, in the
        conversation and profile it was asked in; raises the refusal otherwise."""
        if call.profile != self.profile:
            raise BadRequest(f"the approvals belong to a turn of the {self.profile!r} profile")
        sent = [dict(m) for m in call.messages]
        if sent[: len(self.asked)] != self.asked:
            raise BadRequest("the approvals belong to another conversation; send the messages they paused")
        by_id = {a.id: a for a in approvals}
        waiting = [id for id, _, _ in self.pending]
        missing = [id for id in waiting if id not in by_id]
        if missing:
            raise BadRequest(f"the tool call {missing[0]} waits for an answer too; answer every call at once")
        stray = [id for id in by_id if id not in waiting]
        if stray:
            raise UnknownApproval(f"no tool call {stray[0]} waits for approval in this turn")
        return by_id


def denied_result(reason: str | None) -> str:
    """What the model is told of a call the user denied, so that it can answer the user."""
    why = f": {reason}" if reason else ""
    return f"The user denied this tool call{why}. It did not run."


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
        # Its structured output: the last step's text is the object (`parsed`).
        self.output = call.options.output
        self._error_type = parts.error_type
        self._on_turn = parts.on_turn
        self._threads = parts.threads
        self._messages: list[Mapping[str, Any]] = list(call.messages)
        # A resumed threaded turn's first call (`_resumed`); None: the conversation as it stands.
        self._resumed_call: Call | None = None
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
        self._approvals = parts.approvals
        # The tool calls of the current step that wait for the user's approval.
        self._awaiting: list[ToolCall] = []
        # Set once the turn paused for approval: the ids of the calls that wait.
        self.awaiting_approval: tuple[str, ...] = ()

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
        """The turn's usage: every step's tokens added up, and the counts of `server_tool_use` and
        `cache_creation` (writes by TTL) where the steps had any."""
        total: dict[str, Any] = {}
        for step in self._steps:
            usage = step.usage
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                total[key] = total.get(key, 0) + int(usage.get(key) or 0)
            for key in ("server_tool_use", "cache_creation"):
                counts = usage.get(key)
                if isinstance(counts, Mapping):
                    summed = total.setdefault(key, {})
                    for name, n in counts.items():
                        if isinstance(n, int):
                            summed[name] = summed.get(name, 0) + n
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
        if isinstance(event, Reset):
            # The step starts again on another model: the calls it made so far are void.
            self._awaiting.clear()
            self._foreign = False
        if isinstance(event, ToolCall) and not event.server:
            tool = self.call.tools.get(event.name)
            if tool is not None and tool.needs_approval:
                self._awaiting.append(event)
                return (TYPED, event), None
            if tool is not None:
                return (TYPED, event), event
            self._foreign = True  # a tool the caller runs: the turn ends, as a plain stream would
        return (TYPED, event), None

    def _continues(self, step: StreamCore, started: int) -> bool:
        """Whether the step's tools run and their results go back to the model, or the API paused
        the turn in its own tool loop (`pause_turn`) and the answer goes back to be continued."""
        if step.stop_reason == "pause_turn":
            return True
        return step.stop_reason == "tool_use" and (started > 0 or bool(self._awaiting)) and not self._foreign

    def _approval_requests(self) -> list[tuple[str, ApprovalRequest]]:
        return [(TYPED, ApprovalRequest(c.id, c.name, c.input)) for c in self._awaiting]

    def _paused(self, step: StreamCore, results: list[dict[str, Any]]) -> tuple[list[str], bytes]:
        """The turn paused after `step`: the ids that wait, and what the store keeps under them."""
        content = [sent_block(block) for block in step.blocks]
        paused = Paused(
            self.profile,
            [dict(m) for m in self.call.messages],
            [*self._messages, {"role": "assistant", "content": content}],
            results,
            [(c.id, c.name, c.input) for c in self._awaiting],
            step.message_id if self.call.threaded else None,
        )
        self.awaiting_approval = tuple(c.id for c in self._awaiting)
        return list(self.awaiting_approval), paused.dumps()

    def _resumed(self, paused: Paused, results: list[dict[str, Any]]) -> None:
        """The conversation goes on from the paused turn, its results answered."""
        order = {id: i for i, (id, _, _) in enumerate(paused.pending)}
        ordered = sorted(results, key=lambda b: order.get(b["tool_use_id"], -1))
        self._messages = [*paused.messages, {"role": "user", "content": [*paused.results, *ordered]}]
        if paused.previous is not None and self.call.threaded:
            # The thread holds the answer that paused: it goes on from there with the results alone.
            self._resumed_call = self.call.continued(paused.previous, self._messages[-1:])

    def _first_call(self) -> Call:
        """The turn's first model call: a resumed threaded turn's `continue`, else the conversation."""
        call = self._resumed_call
        return call if call is not None else self.call.step(self.messages)

    def _next_messages(self, step: StreamCore, blocks: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
        """The conversation for the next step: this step's answer as sent (thinking blocks with
        their signatures, as the API requires) and the tool results in the order of the calls."""
        content = [sent_block(block) for block in step.blocks]
        if step.stop_reason == "pause_turn":
            # Anthropic's way to continue a paused turn: the answer sent back as it is, no user
            # turn after it; the next answer carries on from there.
            self._messages.append({"role": "assistant", "content": content})
            return list(self._messages)
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
