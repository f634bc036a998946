"""Identical requests in flight at the same moment, each given its own latency draw.

The emulator draws a request's text and pace from its content (`textgen.request_rng`), so a test
that repeats a request meets the same answer at the same pace, and a benchmark's two policies meet
the same draws. The real API draws each arrival's wait on its own: two identical requests sent
together (a hedge and its original, a double submit) wait independently of each other. A copy
that arrives while an identical request is still in flight therefore takes the lowest free copy
number, and each number past 0 is its own draw from the same distribution; once the first has
finished, the next identical request is copy 0 again and repeats its draws.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Copies:
    """The copy numbers in use per logical request (thread-safe: the emulator may serve from
    several threads when embedded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: dict[str, set[int]] = {}

    @contextmanager
    def take(self, key: str) -> Iterator[int]:
        with self._lock:
            taken = self._taken.setdefault(key, set())
            n = next(i for i in range(len(taken) + 1) if i not in taken)
            taken.add(n)
        try:
            yield n
        finally:
            with self._lock:
                taken.discard(n)
                if not taken:
                    self._taken.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(t) for t in self._taken.values())
