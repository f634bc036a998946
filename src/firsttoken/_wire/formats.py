"""The base wire format and the plain ones: SSE (the default), NDJSON and chunked text.

Each names its events as `EXAMPLE_CONTRACT.md` does (`contract_event`); the AI SDK's stream, whose
parts open and close, is `aisdk.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from .._errors import UpstreamFailure
from .._events import (
    ApprovalRequest,
    Citation,
    Compaction,
    Reset,
    StreamEvent,
    ThinkingDelta,
    ToolCall,
    ToolInputDelta,
    ToolOutput,
    ToolResult,
)

__all__ = [
    "STREAM_HEADERS",
    "NDJSONFormat",
    "SSEFormat",
    "TextFormat",
    "WireFormat",
    "contract_event",
    "dumps",
    "json_string",
]

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# What `dumps` writes for a str, without its walk through a container: a token's event is fixed
# bytes around one JSON string, and this is a tenth of the cost per token (tests/core/test_wire.py
# holds it to `dumps`' bytes).
json_string = encode_basestring

# Proxies (nginx) buffer responses unless told not to; a cached stream would replay an old answer.
STREAM_HEADERS: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"), ("X-Accel-Buffering", "no"))


class WireFormat:
    name = ""
    media_type = ""
    headers: tuple[tuple[str, str], ...] = STREAM_HEADERS
    # Whether encoding an event changes what the next one encodes to (the AI SDK's open parts):
    # such a format is encoded by the one thread that writes, in order (`_coalesce.py`).
    stateful = False
    # Whether a structured answer's object travels beside its text (`object()`), as it fills.
    shows_objects = True

    def start(self, response_id: str | None = None) -> bytes:
        """Bytes sent with the headers: a first heartbeat pushes them through buffering proxies."""
        return self.heartbeat()

    def token(self, text: str) -> bytes:
        raise NotImplementedError

    def done(self, summary: Mapping[str, Any]) -> bytes:
        raise NotImplementedError

    def error(self, type: str, message: str) -> bytes:
        raise NotImplementedError

    def heartbeat(self) -> bytes:
        return b""

    def event(self, event: StreamEvent) -> bytes:
        """The bytes of a non-text event; a format with no room for one sends nothing."""
        return b""

    def object(self, partial: Any) -> bytes:
        """A structured answer's object as it has filled so far (`output=`)."""
        return b""


def contract_event(event: StreamEvent) -> tuple[str, dict[str, Any]] | None:
    """The example contract's name and object for an event (`EXAMPLE_CONTRACT.md`), or None for
    the ones it leaves out (block starts, a thinking block's end: its signature is for the API)."""
    if isinstance(event, ThinkingDelta):
        return "thinking", {"text": event.text}
    if isinstance(event, ToolInputDelta):
        delta = {"id": event.id, "name": event.name, "delta": event.delta}
        return "tool_input", {**delta, "server": True} if event.server else delta
    if isinstance(event, ToolCall):
        call = {"id": event.id, "name": event.name, "input": event.input}
        if event.server_name is not None:
            call["server_name"] = event.server_name
        return "tool_call", {**call, "server": True} if event.server else call
    if isinstance(event, ToolResult):
        name = event.name or event.kind.removesuffix("_tool_result")
        result = {"id": event.tool_use_id, "name": name, "output": event.content, "is_error": event.is_error}
        return "tool_result", {**result, "server": True}
    if isinstance(event, Citation):
        # Flat, as the contract has it: the API's location fields, the document's title as `title`,
        # and its `type` as `location` (an NDJSON line's own `type` is the event's name).
        cite = {k: v for k, v in event.citation.items() if k not in ("document_title", "type")}
        title = event.citation.get("document_title", cite.get("title"))
        return "citation", {"location": event.citation.get("type"), **cite, "title": title}
    if isinstance(event, ToolOutput):
        output = {"id": event.id, "name": event.name, "output": event.output, "is_error": event.is_error}
        return "tool_result", output
    if isinstance(event, Compaction):
        return "compaction", {"summary": event.summary}
    if isinstance(event, ApprovalRequest):
        return "tool_approval", {"id": event.id, "name": event.name, "input": event.input}
    if isinstance(event, Reset):
        return "reset", {"reason": event.reason, "model": event.model}
    return None


class SSEFormat(WireFormat):
    """`event: token` / `event: done` / `event: error`, with `: ping` comments as heartbeats."""

    name = "sse"
    media_type = "text/event-stream; charset=utf-8"

    def start(self, response_id: str | None = None) -> bytes:
        """`event: start` naming the response (the key to resume or stop it); it also pushes the
        headers through buffering proxies, as a heartbeat would."""
        if response_id is None:
            return self.heartbeat()
        return b"event: start\ndata: " + dumps({"response_id": response_id}).encode() + b"\n\n"

    def token(self, text: str) -> bytes:
        return b'event: token\ndata: {"text":' + json_string(text).encode() + b"}\n\n"

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return b"event: done\ndata: " + dumps(summary).encode() + b"\n\n"

    def error(self, type: str, message: str) -> bytes:
        return b"event: error\ndata: " + dumps({"type": type, "message": message}).encode() + b"\n\n"

    def heartbeat(self) -> bytes:
        return b": ping\n\n"

    def event(self, event: StreamEvent) -> bytes:
        named = contract_event(event)
        if named is None:
            return b""
        return b"event: " + named[0].encode() + b"\ndata: " + dumps(named[1]).encode() + b"\n\n"

    def object(self, partial: Any) -> bytes:
        return b'event: object\ndata: {"partial":' + dumps(partial).encode() + b"}\n\n"


class NDJSONFormat(WireFormat):
    """One JSON object a line: `{"type": "token", "text": ...}`, then `done` or `error`."""

    name = "ndjson"
    media_type = "application/x-ndjson"

    def token(self, text: str) -> bytes:
        return b'{"type":"token","text":' + json_string(text).encode() + b"}\n"

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return dumps({"type": "done", **summary}).encode() + b"\n"

    def error(self, type: str, message: str) -> bytes:
        return dumps({"type": "error", "error": {"type": type, "message": message}}).encode() + b"\n"

    def heartbeat(self) -> bytes:
        return b'{"type":"ping"}\n'

    def event(self, event: StreamEvent) -> bytes:
        named = contract_event(event)
        if named is None:
            return b""
        return dumps({"type": named[0], **named[1]}).encode() + b"\n"

    def object(self, partial: Any) -> bytes:
        return b'{"type":"object","partial":' + dumps(partial).encode() + b"}\n"


class TextFormat(WireFormat):
    """Plain chunked text: the answer's text alone (thinking, tool calls and citations left out).
    It has no room for a summary; an error after the first token is appended as a last line
    starting `[error]`, since a status code can no longer change."""

    name = "text"
    media_type = "text/plain; charset=utf-8"
    # The body is the JSON text itself, which the AI SDK's `useObject` parses as it comes.
    shows_objects = False

    def start(self, response_id: str | None = None) -> bytes:
        return b""

    def token(self, text: str) -> bytes:
        return text.encode()

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return b""

    def error(self, type: str, message: str) -> bytes:
        return f"\n[error] {type}: {message}\n".encode()

    def event(self, event: StreamEvent) -> bytes:
        if isinstance(event, Reset):
            # Plain text cannot take back what it sent: a restart ends it, as the overload did.
            message = f"the answer broke off and restarted on {event.model}, which plain text cannot show"
            raise UpstreamFailure("overloaded_error", message)
        return b""
