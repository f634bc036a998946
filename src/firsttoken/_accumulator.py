"""Folds stream events (plain dicts) into the final message, exactly as the SDK's helper does."""

from __future__ import annotations

from typing import Any

from anthropic.types import Message
from jiter import from_json

from ._errors import UpstreamFailure

__all__ = ["MessageAccumulator"]

_TRACKS_INPUT = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


class MessageAccumulator:
    """Keeps the message snapshot as a dict; the pydantic `Message` is built once, on request."""

    __slots__ = ("_json", "done", "message")

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self._json: dict[int, list[str]] = {}
        self.done = False

    def feed(self, event: str, data: Any) -> str | None:
        """Apply one event; returns the text it adds to the answer, if any."""
        if event == "content_block_delta":
            delta = data["delta"]
            kind = delta["type"]
            block = self._snapshot()["content"][data["index"]]
            if kind == "text_delta":
                text: str = delta["text"]
                if block["type"] == "text":
                    block["text"] += text
                return text
            if kind == "input_json_delta":
                if block["type"] in _TRACKS_INPUT:
                    self._json.setdefault(data["index"], []).append(delta["partial_json"])
            elif kind == "thinking_delta":
                if block["type"] == "thinking":
                    block["thinking"] += delta["thinking"]
            elif kind == "signature_delta":
                if block["type"] == "thinking":
                    block["signature"] = delta["signature"]
            elif kind == "compaction_delta" and block["type"] == "compaction":
                # Sent back verbatim on the next turn: every field the delta set, as it set it.
                block.update({k: v for k, v in delta.items() if k != "type" and v is not None})
            elif kind == "citations_delta" and block["type"] == "text":
                block.setdefault("citations", None)
                block["citations"] = [*(block["citations"] or []), delta["citation"]]
            return None
        if event == "message_start":
            self.message = dict(data["message"])
            self.message["content"] = list(self.message.get("content") or [])
            self.message["usage"] = dict(self.message.get("usage") or {})
        elif event == "content_block_start":
            self._snapshot()["content"].append(dict(data["content_block"]))
        elif event == "content_block_stop":
            parts = self._json.pop(data["index"], None)
            if parts is not None:
                joined = "".join(parts)
                self._snapshot()["content"][data["index"]]["input"] = (
                    from_json(joined.encode(), partial_mode=True) if joined else {}
                )
        elif event == "message_delta":
            message = self._snapshot()
            delta = data["delta"]
            message["stop_reason"] = delta.get("stop_reason")
            message["stop_sequence"] = delta.get("stop_sequence")
            message["stop_details"] = delta.get("stop_details")
            if delta.get("container") is not None:
                message["container"] = delta["container"]
            usage = message["usage"]
            # Cumulative totals: they overwrite, and an omitted optional count keeps message_start's.
            for key, value in data.get("usage", {}).items():
                if value is not None or key == "output_tokens":
                    usage[key] = value
        elif event == "message_stop":
            self.done = True
        elif event == "error":
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise UpstreamFailure(str(error.get("type", "api_error")), str(error.get("message", data)))
        return None

    def _snapshot(self) -> dict[str, Any]:
        if self.message is None:
            raise RuntimeError('unexpected event order: a stream event before "message_start"')
        return self.message

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.message["usage"]) if self.message else {}

    def build(self) -> Message:
        """The SDK's `Message` for what arrived so far, built the way its own stream helper builds it."""
        return Message.construct(**self._snapshot())
