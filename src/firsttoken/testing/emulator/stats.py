"""Counters behind `/_emulator/stats`, shared by the server thread and in-process readers."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

__all__ = ["Stats"]


class Stats:
    def __init__(self, log_size: int) -> None:
        self._lock = threading.Lock()
        self._log_size = log_size
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.requests_total = 0
            self.by_model: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.by_path: Counter[str] = Counter()
            self.output_tokens = 0
            self.output_tokens_after_disconnect = 0
            self.cache_read_tokens = 0
            self.cache_write_tokens = 0
            self.streams_open = 0
            self.disconnects = 0
            self.log: deque[dict[str, Any]] = deque(maxlen=self._log_size)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests_total += 1
            if entry.get("model"):
                self.by_model[str(entry["model"])] += 1
            self.by_status[str(entry["status"])] += 1
            self.by_path[str(entry.get("path"))] += 1
            self.log.append(entry)

    def add_tokens(self, tokens: int, *, after_disconnect: bool) -> None:
        with self._lock:
            self.output_tokens += tokens
            if after_disconnect:
                self.output_tokens_after_disconnect += tokens

    def add_cache(self, read: int, written: int) -> None:
        with self._lock:
            self.cache_read_tokens += read
            self.cache_write_tokens += written

    def stream_opened(self) -> None:
        with self._lock:
            self.streams_open += 1

    def stream_closed(self, *, disconnected: bool) -> None:
        with self._lock:
            self.streams_open -= 1
            self.disconnects += int(disconnected)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests_total": self.requests_total,
                "requests_by_model": dict(self.by_model),
                "requests_by_status": dict(self.by_status),
                "requests_by_path": dict(self.by_path),
                "output_tokens": self.output_tokens,
                "output_tokens_after_disconnect": self.output_tokens_after_disconnect,
                "cache_read_input_tokens": self.cache_read_tokens,
                "cache_creation_input_tokens": self.cache_write_tokens,
                "streams_open": self.streams_open,
                "client_disconnects": self.disconnects,
                "recent_requests": list(self.log),
            }
