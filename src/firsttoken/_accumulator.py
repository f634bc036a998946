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

    __slots__ = ("_json", "_message", "_text", "done")

    def __init__(self) -> None:
        self._message: dict[str, Any] | None = None
        self._json: dict[int, list[str]] = {}
        # A text block's deltas, joined when the message is read: adding each to the block's text
        # copied the whole text so far, per event (BENCHMARKS.md, SDK versions).
        self._text: dict[int, list[str]] = {}
        self.done = False

    @property
    def message(self) -> dict[str, Any] | None:
        """The message so far (plain JSON), its text blocks whole."""
        if self._text:
            self._join_text()
        return self._message

    def _join_text(self) -> None:
        assert self._message is not None
        content = self._message["content"]
        for index, parts in self._text.items():
            content[index]["text"] += "".join(parts)
        self._text = {}

    def feed(self, event: str, data: Any) -> str | None:
        """Apply one event; returns the text it adds to the answer, if any."""
        if event == "content_block_delta":
            delta = data["delta"]
            kind = delta["type"]
            index = data["index"]
            if kind == "text_delta":
                text: str = delta["text"]
                parts = self._text.get(index)
                if parts is not None:
                    parts.append(text)
                elif self._snapshot()["content"][index]["type"] == "text":
                    self._text[index] = [text]
                return text
            block = self._snapshot()["content"][index]
            if kind == "input_json_delta":
                if block["type"] in _TRACKS_INPUT:
                    self._json.setdefault(index, []).append(delta["partial_json"])
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
            message = self._message = dict(data["message"])
            message["content"] = list(message.get("content") or [])
            message["usage"] = dict(message.get("usage") or {})
            self._text = {}
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
        message = self.message
        if message is None:
            raise RuntimeError('unexpected event order: a stream event before "message_start"')
        return message

    @property
    def usage(self) -> dict[str, Any]:
        message = self._message
        return dict(message["usage"]) if message else {}

    def build(self) -> Message:
        """The SDK's `Message` for what arrived so far, built the way its own stream helper builds it."""
        return Message.construct(**self._snapshot())
