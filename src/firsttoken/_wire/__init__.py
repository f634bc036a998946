"""Browser-facing wire formats: how text deltas, the other stream events, the summary and errors
are written to the response.

Each format turns relay moments into bytes; adapters only move those bytes. `sse` is the default;
`ai-sdk` speaks the Vercel AI SDK UI message stream protocol v1, so `useChat` front ends work as is.
Text takes `token()`, the hot path; every other kind of event (thinking, tool calls, citations,
server tool results) takes `event()`, typed by `_events.EventReader`.

`formats` holds the base `WireFormat` and the plain formats, `aisdk` the AI SDK's stream; here is
the table of them by name.
"""

from __future__ import annotations

from .._settings import AISDK_PROTOCOLS
from .aisdk import AISDKFormat, extras, message_metadata
from .formats import STREAM_HEADERS, NDJSONFormat, SSEFormat, TextFormat, WireFormat, contract_event

__all__ = [
    "AISDK_PROTOCOLS",
    "FORMATS",
    "STREAM_HEADERS",
    "AISDKFormat",
    "NDJSONFormat",
    "SSEFormat",
    "TextFormat",
    "WireFormat",
    "contract_event",
    "extras",
    "get_format",
    "message_metadata",
]

FORMATS: dict[str, type[WireFormat]] = {f.name: f for f in (SSEFormat, NDJSONFormat, TextFormat, AISDKFormat)}


def get_format(name: str, *, aisdk: str = AISDK_PROTOCOLS[-1], message_id: str | None = None) -> WireFormat:
    """A new format by name; `aisdk` and `message_id` are the AI SDK format's (see `AISDKFormat`)."""
    if name == AISDKFormat.name:
        return AISDKFormat(aisdk, message_id)
    try:
        return FORMATS[name]()
    except KeyError:
        raise ValueError(f"unknown wire format {name!r}; formats are {', '.join(FORMATS)}") from None
