"""Debug mode: ask the API why a conversation's turn missed the cache, and log its answer.

Each answer's message id is remembered under a fingerprint of the prompt that produced it. The
next turn of that conversation sends the same prompt plus the answer and a new user message, so
its first `len - 2` messages fingerprint to the previous turn's key (messages only); its request carries
`diagnostics: {"previous_message_id": ...}` and the API names what changed (system, tools, model,
messages) when the cache missed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from .estimate import canonical

__all__ = ["ConversationLog", "fingerprint"]

logger = logging.getLogger("firsttoken.caching")

MAX_CONVERSATIONS = 4096


def fingerprint(messages: Sequence[Any]) -> str:
    # Messages only: a changed system prompt, tool list or model is exactly what the API should
    # diagnose, so it must not make the turn look like a new conversation.
    h = hashlib.sha256()
    for message in messages:
        h.update(canonical(message).encode())
        h.update(b"\0")
    return h.hexdigest()


class ConversationLog:
    """A small LRU from conversation fingerprint to the last message id seen in it."""

    def __init__(self, size: int = MAX_CONVERSATIONS) -> None:
        self._size = size
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def previous(self, params: Mapping[str, Any]) -> str | None:
        messages = list(params.get("messages") or ())
        if len(messages) < 3:
            return None
        key = fingerprint(messages[:-2])
        with self._lock:
            found = self._ids.get(key)
            if found is not None:
                self._ids.move_to_end(key)
            return found

    def remember(self, params: Mapping[str, Any], message_id: str) -> None:
        key = fingerprint(list(params.get("messages") or ()))
        with self._lock:
            self._ids[key] = message_id
            self._ids.move_to_end(key)
            while len(self._ids) > self._size:
                self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


def report_miss(profile: str, diagnostics: Any, *, read: int, written: int) -> dict[str, Any] | None:
    """Log the API's `cache_miss_reason`, if it gave one; returns it."""
    if isinstance(diagnostics, Mapping):
        reason = diagnostics.get("cache_miss_reason")
    else:
        reason = getattr(diagnostics, "cache_miss_reason", None)
    if reason is None:
        return None
    if not isinstance(reason, Mapping):
        reason = reason.model_dump() if hasattr(reason, "model_dump") else {"type": str(reason)}
    logger.warning(
        "firsttoken: profile %r: cache miss in a continuing conversation (read %d, wrote %d tokens): %s",
        profile,
        read,
        written,
        dict(reason),
    )
    return dict(reason)
