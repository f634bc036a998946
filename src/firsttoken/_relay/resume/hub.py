"""The resume hub: this process's producers, and the one thread that keeps them.

One `ResumeHub` per engine keeps this process's producers (`producers.py`) and one daemon thread
that, every `TICK`, renews their leases, polls their stop keys and cancels those nobody has read
for `resume_grace` seconds, all in one pipelined round trip. It builds the `ResumedStream` a
follower reads (`stream.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

from ..._threads import Daemon
from ..._wire import WireFormat
from .producers import Answer, Producer, TaskProducer, ThreadProducer
from .protocol import ABANDONED, STOPPED, owner_digest, valid_chat_id
from .stream import ResumedStream

if TYPE_CHECKING:
    # Typing only: redis-py is imported when an engine with Redis builds its store, never here.
    from ..._settings import Settings
    from ..._state.streams import RedisStreams

__all__ = ["TICK", "ResumeHub"]

logger = logging.getLogger("firsttoken.resume")

# How often the hub polls stops: a stop from another worker lands within this plus one event.
# One pipelined round trip per tick per process, only while it produces answers.
TICK = 0.025


class ResumeHub:
    """This process's producers, and the thread that keeps their leases, stops and grace."""

    def __init__(
        self, store: RedisStreams, settings: Settings, *, resumed: Callable[[], None] = lambda: None
    ) -> None:
        self.store = store
        # Counts each answer a client resumed (the metrics' `firsttoken.streams.resumed`).
        self._resumed = resumed
        self.settings = settings
        self.grace = settings.resume_grace
        self._producers: dict[str, Producer] = {}
        self._lock = threading.Lock()
        self._daemon = Daemon(self._run, name="firsttoken-resume")

    # -- producing ----------------------------------------------------------------------------

    def produce(
        self,
        chunks: Iterator[bytes] | AsyncIterator[bytes],
        rid: str,
        fmt: WireFormat,
        owner: str | None,
        chat_id: str | None,
    ) -> Producer:
        """Hand a relay's own bytes (`chunks`) to a producer that reads them to the end: a task on
        the running loop for an async relay's, a thread of its own for a sync relay's."""
        owner_key = owner_digest(owner)
        answer = Answer(self.store, rid, fmt, owner_key, self._chat_key(owner_key, chat_id), self.remove)
        producer: Producer
        if isinstance(chunks, AsyncIterator):
            producer = TaskProducer(chunks, answer)
        else:
            producer = ThreadProducer(chunks, answer)
        with self._lock:
            self._producers[rid] = producer
        # Started once the hub knows it, so its end (which removes it) cannot come first.
        producer.start()
        self._daemon.start()
        self._daemon.wake()
        return producer

    def _chat_key(self, owner_key: str, chat_id: str | None) -> str | None:
        if chat_id is None or not valid_chat_id(chat_id):
            return None
        return self.store.chat_key(owner_key, chat_id)

    def remove(self, producer: Producer) -> None:
        with self._lock:
            if self._producers.get(producer.rid) is producer:
                del self._producers[producer.rid]

    def _run(self) -> None:
        renewed = 0.0
        stopping = self._daemon.stopping
        while not stopping.is_set():
            with self._lock:
                live = [p for p in self._producers.values() if not p.ended]
            if not live:
                self._daemon.idle(1.0)
                continue
            # A tick first: a new answer's first token goes out before this thread takes the GIL.
            if stopping.wait(TICK):
                return
            now = time.monotonic()
            due = now - renewed > self.store.lease_seconds / 3
            renew = [p.rid for p in live if not p.broken] if due else []
            idle = [p.rid for p in live if p.detached_at is not None and now - p.detached_at > self.grace]
            try:
                stopped, attended = self.store.poll(renew, [p.rid for p in live], idle)
            except Exception as exc:  # Redis away: try again next tick; leases may lapse meanwhile
                logger.debug("firsttoken: resume poll failed: %s", type(exc).__name__)
                stopping.wait(TICK * 10)
                continue
            if renew:
                renewed = now
            for producer in live:
                if producer.rid in stopped:
                    producer.cancel(STOPPED)
                elif producer.rid in idle and producer.rid not in attended:
                    producer.cancel(ABANDONED)

    # -- stopping and resuming: the I/O is the handle's (`_relay/_async/resuming.py`) --------

    def stopped(self, rid: str, owner_key: str) -> None:
        """The answer `rid` of `owner_key` was stopped: if it is produced here, it ends now."""
        with self._lock:
            producer = self._producers.get(rid)
        if producer is not None and producer.owner == owner_key:
            producer.cancel(STOPPED)

    def resumed(
        self, rid: str, fmt: str, ended: int | None, *, after: int, chat: bool
    ) -> ResumedStream | None:
        """The answer `rid` (in format `fmt`, and `ended` at that event when it did) to follow after
        event `after`, or None when there is nothing to resume."""
        # Finished, and the client has every event but the end marker: nothing to resume. The AI
        # SDK asks by chat id whenever a page loads: only an answer still going is resumed then.
        if ended is not None and (chat or after >= ended - 1):
            return None
        self._resumed()
        return ResumedStream(
            self.store,
            rid,
            fmt,
            after,
            grace=self.grace,
            heartbeat_interval=self.settings.heartbeat_interval,
        )

    def close(self) -> None:
        self._daemon.close()
        self.store.close()
