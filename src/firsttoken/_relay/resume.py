"""Resumable answers: a producer that outlives the browser's connection, and followers that resume it.

With `resumable` on, an opened relay is handed to a producer (a thread on sync servers, a task on
async ones) that iterates it to the end whatever the connection does. Each event block it encodes
gets the next number as its SSE `id:` line and goes first to the producer's own client (an
in-process queue), then to the answer's Redis Stream (`_state/streams.py`), so Redis adds no round
trip before the first token. A resumer on any worker reads that stream after its
`Last-Event-ID` and follows it live: the bytes are the stored ones, so a resumed answer is the
unbroken one (heartbeats, being comments, are each connection's own).

One `ResumeHub` per engine keeps this process's producers and one daemon thread that, every
`TICK`, renews their leases, polls their stop keys and cancels those nobody has read for
`resume_grace` seconds, all in one pipelined round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from .._chat import RelayStart
from .._heartbeat import HAND_OVER, Heartbeat, abeating
from .._state.keys import digest
from .._threads import readers
from .._wire import WireFormat, get_format
from .ids import new_response_id

if TYPE_CHECKING:
    # Typing only: redis-py is imported when an engine with Redis builds its store, never here.
    from .._settings import Settings
    from .._state.streams import Begin, Entry, RedisStreams

__all__ = ["RESUMABLE_FORMATS", "ResumeHub", "ResumedStream", "new_response_id", "parse_last_event_id"]

logger = logging.getLogger("firsttoken.resume")

# Formats whose events can carry an `id:` line: the SSE ones.
RESUMABLE_FORMATS = frozenset({"sse", "ai-sdk"})
# How often the hub polls stops: a stop from another worker lands within this plus one event.
# One pipelined round trip per tick per process, only while it produces answers.
TICK = 0.025
# Events handed to a waiting client at once, with a switch to let it send: `start` and the first
# token (with the API's first `ping` between them, usually), as `_heartbeat` hands them over.
HANDED_OVER = 3
# Seconds the first Redis write waits for the first token before going out on its own (async).
FIRST_WRITE_DELAY = 0.002
# Events per Redis pipeline: a few milliseconds of packing at most.
WRITE_BATCH = 64
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A chat id is the client's own (the AI SDK's `useChat` makes one); anything printable and short.
_CHAT_ID = re.compile(r"[\x21-\x7e]{1,128}")
_END = None


def valid_id(rid: str) -> bool:
    return _ID.fullmatch(rid) is not None


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


_STOPPED = ("stopped", "the answer was stopped")
_ABANDONED = ("abandoned", "nobody was reading the answer, so it was stopped")
_LOST = ("interrupted", "the worker producing this answer stopped before it ended; ask again")


class _Producer:
    """What the sync and async producers share: numbering, the stop and the detach."""

    # `relay` is a `Relay` (core.py imports this module, so it is not named here).
    def __init__(self, hub: ResumeHub, relay: Any, owner: str, chat: str | None) -> None:
        self.hub = hub
        self.relay = relay
        self.rid = relay.response_id
        self.format: WireFormat = relay.format
        self.seq = 0
        self._begin: Begin | None = (owner, self.format.name, chat)
        self.owner = owner
        self.detached_at: float | None = None
        self.stop_reason: tuple[str, str] | None = None
        self.ended = False
        self.broken = False

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


class ThreadProducer(_Producer):
    """A sync relay iterated by a thread of its own: WSGI servers (Flask, Django, gunicorn gthread)."""

    def __init__(self, hub: ResumeHub, relay: Any, owner: str, chat: str | None) -> None:
        super().__init__(hub, relay, owner, chat)
        self.queue: SimpleQueue[bytes | None] = SimpleQueue()
        self._chunks: Iterator[bytes] = relay._raw()
        # While `_handing`, the server's thread sets `_taken` as it takes the event just queued.
        self._taken = threading.Event()
        self._handing = False

    def start(self) -> None:
        # Started once the hub knows it, so its end (which removes it) cannot come first; on an
        # idle reader thread when there is one, as the plain WSGI body is (`_threads.py`).
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
            self.hub.store.append(self.rid, entries, self._take_begin())
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
                self.hub.store.finish(self.rid)
            except Exception as exc:
                self._failed(exc)
        self.queue.put(_END)
        self.hub.remove(self)

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


class TaskProducer(_Producer):
    """An async relay iterated by a task on the server's loop: ASGI servers (Starlette, Django ASGI).

    Redis writes are a second task that takes whatever queued while the last write was out: one
    pipelined round trip for a burst of tokens, and never before the client's own send.
    """

    def __init__(self, hub: ResumeHub, relay: Any, owner: str, chat: str | None) -> None:
        super().__init__(hub, relay, owner, chat)
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pending: list[Entry] = []
        self._writer: asyncio.Task[None] | None = None
        self._first_write: asyncio.TimerHandle | None = None
        self.task = self.loop.create_task(self._run(relay._araw()))

    def _wake(self) -> None:
        self.queue.put_nowait(_END)

    def cancel(self, reason: tuple[str, str]) -> None:
        # Called from the hub's thread: the task is cancelled on its loop, unless it already ended.
        def on_loop() -> None:
            if self.stop_reason is None and not self.ended:
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
                await self.hub.store.aappend(self.rid, batch, self._take_begin())
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
                await self.hub.store.afinish(self.rid)
            except Exception as exc:
                self._failed(exc)
        self.queue.put_nowait(_END)
        self.hub.remove(self)

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


class ResumedStream:
    """A resumed answer, read from Redis after `Last-Event-ID` and followed live; the same members
    the adapters use of a `Relay` (`start`, `body()`, `abody()`, iteration, `close()`)."""

    def __init__(self, hub: ResumeHub, rid: str, fmt: str, after: int) -> None:
        self.hub = hub
        self.response_id = rid
        self.format = get_format(fmt)
        self.after = after
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
        return Heartbeat(self.format.heartbeat(), self.hub.settings.heartbeat_interval, clock=clock)

    def _lost(self) -> bytes:
        """The error a resumer reports for a producer that died, written to the stream as well so
        every resumer reads the same; the producer is gone, so nothing else writes there."""
        out, entries, seq = stamp(self.format.error(*_LOST), self.after)
        try:
            self.hub.store.append(self.response_id, [*entries, (seq + 1, None)])
        except Exception:  # another resumer wrote it first: the bytes are the same
            logger.debug("firsttoken: the end of %s was written by another resumer", self.response_id)
        return out

    async def _alost(self) -> bytes:
        out, entries, seq = stamp(self.format.error(*_LOST), self.after)
        try:
            await self.hub.store.aappend(self.response_id, [*entries, (seq + 1, None)])
        except Exception:
            logger.debug("firsttoken: the end of %s was written by another resumer", self.response_id)
        return out

    def _follow(self, timer: Heartbeat | None) -> Iterator[bytes | None]:
        """The stream's bytes after `after`; None when a wait ended with nothing (a beat may be due)."""
        store, rid, grace_ms = self.hub.store, self.response_id, self.hub.grace_ms
        attended = 0.0
        alive = True
        while not self.closed:
            now = time.monotonic()
            if now - attended > self.hub.grace / 3:
                alive, attended = store.attend(rid, grace_ms), now
            most = store.block_seconds
            block = most if timer is None else max(0.01, min(most, timer.due_in()))
            entries = store.read(rid, self.after, block)
            if not entries:
                alive, attended = store.attend(rid, grace_ms), time.monotonic()
                if not alive and not store.read(rid, self.after, None):
                    yield self._lost()
                    return
                yield None
                continue
            chunk, ended = self._joined(entries)
            if chunk or not ended:
                yield chunk
            if ended:
                return

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

    async def _afollow(self) -> AsyncIterator[bytes]:
        store, rid, grace_ms = self.hub.store, self.response_id, self.hub.grace_ms
        attended = 0.0
        while not self.closed:
            now = time.monotonic()
            if now - attended > self.hub.grace / 3:
                await store.aattend(rid, grace_ms)
                attended = now
            entries = await store.aread(rid, self.after, store.block_seconds)
            if not entries:
                alive, attended = await store.aattend(rid, grace_ms), time.monotonic()
                if not alive and not await store.aread(rid, self.after, None):
                    yield await self._alost()
                    return
                continue
            chunk, ended = self._joined(entries)
            if chunk or not ended:
                yield chunk
            if ended:
                return

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._follow(None):
            if chunk is not None:
                yield chunk

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._afollow()

    def body(self) -> Iterator[bytes]:
        """The body for a WSGI server, with idle heartbeats, read in the server's own thread."""
        timer = self.heartbeat()
        try:
            for chunk in self._follow(timer if timer.enabled else None):
                if chunk is None:
                    if timer.enabled and timer.due_in() <= 0:
                        timer.sent()
                        yield timer.beat
                    continue
                timer.sent()
                yield chunk
        finally:
            self.closed = True

    def abody(self) -> AsyncIterator[bytes]:
        return abeating(self._afollow(), self.heartbeat())

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class ResumeHub:
    """This process's producers, and the thread that keeps their leases, stops and grace."""

    def __init__(self, store: RedisStreams, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.grace = settings.resume_grace
        self.grace_ms = max(1, int(self.grace * 1000))
        self._producers: dict[str, _Producer] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    # -- producing ----------------------------------------------------------------------------

    def produce(self, relay: Any, owner: str | None, chat_id: str | None) -> ThreadProducer:
        producer = ThreadProducer(self, relay, owner_digest(owner), self._chat_key(owner, chat_id))
        self._add(producer)
        producer.start()
        return producer

    def aproduce(self, relay: Any, owner: str | None, chat_id: str | None) -> TaskProducer:
        producer = TaskProducer(self, relay, owner_digest(owner), self._chat_key(owner, chat_id))
        self._add(producer)
        return producer

    def _chat_key(self, owner: str | None, chat_id: str | None) -> str | None:
        if chat_id is None or _CHAT_ID.fullmatch(chat_id) is None:
            return None
        return self.store.chat_key(owner_digest(owner), chat_id)

    def _add(self, producer: _Producer) -> None:
        with self._lock:
            self._producers[producer.rid] = producer
            if self._pid != os.getpid():
                self._thread, self._pid = None, os.getpid()
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="firsttoken-resume", daemon=True)
                self._thread.start()
        self._wake.set()

    def remove(self, producer: _Producer) -> None:
        with self._lock:
            if self._producers.get(producer.rid) is producer:
                del self._producers[producer.rid]

    def _run(self) -> None:
        renewed = 0.0
        while not self._stop.is_set():
            with self._lock:
                live = [p for p in self._producers.values() if not p.ended]
            if not live:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            # A tick first: a new answer's first token goes out before this thread takes the GIL.
            if self._stop.wait(TICK):
                return
            now = time.monotonic()
            due = now - renewed > self.store.lease_seconds / 3
            renew = [p.rid for p in live if not p.broken] if due else []
            idle = [p.rid for p in live if p.detached_at is not None and now - p.detached_at > self.grace]
            try:
                stopped, attended = self.store.poll(renew, [p.rid for p in live], idle)
            except Exception as exc:  # Redis away: try again next tick; leases may lapse meanwhile
                logger.debug("firsttoken: resume poll failed: %s", type(exc).__name__)
                self._stop.wait(TICK * 10)
                continue
            if renew:
                renewed = now
            for producer in live:
                if producer.rid in stopped:
                    producer.cancel(_STOPPED)
                elif producer.rid in idle and producer.rid not in attended:
                    producer.cancel(_ABANDONED)

    # -- stopping and resuming ------------------------------------------------------------------

    def _local_stop(self, rid: str, owner: str) -> None:
        with self._lock:
            producer = self._producers.get(rid)
        if producer is not None and producer.owner == owner:
            producer.cancel(_STOPPED)

    def stop(self, rid: str, owner: str | None) -> bool:
        """Stop the answer `rid` of `owner` wherever it is produced; False if there is none."""
        if not valid_id(rid):
            return False
        digested = owner_digest(owner)
        if not self.store.stop(rid, digested):
            return False
        self._local_stop(rid, digested)
        return True

    async def astop(self, rid: str, owner: str | None) -> bool:
        if not valid_id(rid):
            return False
        digested = owner_digest(owner)
        if not await self.store.astop(rid, digested):
            return False
        self._local_stop(rid, digested)
        return True

    def _resumed(
        self, rid: str, found: tuple[str, int | None] | None, after: int, chat: bool
    ) -> ResumedStream | None:
        if found is None:
            return None
        fmt, ended = found
        # Finished, and the client has every event but the end marker: nothing to resume. The AI
        # SDK asks by chat id whenever a page loads: only an answer still going is resumed then.
        if ended is not None and (chat or after >= ended - 1):
            return None
        return ResumedStream(self, rid, fmt, after)

    def follow(
        self, rid: str, *, owner: str | None, last_event_id: int = 0, chat: bool = False
    ) -> ResumedStream | None:
        """The answer `rid` (or with `chat`, the newest answer of the chat `rid`) after event
        `last_event_id`, or None when `owner` has nothing there to resume."""
        digested = owner_digest(owner)
        if chat:
            if _CHAT_ID.fullmatch(rid) is None:
                return None
            found_id = self.store.chat(digested, rid)
            if found_id is None:
                return None
            rid = found_id
        if not valid_id(rid):
            return None
        return self._resumed(rid, self.store.find(rid, digested), last_event_id, chat)

    async def afollow(
        self, rid: str, *, owner: str | None, last_event_id: int = 0, chat: bool = False
    ) -> ResumedStream | None:
        digested = owner_digest(owner)
        if chat:
            if _CHAT_ID.fullmatch(rid) is None:
                return None
            found_id = await self.store.achat(digested, rid)
            if found_id is None:
                return None
            rid = found_id
        if not valid_id(rid):
            return None
        return self._resumed(rid, await self.store.afind(rid, digested), last_event_id, chat)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=2.0)
        self.store.close()
