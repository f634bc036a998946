"""Resumable answers' producers: each iterates its relay to the end, whatever the connection does.

A `ThreadProducer` (sync servers) reads in a thread of its own, a `TaskProducer` (async ones) in a
task on the server's loop. Each event block gets the next number as its `id:` line and goes first
to the producer's own client (an in-process queue), then to the answer's Redis Stream, so Redis
adds no round trip before the first token. The two differ in how they wait (a thread blocks on
its Redis write; a task batches writes in a second task), so each is written for its own kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from queue import SimpleQueue
from typing import TYPE_CHECKING

from ..._heartbeat import HAND_OVER
from ..._threads import readers
from ..._wire import WireFormat
from .protocol import stamp

if TYPE_CHECKING:
    # Typing only: redis-py is imported when an engine with Redis builds its store, never here.
    from ..._state.streams import Begin, Entry, RedisStreams

__all__ = ["HANDED_OVER", "Answer", "Producer", "TaskProducer", "ThreadProducer"]

logger = logging.getLogger("firsttoken.resume")

# Events handed to a waiting client at once, with a switch to let it send: `start` and the first
# token (with the API's first `ping` between them, usually), as `_heartbeat` hands them over.
HANDED_OVER = 3
# Seconds the first Redis write waits for the first token before going out on its own (async).
FIRST_WRITE_DELAY = 0.002
# Events per Redis pipeline: a few milliseconds of packing at most.
WRITE_BATCH = 64
_END = None

Ended = Callable[["Producer"], None]


@dataclass(frozen=True, slots=True)
class Answer:
    """Which answer a producer produces (its response id, wire format, owner's digest and chat key),
    where it goes (`store`) and whom to tell once it ended (`ended_with`)."""

    store: RedisStreams
    rid: str
    format: WireFormat
    owner: str
    chat: str | None
    ended_with: Ended


class Producer:
    """What the sync and async producers share: numbering, the stop and the detach. Each is handed
    the relay's own bytes (`Relay._raw()` / `_araw()`) and the `Answer` they are."""

    def __init__(self, answer: Answer) -> None:
        self.store = answer.store
        self.rid = answer.rid
        self.format = answer.format
        self._ended_with = answer.ended_with
        self.seq = 0
        self._begin: Begin | None = (answer.owner, self.format.name, answer.chat)
        self.owner = answer.owner
        self.detached_at: float | None = None
        self.stop_reason: tuple[str, str] | None = None
        self.ended = False
        self.broken = False

    def start(self) -> None:
        raise NotImplementedError

    def detach(self) -> None:
        """The producer's own client went away: the grace period starts (idempotent)."""
        if self.detached_at is None:
            self.detached_at = time.monotonic()
            self._wake()

    def _wake(self) -> None:
        raise NotImplementedError

    def cancel(self, reason: tuple[str, str]) -> None:
        raise NotImplementedError

    def _stamp(self, chunk: bytes) -> tuple[bytes, list[Entry]]:
        out, entries, self.seq = stamp(chunk, self.seq)
        return out, entries

    def _take_begin(self) -> Begin | None:
        begin, self._begin = self._begin, None
        return begin

    def _failed(self, exc: Exception) -> None:
        # The answer goes on for its own client; only resuming it is lost.
        self.broken = True
        logger.warning("firsttoken: answer %s is no longer resumable: %s", self.rid, type(exc).__name__)


class ThreadProducer(Producer):
    """A sync relay iterated by a thread of its own: WSGI servers (Flask, Django, gunicorn gthread)."""

    def __init__(self, chunks: Iterator[bytes], answer: Answer) -> None:
        super().__init__(answer)
        self.queue: SimpleQueue[bytes | None] = SimpleQueue()
        self._chunks = chunks
        # While `_handing`, the server's thread sets `_taken` as it takes the event just queued.
        self._taken = threading.Event()
        self._handing = False

    def start(self) -> None:
        # On an idle reader thread when there is one, as the plain WSGI body is (`_threads.py`).
        readers.run(self._run)

    def _wake(self) -> None:
        # A body thread blocked on the queue must not wait for the next event to learn it is done.
        self.queue.put(_END)

    def cancel(self, reason: tuple[str, str]) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def _write(self, entries: list[Entry]) -> None:
        # In this thread, after the client's queue got the same bytes: the round trip delays the
        # next upstream read, not the client (against the API, a read that waits for the model).
        if self.broken or not entries:
            return
        try:
            self.store.append(self.rid, entries, self._take_begin())
        except Exception as exc:  # a Redis failure must not end the answer for its own client
            self._failed(exc)

    def _run(self) -> None:
        chunks, taken = self._chunks, self._taken
        try:
            for chunk in chunks:
                out, entries = self._stamp(chunk)
                if self.detached_at is None:
                    handing = self.seq <= HANDED_OVER
                    if handing:
                        # Cleared before the flag is raised: a late `set` for an earlier event can
                        # only end this wait early, never make it wait out its bound.
                        taken.clear()
                        self._handing = True
                    self.queue.put(out)
                    if handing:
                        # The server's thread is woken by the put but still needs the GIL, which
                        # this one would keep through its Redis write and the next parse: wait
                        # (at most the switch interval) until it has the event, as `_heartbeat`
                        # waits for the first token.
                        taken.wait(HAND_OVER)
                self._write(entries)
                if self.stop_reason is not None:
                    break
        except Exception as exc:
            logger.exception("firsttoken: answer %s failed", self.rid, exc_info=exc)
            self.stop_reason = self.stop_reason or ("internal_error", "the answer failed")
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self.ended = True
        if self.stop_reason is not None:
            out, entries = self._stamp(self.format.error(*self.stop_reason))
            self.queue.put(out)
            self._write(entries)
        self._write([(self.seq + 1, None)])
        if not self.broken:
            try:
                self.store.finish(self.rid)
            except Exception as exc:
                self._failed(exc)
        self.queue.put(_END)
        self._ended_with(self)

    def __iter__(self) -> Iterator[bytes]:
        queue, taken = self.queue, self._taken
        try:
            while True:
                item = queue.get()
                if self._handing:
                    self._handing = False
                    taken.set()
                if item is None:
                    return
                yield item
        finally:
            # The server closed the body (its client left): the grace period starts. After the
            # end this changes nothing.
            self.detach()


class TaskProducer(Producer):
    """An async relay iterated by a task on the server's loop: ASGI servers (Starlette, Django ASGI).

    Redis writes are a second task that takes whatever queued while the last write was out: one
    pipelined round trip for a burst of tokens, and never before the client's own send.
    """

    def __init__(self, chunks: AsyncIterator[bytes], answer: Answer) -> None:
        super().__init__(answer)
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pending: list[Entry] = []
        self._writer: asyncio.Task[None] | None = None
        self._first_write: asyncio.TimerHandle | None = None
        self._chunks = chunks
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = self.loop.create_task(self._run(self._chunks))

    def _wake(self) -> None:
        self.queue.put_nowait(_END)

    def cancel(self, reason: tuple[str, str]) -> None:
        # Called from the hub's thread: the task is cancelled on its loop, unless it already ended.
        def on_loop() -> None:
            if self.stop_reason is None and not self.ended and self.task is not None:
                self.stop_reason = reason
                self.task.cancel()

        # A closed loop took the task with it.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(on_loop)

    def _emit(self, chunk: bytes) -> bool:
        """Queue `chunk` for the client and for Redis; True when the client was waiting for it."""
        out, entries = self._stamp(chunk)
        waiting = False
        if self.detached_at is None:
            self.queue.put_nowait(out)
            # Only the first events: later ones may queue up and go out in fewer sends.
            waiting = self.seq <= HANDED_OVER and self.queue.qsize() == 1
        if entries and not self.broken:
            self._pending.extend(entries)
            if self.seq <= 1:
                # The first write (`start`, and the answer's keys) a moment later, unless the
                # first token comes first: no Redis work on the loop before the client has it,
                # and the answer resumable within milliseconds even when that token is slow.
                if self._first_write is None:
                    self._first_write = self.loop.call_later(FIRST_WRITE_DELAY, self._start_writer)
            else:
                self._start_writer()
        return waiting

    def _start_writer(self) -> None:
        if self._first_write is not None:
            self._first_write.cancel()
        if self._pending and (self._writer is None or self._writer.done()):
            self._writer = self.loop.create_task(self._write())

    async def _write(self) -> None:
        while self._pending and not self.broken:
            # Bounded: packing a pipeline runs on the loop, and a burst of a whole answer (a
            # cached or very fast upstream) must not hold the client's sends back while it does.
            batch, self._pending = self._pending[:WRITE_BATCH], self._pending[WRITE_BATCH:]
            try:
                await self.store.aappend(self.rid, batch, self._take_begin())
            except Exception as exc:
                self._failed(exc)

    async def _run(self, chunks: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in chunks:
                if self._emit(chunk):
                    # The client is waiting: let it send before this task parses the rest of a
                    # burst (the upstream socket may hold many events, and reading them never
                    # yields). Without a waiting client, no switch: the queue just grows.
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            if self.stop_reason is None:
                raise  # the loop is shutting down: the lease lapses and resumers are told
        except Exception as exc:
            logger.exception("firsttoken: answer %s failed", self.rid, exc_info=exc)
            self.stop_reason = ("internal_error", "the answer failed")
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
            self.ended = True
        if self.stop_reason is not None:
            self._emit(self.format.error(*self.stop_reason))
        if self._first_write is not None:
            self._first_write.cancel()
        if not self.broken:
            self._pending.append((self.seq + 1, None))
            writer = self._writer
            if writer is not None and not writer.done():
                await writer
            await self._write()
        if not self.broken:
            try:
                await self.store.afinish(self.rid)
            except Exception as exc:
                self._failed(exc)
        self.queue.put_nowait(_END)
        self._ended_with(self)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        queue = self.queue
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                # What queued meanwhile goes out in the same send.
                while not queue.empty():
                    more = queue.get_nowait()
                    if more is None:
                        queue.put_nowait(None)
                        break
                    item += more
                yield item
        finally:
            self.detach()
