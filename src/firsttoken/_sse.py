"""A lean decoder for the Messages API's server-sent events.

The SDK's `messages.stream()` helper builds a pydantic model per event and re-validates a snapshot
of the whole message on each one; for a relay that only forwards text that is most of the CPU a
token costs (see BENCHMARKS.md). This decoder yields `(event, data)` pairs of plain JSON, and
`_accumulator.py` folds them into the same `Message` the SDK would build (tests prove it equal).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jiter import from_json

__all__ = ["SSEDecoder"]


def _loads(payload: bytes) -> Any:
    # jiter (the SDK's own JSON parser) reads an event's data in a sixth of json.loads' time,
    # which is most of what parsing costs per token. What it refuses, json decides: a lone
    # surrogate escape (json accepts it) or invalid JSON (json's error is the one raised).
    try:
        return from_json(payload, cache_mode="keys")
    except ValueError:
        return json.loads(payload)


class SSEDecoder:
    """Feed it raw bytes in any chunking; it yields complete events as `(name, data)` pairs."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[str, Any]]:
        """The events that `chunk` completes, each parsed as it is taken.

        Where the events end is found first (a byte search each), so the decoder is ready for the
        next chunk whatever is taken of this one; the parsing waits for the taker. A chunk that
        holds the first token and the answer's end (short answers, a burst) hands the token on
        before the rest is parsed.
        """
        if b"\r" in chunk:
            # The spec allows CRLF and lone CR; the API sends LF. Normalising only when needed keeps
            # the common path free of a copy per chunk.
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + chunk if self._buffer else chunk
        ends = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            ends.append(end)
            start = end + 2
        self._buffer = buffer[start:]
        return _parsed(buffer, ends)

    @property
    def pending(self) -> bool:
        return bool(self._buffer.strip())


def _parsed(buffer: bytes, ends: list[int]) -> Iterator[tuple[str, Any]]:
    start = 0
    for end in ends:
        event = _parse_block(buffer[start:end])
        start = end + 2
        if event is not None:
            yield event


def _parse_block(block: bytes) -> tuple[str, Any] | None:
    # The API's every block is `event: <name>\ndata: <json>`: read as such with two searches, not
    # a split and a partition per line; anything else takes the spec's general reading.
    if block.startswith(b"event: "):
        end = block.find(b"\n")
        if end > 0 and block.startswith(b"data: ", end + 1) and block.find(b"\n", end + 1) < 0:
            name = block[7:end].decode()
            payload = block[end + 7 :]
            try:
                return name, _loads(payload)
            except ValueError:
                return name, payload.decode("utf-8", "replace")
    return _parse_fields(block)


def _parse_fields(block: bytes) -> tuple[str, Any] | None:
    """A block read field by field, as the SSE spec reads any block."""
    name = "message"
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line[0] == 58:  # b":" starts a comment
            continue
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"event":
            name = value.decode()
        elif field == b"data":
            data.append(value)
    if not data:
        return (name, None) if name != "message" else None
    payload = b"\n".join(data) if len(data) > 1 else data[0]
    try:
        return name, _loads(payload)
    except ValueError:
        return name, payload.decode("utf-8", "replace")
