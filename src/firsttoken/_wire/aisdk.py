"""The Vercel AI SDK's UI message stream (protocol v1) as a wire format, for `useChat` front ends.

Stateful where the others are not: a text, reasoning or tool part opens, takes deltas and closes,
so an event's bytes depend on what was written before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .._events import (
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
from .._settings import AISDK_PROTOCOLS
from .formats import STREAM_HEADERS, WireFormat, dumps, json_string

__all__ = ["AISDKFormat", "extras", "message_metadata"]


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
        return b"data: " + dumps(part).encode() + b"\n\n"

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
        encoded = json_string(text).encode()
        if self._text_open:
            return self._delta + encoded + b"}\n\n"
        self._text_open = True
        self._delta = b'data: {"type":"text-delta","id":' + json_string(self._text_id).encode() + b',"delta":'
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
        return b'data: {"type":"data-object","id":"object","data":' + dumps(partial).encode() + b"}\n\n"

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
