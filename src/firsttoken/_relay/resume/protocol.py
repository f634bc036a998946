"""The rules of a resumable answer, no I/O: which formats resume, which ids are valid, how events
are numbered (their SSE `id:` lines), what `Last-Event-ID` may say, and why an answer ended."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..._state.keys import digest

if TYPE_CHECKING:
    from ..._state.streams import Entry

__all__ = [
    "ABANDONED",
    "LOST",
    "RESUMABLE_FORMATS",
    "STOPPED",
    "owner_digest",
    "parse_last_event_id",
    "resume_request",
    "stamp",
    "valid_chat_id",
    "valid_id",
]

# Formats whose events can carry an `id:` line: the SSE ones.
RESUMABLE_FORMATS = frozenset({"sse", "ai-sdk"})
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A chat id is the client's own (the AI SDK's `useChat` makes one); anything printable and short.
_CHAT_ID = re.compile(r"[\x21-\x7e]{1,128}")

# Why an answer ended early: the error event's type and message.
STOPPED = ("stopped", "the answer was stopped")
ABANDONED = ("abandoned", "nobody was reading the answer, so it was stopped")
LOST = ("interrupted", "the worker producing this answer stopped before it ended; ask again")


def valid_id(rid: str) -> bool:
    return _ID.fullmatch(rid) is not None


def valid_chat_id(chat_id: str) -> bool:
    return _CHAT_ID.fullmatch(chat_id) is not None


def owner_digest(owner: str | None) -> str:
    # Digested so no session id or cookie reaches Redis; "" is the answer of a request with no owner.
    return digest(f"firsttoken-owner\0{owner or ''}")


def parse_last_event_id(value: str | None) -> int:
    """The `Last-Event-ID` header as the number of the last event seen (0: none); ValueError if bad."""
    if value is None or not value.strip():
        return 0
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ValueError("Last-Event-ID must be the number of an event of this stream")
    return int(text)


def resume_request(last_event_id: str | None, protocols: Sequence[str]) -> tuple[int, bool]:
    """A resume request's `Last-Event-ID` and `?protocol=`: the last event seen, and whether the id
    asked for is a chat's (the AI SDK's); ValueError, with what to tell the client, if bad."""
    protocol = protocols[-1] if protocols else ""
    if protocol not in ("", "sse", "ai-sdk"):
        raise ValueError(f"unknown protocol {protocol[:40]!r}; use 'ai-sdk' or leave it out")
    return parse_last_event_id(last_event_id), protocol == "ai-sdk"


def stamp(chunk: bytes, seq: int) -> tuple[bytes, list[Entry], int]:
    """`chunk`'s event blocks each given the next number as its `id:` line (comment blocks, the
    heartbeats, pass unnumbered and unstored): the client's bytes, the entries, the last number."""
    end = chunk.find(b"\n\n")
    if end == len(chunk) - 2:  # one block: nearly every token
        if chunk.startswith(b":"):
            return chunk, [], seq
        seq += 1
        block = b"id: %d\n" % seq + chunk
        return block, [(seq, block)], seq
    out: list[bytes] = []
    entries: list[Entry] = []
    for part in chunk.split(b"\n\n"):
        if not part:
            continue
        if part.startswith(b":"):
            out.append(part + b"\n\n")
            continue
        seq += 1
        block = b"id: %d\n" % seq + part + b"\n\n"
        out.append(block)
        entries.append((seq, block))
    return b"".join(out), entries, seq
