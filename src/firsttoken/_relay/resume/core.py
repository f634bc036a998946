"""A resumed answer apart from its I/O: what it follows, how far it got, its response's start."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..._heartbeat import Heartbeat
from ..._statuses import RelayStart
from ..._wire import get_format
from .protocol import LOST, stamp

if TYPE_CHECKING:
    from ..._state.streams import Entry, RedisStreams

__all__ = ["ResumedCore"]


class ResumedCore:
    """The state the sync and async follows share (`_async/follow.py`, its twin generated)."""

    def __init__(
        self, store: RedisStreams, rid: str, fmt: str, after: int, *, grace: float, heartbeat_interval: float
    ) -> None:
        self.store = store
        self.response_id = rid
        self.format = get_format(fmt)
        self.after = after
        self.grace = grace
        self.grace_ms = max(1, int(grace * 1000))
        self.heartbeat_interval = heartbeat_interval
        self.closed = False
        self.start = RelayStart(
            200,
            [
                ("Content-Type", self.format.media_type),
                *self.format.headers,
                ("X-Response-Id", rid),
            ],
        )

    def heartbeat(self, *, clock: Any = time.monotonic) -> Heartbeat:
        return Heartbeat(self.format.heartbeat(), self.heartbeat_interval, clock=clock)

    def _lost_entries(self) -> tuple[bytes, list[Entry]]:
        """The error a resumer reports for a producer that died, and the entries that write it to
        the stream as well (the end marker included), so every resumer reads the same."""
        out, entries, seq = stamp(self.format.error(*LOST), self.after)
        return out, [*entries, (seq + 1, None)]

    def _joined(self, entries: list[Entry]) -> tuple[bytes, bool]:
        """The bytes of `entries` up to the answer's end marker (None), and whether it came;
        `after` moves past each entry taken."""
        out: list[bytes] = []
        for seq, data in entries:
            if data is None:
                return b"".join(out), True
            out.append(data)
            self.after = seq
        return b"".join(out), False
