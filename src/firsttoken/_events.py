"""Typed stream events: every content block kind the Messages API streams, as small frozen objects.

`EventReader.feed(name, data)` turns one raw `(event, data)` pair of `_sse.SSEDecoder` into the
event a caller acts on, or None for bookkeeping (block starts of text, pings, message_start).
It keeps only what a later event needs (a tool block's id, name and JSON so far), so a text-only
stream costs one dictionary lookup per delta more than the bare text iterator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jiter import from_json

__all__ = [
    "TYPED",
    "ApprovalRequest",
    "Citation",
    "Compaction",
    "EventReader",
    "Finished",
    "Reset",
    "StepFinish",
    "StepStart",
    "StreamEvent",
    "TextDelta",
    "ThinkingDelta",
    "ThinkingEnd",
    "ThinkingStart",
    "ToolCall",
    "ToolInputDelta",
    "ToolInputStart",
    "ToolOutput",
    "ToolResult",
]

# The event name under which a stream passes an already-typed event on (`Reset`, an agent turn's
# `ToolOutput`...): `EventReader.feed` hands it through as it is.
TYPED = "firsttoken.event"


@dataclass(frozen=True, slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingStart:
    index: int


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of shown thinking (display "summarized"); omitted thinking streams none."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingEnd:
    """A thinking block is complete: its whole text ("" when omitted) and the signature that must
    go back with it, unchanged, on the next turn. `redacted` holds a redacted block's data."""

    index: int
    thinking: str
    signature: str
    redacted: str | None = None


@dataclass(frozen=True, slots=True)
class ToolInputStart:
    """A tool call begins; `server` is True for a tool the API runs itself (web search)."""

    index: int
    id: str
    name: str
    server: bool


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    """A fragment of a tool call's JSON input; not valid JSON on its own (eager input streaming)."""

    index: int
    id: str
    name: str
    delta: str
    server: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    index: int
    id: str
    name: str
    input: Any
    server: bool
    # The MCP server whose tool this is (an `mcp_tool_use` block), which must go back with it.
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A server tool's result block (`web_search_tool_result`, `mcp_tool_result`...), as the API
    sent it; `name` is its call's tool (`web_fetch`, an MCP server's tool), `is_error` whether the
    API says it failed (an `..._error` content, or an MCP result's `is_error`)."""

    index: int
    tool_use_id: str
    kind: str
    content: Any
    name: str = ""
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Citation:
    """A citation of the text block at `index`, as the API's citation object."""

    index: int
    citation: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Compaction:
    """The API summarised the earlier turns (compaction): the answer continues from `summary`,
    and the block goes back verbatim on the next turn."""

    index: int
    summary: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The `message_delta`: why the answer stopped, and a refusal's details when there was one."""

    stop_reason: str | None
    stop_details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool the server ran (`firsttoken.tool`) has finished: what it returned, or its error
    (`is_error`: it raised, timed out or was unknown) as the model is told it; `seconds` it took."""

    id: str
    name: str
    output: Any
    is_error: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class StepStart:
    """An agent turn's next model call begins (`step` counts from 1; the first is not announced)."""

    step: int


@dataclass(frozen=True, slots=True)
class StepFinish:
    """An agent turn's model call and the tools it asked for are done, and another call follows
    (the last step's end is the stream's end)."""

    step: int


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A tool that needs the user's approval (`firsttoken.tool(needs_approval=True)`) was called:
    the turn pauses after its step, and resumes when the browser's next request answers `id`."""

    id: str
    name: str
    input: Any


@dataclass(frozen=True, slots=True)
class Reset:
    """What was shown of this answer is void: it starts again on `model` (`reason`: "fallback",
    after an overload mid-answer on a model that refuses a continuation's prefill)."""

    model: str
    reason: str


StreamEvent = (
    TextDelta
    | ThinkingStart
    | ThinkingDelta
    | ThinkingEnd
    | ToolInputStart
    | ToolInputDelta
    | ToolCall
    | ToolResult
    | Citation
    | Compaction
    | Finished
    | ToolOutput
    | StepStart
    | StepFinish
    | ApprovalRequest
    | Reset
)

_TOOLS = {"tool_use": False, "server_tool_use": True, "mcp_tool_use": True}


class _Block:
    __slots__ = ("id", "kind", "name", "parts", "server", "server_name")

    def __init__(self, kind: str, id: str = "", name: str = "", server: bool = False) -> None:
        self.kind, self.id, self.name, self.server = kind, id, name, server
        self.parts: list[str] = []
        self.server_name: str | None = None


class EventReader:
    """Reads one attempt's raw events into `StreamEvent`s; a new attempt needs a new reader."""

    __slots__ = ("_blocks", "_server")

    def __init__(self) -> None:
        self._blocks: dict[int, _Block] = {}
        # The tool names of the server tools' calls, by id: their results name no tool.
        self._server: dict[str, str] = {}

    def feed(self, name: str, data: Any) -> StreamEvent | None:
        if name == "content_block_delta":
            delta = data["delta"]
            kind = delta["type"]
            if kind == "text_delta":
                return TextDelta(data["index"], delta["text"])
            return self._delta(data["index"], kind, delta)
        if name == "content_block_start":
            return self._start(data["index"], data["content_block"])
        if name == "content_block_stop":
            return self._stop(data["index"])
        if name == "message_delta":
            delta = data["delta"]
            return Finished(delta.get("stop_reason"), delta.get("stop_details"))
        if name == TYPED:
            return data  # type: ignore[no-any-return]
        return None

    def _start(self, index: int, block: dict[str, Any]) -> StreamEvent | None:
        kind = block["type"]
        if kind in _TOOLS:
            tool = self._blocks[index] = _Block(kind, block["id"], block["name"], _TOOLS[kind])
            if tool.server:
                self._server[tool.id] = tool.name
                tool.server_name = block.get("server_name")
            return ToolInputStart(index, tool.id, tool.name, tool.server)
        if kind == "thinking":
            self._blocks[index] = _Block(kind)
            return ThinkingStart(index)
        if kind == "compaction":
            self._blocks[index] = _Block(kind)
            return None
        if kind == "redacted_thinking":
            return ThinkingEnd(index, "", "", str(block.get("data", "")))
        if kind.endswith("_tool_result"):
            call_id, content = str(block.get("tool_use_id", "")), block.get("content")
            failed = bool(block.get("is_error")) or (
                isinstance(content, dict) and str(content.get("type", "")).endswith("_error")
            )
            name = self._server.pop(call_id, kind.removesuffix("_tool_result"))
            return ToolResult(index, call_id, kind, content, name, failed)
        return None

    def _delta(self, index: int, kind: str, delta: dict[str, Any]) -> StreamEvent | None:
        block = self._blocks.get(index)
        if kind == "citations_delta":
            return Citation(index, delta["citation"])
        if block is None:
            return None
        if kind == "input_json_delta":
            fragment: str = delta["partial_json"]
            block.parts.append(fragment)
            return ToolInputDelta(index, block.id, block.name, fragment, block.server) if fragment else None
        if kind == "thinking_delta":
            text: str = delta["thinking"]
            block.parts.append(text)
            return ThinkingDelta(index, text)
        if kind == "signature_delta":
            block.id = delta["signature"]
        elif kind == "compaction_delta" and isinstance(delta.get("content"), str):
            block.parts.append(delta["content"])
        return None

    def _stop(self, index: int) -> StreamEvent | None:
        block = self._blocks.pop(index, None)
        if block is None:
            return None
        joined = "".join(block.parts)
        if block.kind == "thinking":
            return ThinkingEnd(index, joined, block.id)
        if block.kind == "compaction":
            return Compaction(index, joined)
        value = from_json(joined.encode(), partial_mode=True) if joined else {}
        return ToolCall(index, block.id, block.name, value, block.server, block.server_name)
