"""Browser-facing wire formats: how text deltas, the other stream events, the summary and errors
are written to the response.

Each format turns relay moments into bytes; adapters only move those bytes. `sse` is the default;
`ai-sdk` speaks the Vercel AI SDK UI message stream protocol v1, so `useChat` front ends work as is.
Text takes `token()`, the hot path; every other kind of event (thinking, tool calls, citations,
server tool results) takes `event()`, typed by `_events.EventReader`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from ._errors import UpstreamFailure
from ._events import (
    ApprovalRequest,
    Citation,
    Compaction,
    Reset,
    StepFinish,
    StepStart,
    StreamEvent,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCall,
    ToolInputDelta,
    ToolInputStart,
    ToolOutput,
    ToolResult,
)
from ._settings import AISDK_PROTOCOLS

__all__ = [
    "AISDK_PROTOCOLS",
    "FORMATS",
    "AISDKFormat",
    "NDJSONFormat",
    "SSEFormat",
    "TextFormat",
    "WireFormat",
    "get_format",
]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# What `_dumps` writes for a str, without its walk through a container: a token's event is fixed
# bytes around one JSON string, and this is a tenth of the cost per token (tests/core/test_wire.py
# holds it to `_dumps`' bytes).
_string = encode_basestring

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
        return b"event: start\ndata: " + _dumps({"response_id": response_id}).encode() + b"\n\n"

    def token(self, text: str) -> bytes:
        return b'event: token\ndata: {"text":' + _string(text).encode() + b"}\n\n"

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return b"event: done\ndata: " + _dumps(summary).encode() + b"\n\n"

    def error(self, type: str, message: str) -> bytes:
        return b"event: error\ndata: " + _dumps({"type": type, "message": message}).encode() + b"\n\n"

    def heartbeat(self) -> bytes:
        return b": ping\n\n"

    def event(self, event: StreamEvent) -> bytes:
        named = contract_event(event)
        if named is None:
            return b""
        return b"event: " + named[0].encode() + b"\ndata: " + _dumps(named[1]).encode() + b"\n\n"

    def object(self, partial: Any) -> bytes:
        return b'event: object\ndata: {"partial":' + _dumps(partial).encode() + b"}\n\n"


class NDJSONFormat(WireFormat):
    """One JSON object a line: `{"type": "token", "text": ...}`, then `done` or `error`."""

    name = "ndjson"
    media_type = "application/x-ndjson"

    def token(self, text: str) -> bytes:
        return b'{"type":"token","text":' + _string(text).encode() + b"}\n"

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return _dumps({"type": "done", **summary}).encode() + b"\n"

    def error(self, type: str, message: str) -> bytes:
        return _dumps({"type": "error", "error": {"type": type, "message": message}}).encode() + b"\n"

    def heartbeat(self) -> bytes:
        return b'{"type":"ping"}\n'

    def event(self, event: StreamEvent) -> bytes:
        named = contract_event(event)
        if named is None:
            return b""
        return _dumps({"type": named[0], **named[1]}).encode() + b"\n"

    def object(self, partial: Any) -> bytes:
        return b'{"type":"object","partial":' + _dumps(partial).encode() + b"}\n"


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


class AISDKFormat(WireFormat):
    """Vercel AI SDK UI message stream protocol v1: `start`, `text-start`, `text-delta`...,
    `text-end`, `message-metadata` (model, TTFT, tokens/s, usage, cost), firsttoken's extras as
    `data-cache`, `data-route` and `data-fallback`, `finish` (our summary as `messageMetadata`),
    or `error`; then `[DONE]`.

    Thinking is `reasoning-start|delta|end`, the signature in `providerMetadata.anthropic` as the
    AI SDK's Anthropic provider keeps it (so a later request can send it back); tool calls are
    `tool-input-start|delta|available`, a server tool's result `tool-output-available`, and
    citations `source-url` (web results) or `source-document` (sent documents).

    `version` is the AI SDK major of the client: a call waiting for approval is
    `tool-approval-request` from 6 on (`data-tool-approval` for 5), and an answer that restarts on
    a fallback model is `reset-step` on 7 (an older client gets the old text part ended and a
    `data-reset` part before the new one: an app drops what came before it). `message_id` names
    the message a resumed turn continues (the AI SDK's last assistant message)."""

    name = "ai-sdk"
    media_type = "text/event-stream; charset=utf-8"
    stateful = True
    headers = (*STREAM_HEADERS, ("x-vercel-ai-ui-message-stream", "v1"))

    def __init__(self, version: str = AISDK_PROTOCOLS[-1], message_id: str | None = None) -> None:
        if version not in AISDK_PROTOCOLS:
            raise ValueError(f"AI SDK protocol {version!r}: supported are {', '.join(AISDK_PROTOCOLS)}")
        self.version = int(version)
        self._continues = message_id
        self._message_id = f"msg_{uuid.uuid4().hex}"
        self._text_id = "text-0"
        self._text_open = False
        self._texts = 0
        # The bytes before a `text-delta`'s text, for the text part open now.
        self._delta = b""

    @staticmethod
    def _part(part: Mapping[str, Any]) -> bytes:
        return b"data: " + _dumps(part).encode() + b"\n\n"

    def start(self, response_id: str | None = None) -> bytes:
        # The response id is the message's id: the AI SDK resumes it by the chat's id, and a
        # resumed stream's `start` names the same message as the first one did.
        if self._continues is not None:
            self._message_id = self._continues
        elif response_id is not None:
            self._message_id = response_id
        return self._part({"type": "start", "messageId": self._message_id}) + self._part(
            {"type": "start-step"}
        )

    def token(self, text: str) -> bytes:
        # Encoded first: a text that cannot be (a lone surrogate) raises before the part opens.
        encoded = _string(text).encode()
        if self._text_open:
            return self._delta + encoded + b"}\n\n"
        self._text_open = True
        self._delta = b'data: {"type":"text-delta","id":' + _string(self._text_id).encode() + b',"delta":'
        return self._part({"type": "text-start", "id": self._text_id}) + self._delta + encoded + b"}\n\n"

    def _close_text(self) -> bytes:
        if not self._text_open:
            return b""
        self._text_open = False
        self._texts += 1
        end = self._part({"type": "text-end", "id": self._text_id})
        self._text_id = f"text-{self._texts}"
        return end

    def event(self, event: StreamEvent) -> bytes:
        # An agent turn's model calls are the AI SDK's steps; the first one opened with `start`.
        if isinstance(event, StepFinish):
            return self._close_text() + self._part({"type": "finish-step"})
        if isinstance(event, StepStart):
            return self._part({"type": "start-step"})
        if isinstance(event, Reset):
            return self._reset(event)
        if isinstance(event, ApprovalRequest):
            return self._approval(event)
        part = _ai_sdk_part(event)
        if part is None:
            return b""
        # Text after a thinking block or a tool call is a new text part, as `useChat` shows it.
        before = self._close_text() if part["type"] in _NEW_PART else b""
        if isinstance(event, ThinkingEnd) and event.redacted is not None:
            return before + self._part({"type": "reasoning-start", "id": part["id"]}) + self._part(part)
        return before + self._part(part)

    def object(self, partial: Any) -> bytes:
        # One data part, replaced in the message by each next one of the same id (the AI SDK's
        # reconciliation of `data-*` parts), so the message ends holding the checked object.
        return b'data: {"type":"data-object","id":"object","data":' + _dumps(partial).encode() + b"}\n\n"

    def _reset(self, event: Reset) -> bytes:
        data = {"reason": event.reason, "model": event.model}
        if self.version >= 7:
            # The client drops the step's parts itself, the open text part with them.
            self._text_open = False
            self._texts += 1
            self._text_id = f"text-{self._texts}"
            return self._part({"type": "reset-step"}) + self._part({"type": "data-reset", "data": data})
        return self._close_text() + self._part({"type": "data-reset", "data": data})

    def _approval(self, event: ApprovalRequest) -> bytes:
        if self.version >= 6:
            # The call's id is its approval's: the answer names the call it lets run.
            part = {"type": "tool-approval-request", "approvalId": event.id, "toolCallId": event.id}
            return self._part(part)
        data = {"id": event.id, "name": event.name, "input": event.input}
        return self._part({"type": "data-tool-approval", "id": event.id, "data": data})

    def done(self, summary: Mapping[str, Any]) -> bytes:
        finish: dict[str, Any] = {"type": "finish", "messageMetadata": dict(summary)}
        reason = _FINISH_REASONS.get(str(summary.get("stop_reason")))
        if reason is not None:
            finish["finishReason"] = reason
        return (
            self._close_text()
            + (self.object(summary["object"]) if "object" in summary else b"")
            + self._part({"type": "message-metadata", "messageMetadata": message_metadata(summary)})
            + b"".join(self._part(part) for part in extras(summary))
            + self._part({"type": "finish-step"})
            + self._part(finish)
            + b"data: [DONE]\n\n"
        )

    def error(self, type: str, message: str) -> bytes:
        return self._part({"type": "error", "errorText": f"{type}: {message}"}) + b"data: [DONE]\n\n"

    def heartbeat(self) -> bytes:
        return b": ping\n\n"


# The API's stop reasons as the AI SDK's finish reasons (the values every supported client takes).
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool-calls",
    "refusal": "content-filter",
    "pause_turn": "other",
}


def message_metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The answer's `message-metadata`: model, time to first token, tokens/s, usage, and its cost
    when the summary has one."""
    out = {key: summary.get(key) for key in ("model", "ttft_ms", "tps", "usage")}
    if summary.get("cost_usd") is not None:
        out["cost_usd"] = summary["cost_usd"]
    # Always there: the client merges metadata into the message a resumed turn continues, and an
    # answered approval must not look pending still.
    out["awaiting_approval"] = list(summary.get("awaiting_approval") or ())
    return out


def extras(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """firsttoken's own facts of the answer as typed `data-*` parts: the prompt cache always, the
    route when the call was routed, the fallback when another model served. Transient: `useChat`
    hands them to `onData` and keeps them out of the message (and out of what it sends back)."""
    usage = summary.get("usage") or {}
    cache = {
        "read": int(usage.get("cache_read_input_tokens") or 0),
        "written": int(usage.get("cache_creation_input_tokens") or 0),
    }
    route = {"route": summary.get("route"), "classify_ms": summary.get("classify_ms")}
    fallback = {key: summary.get(key) for key in ("served_by", "fallbacks", "retries")}
    parts = [
        ("cache", cache),
        *([("route", route)] if summary.get("route") else []),
        *([("fallback", fallback)] if summary.get("fallbacks") else []),
    ]
    return [{"type": f"data-{name}", "data": data, "transient": True} for name, data in parts]


_NEW_PART = frozenset({"reasoning-start", "tool-input-start", "tool-output-available", "tool-output-error"})


def _ai_sdk_part(event: StreamEvent) -> dict[str, Any] | None:
    if isinstance(event, ThinkingStart):
        return {"type": "reasoning-start", "id": f"reasoning-{event.index}"}
    if isinstance(event, ThinkingDelta):
        return {"type": "reasoning-delta", "id": f"reasoning-{event.index}", "delta": event.text}
    if isinstance(event, ThinkingEnd):
        anthropic = (
            {"redactedData": event.redacted} if event.redacted is not None else {"signature": event.signature}
        )
        return {
            "type": "reasoning-end",
            "id": f"reasoning-{event.index}",
            "providerMetadata": {"anthropic": anthropic},
        }
    executed = {"providerExecuted": True} if getattr(event, "server", False) else {}
    if isinstance(event, ToolInputStart):
        return {"type": "tool-input-start", "toolCallId": event.id, "toolName": event.name, **executed}
    if isinstance(event, ToolInputDelta):
        return {"type": "tool-input-delta", "toolCallId": event.id, "inputTextDelta": event.delta}
    if isinstance(event, ToolCall):
        return {
            "type": "tool-input-available",
            "toolCallId": event.id,
            "toolName": event.name,
            "input": event.input,
            **executed,
            **(
                {"providerMetadata": {"anthropic": {"mcpServerName": event.server_name}}}
                if event.server_name is not None
                else {}
            ),
        }
    if isinstance(event, ToolResult) and event.is_error:
        return {
            "type": "tool-output-error",
            "toolCallId": event.tool_use_id,
            "errorText": _error_text(event.content),
            "providerExecuted": True,
        }
    if isinstance(event, ToolResult):
        return {
            "type": "tool-output-available",
            "toolCallId": event.tool_use_id,
            "output": event.content,
            "providerExecuted": True,
        }
    if isinstance(event, ToolOutput):
        if event.is_error:
            return {"type": "tool-output-error", "toolCallId": event.id, "errorText": str(event.output)}
        return {"type": "tool-output-available", "toolCallId": event.id, "output": event.output}
    if isinstance(event, Citation):
        return _source(event)
    if isinstance(event, Compaction):
        # A data part of the AI SDK's own kind: `useChat` keeps it in the message's parts.
        return {"type": "data-compaction", "data": {"summary": event.summary}}
    return None


def _error_text(content: Any) -> str:
    """A failed server tool's reason: its error code, or an MCP result's text."""
    if isinstance(content, dict) and content.get("error_code"):
        return str(content["error_code"])
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict)) or "error"
    return str(content)


def _source(event: Citation) -> dict[str, Any]:
    cite = event.citation
    where = cite.get("start_char_index", cite.get("start_page_number", cite.get("url", "")))
    source_id = f"source-{event.index}-{where}"
    meta = {"anthropic": {"citedText": cite.get("cited_text")}}
    if cite.get("url"):
        return {
            "type": "source-url",
            "sourceId": source_id,
            "url": cite["url"],
            "title": cite.get("title") or cite["url"],
            "providerMetadata": meta,
        }
    title = cite.get("document_title") or f"document {cite.get('document_index', 0)}"
    # Only a PDF is cited by pages; text and custom-content documents by characters and blocks.
    pdf = cite.get("type") == "page_location"
    meta["anthropic"].update(
        (camel, cite[key]) for key, camel in _LOCATION.items() if key in cite and cite[key] is not None
    )
    return {
        "type": "source-document",
        "sourceId": source_id,
        "mediaType": "application/pdf" if pdf else "text/plain",
        "title": title,
        "providerMetadata": meta,
    }


_LOCATION = {
    "document_index": "documentIndex",
    "start_page_number": "startPageNumber",
    "end_page_number": "endPageNumber",
    "start_char_index": "startCharIndex",
    "end_char_index": "endCharIndex",
}


FORMATS: dict[str, type[WireFormat]] = {f.name: f for f in (SSEFormat, NDJSONFormat, TextFormat, AISDKFormat)}


def get_format(name: str, *, aisdk: str = AISDK_PROTOCOLS[-1], message_id: str | None = None) -> WireFormat:
    """A new format by name; `aisdk` and `message_id` are the AI SDK format's (see `AISDKFormat`)."""
    if name == AISDKFormat.name:
        return AISDKFormat(aisdk, message_id)
    try:
        return FORMATS[name]()
    except KeyError:
        raise ValueError(f"unknown wire format {name!r}; formats are {', '.join(FORMATS)}") from None
