"""Browser-facing wire formats: how text deltas, the summary and errors are written to the response.

Each format turns relay moments into bytes; adapters only move those bytes. `sse` is the default;
`ai-sdk` speaks the Vercel AI SDK UI message stream protocol v1, so `useChat` front ends work as is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["FORMATS", "AISDKFormat", "NDJSONFormat", "SSEFormat", "TextFormat", "WireFormat", "get_format"]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# Proxies (nginx) buffer responses unless told not to; a cached stream would replay an old answer.
STREAM_HEADERS: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"), ("X-Accel-Buffering", "no"))


class WireFormat:
    name = ""
    media_type = ""
    headers: tuple[tuple[str, str], ...] = STREAM_HEADERS

    def start(self) -> bytes:
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


class SSEFormat(WireFormat):
    """`event: token` / `event: done` / `event: error`, with `: ping` comments as heartbeats."""

    name = "sse"
    media_type = "text/event-stream; charset=utf-8"

    def token(self, text: str) -> bytes:
        return b"event: token\ndata: " + _dumps({"text": text}).encode() + b"\n\n"

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return b"event: done\ndata: " + _dumps(summary).encode() + b"\n\n"

    def error(self, type: str, message: str) -> bytes:
        return b"event: error\ndata: " + _dumps({"type": type, "message": message}).encode() + b"\n\n"

    def heartbeat(self) -> bytes:
        return b": ping\n\n"


class NDJSONFormat(WireFormat):
    """One JSON object a line: `{"type": "token", "text": ...}`, then `done` or `error`."""

    name = "ndjson"
    media_type = "application/x-ndjson"

    def token(self, text: str) -> bytes:
        return _dumps({"type": "token", "text": text}).encode() + b"\n"

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return _dumps({"type": "done", **summary}).encode() + b"\n"

    def error(self, type: str, message: str) -> bytes:
        return _dumps({"type": "error", "error": {"type": type, "message": message}}).encode() + b"\n"

    def heartbeat(self) -> bytes:
        return b'{"type":"ping"}\n'


class TextFormat(WireFormat):
    """Plain chunked text. It has no room for a summary; an error after the first token is appended
    as a last line starting `[error]`, since a status code can no longer change."""

    name = "text"
    media_type = "text/plain; charset=utf-8"

    def start(self) -> bytes:
        return b""

    def token(self, text: str) -> bytes:
        return text.encode()

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return b""

    def error(self, type: str, message: str) -> bytes:
        return f"\n[error] {type}: {message}\n".encode()


class AISDKFormat(WireFormat):
    """Vercel AI SDK UI message stream protocol v1: `start`, `text-start`, `text-delta`...,
    `text-end`, `finish` (our summary as `messageMetadata`), or `error`; then `[DONE]`."""

    name = "ai-sdk"
    media_type = "text/event-stream; charset=utf-8"
    headers = (*STREAM_HEADERS, ("x-vercel-ai-ui-message-stream", "v1"))

    def __init__(self) -> None:
        self._message_id = f"msg_{uuid.uuid4().hex}"
        self._text_id = "text-0"
        self._text_open = False

    @staticmethod
    def _part(part: Mapping[str, Any]) -> bytes:
        return b"data: " + _dumps(part).encode() + b"\n\n"

    def start(self) -> bytes:
        return self._part({"type": "start", "messageId": self._message_id}) + self._part(
            {"type": "start-step"}
        )

    def token(self, text: str) -> bytes:
        delta = self._part({"type": "text-delta", "id": self._text_id, "delta": text})
        if self._text_open:
            return delta
        self._text_open = True
        return self._part({"type": "text-start", "id": self._text_id}) + delta

    def _close_text(self) -> bytes:
        if not self._text_open:
            return b""
        self._text_open = False
        return self._part({"type": "text-end", "id": self._text_id})

    def done(self, summary: Mapping[str, Any]) -> bytes:
        return (
            self._close_text()
            + self._part({"type": "finish-step"})
            + self._part({"type": "finish", "messageMetadata": dict(summary)})
            + b"data: [DONE]\n\n"
        )

    def error(self, type: str, message: str) -> bytes:
        return self._part({"type": "error", "errorText": f"{type}: {message}"}) + b"data: [DONE]\n\n"

    def heartbeat(self) -> bytes:
        return b": ping\n\n"


FORMATS: dict[str, type[WireFormat]] = {f.name: f for f in (SSEFormat, NDJSONFormat, TextFormat, AISDKFormat)}


def get_format(name: str) -> WireFormat:
    try:
        return FORMATS[name]()
    except KeyError:
        raise ValueError(f"unknown wire format {name!r}; formats are {', '.join(FORMATS)}") from None
