"""Idle heartbeats: a beat goes out whenever nothing has been written for `interval` seconds.

Proxies and browsers drop a response that stays silent too long, and a model can think for a
while before its first token. `Heartbeat` is the timer (no I/O); `beating` and `abeating` are the
two server shells over it, so a WSGI answer gets the same beats as an ASGI one. Starlette, which
owns its `send`, asks the timer directly from the listener it keeps for disconnects anyway.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from queue import Empty, SimpleQueue
from typing import NoReturn

from ._coalesce import Item, Token, acoalesce, coalesce, encode, one
from ._threads import readers

__all__ = ["HAND_OVER", "Heartbeat", "abeating", "beating"]


def _no_text(text: str) -> bytes:
    raise TypeError("text items need the wire format's token()")


class Heartbeat:
    """When the next beat is due, given when the last bytes left."""

    __slots__ = ("_clock", "beat", "interval", "last")

    def __init__(self, beat: bytes, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.beat = beat
        self.interval = interval
        self._clock = clock
        self.last = clock()

    @property
    def enabled(self) -> bool:
        # A format without a heartbeat (plain text) must not get stray bytes in its body.
        return bool(self.beat) and self.interval > 0

    def sent(self) -> None:
        self.last = self._clock()

    def due_in(self) -> float:
        """Seconds until a beat is owed; zero or less means now."""
        return self.interval - (self._clock() - self.last)


# How long a reader thread waits for the server's thread to take what it handed over: past the
# interpreter's switch interval, the server's thread would have forced the switch itself.
HAND_OVER = sys.getswitchinterval()


class _End:
    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def beating(
    chunks: Iterator[Item],
    timer: Heartbeat,
    token: Token = _no_text,
    window: float | None = None,
    on_close: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """`chunks` with beats while it is silent, for a server thread that writes what it iterates.

    A WSGI server can only write when the iterator yields, so `chunks` is read by a thread of its
    own, set to work now (it overlaps the server writing the headers; an idle one left by earlier
    streams when there is one, `_threads.py`), and handed over through a queue. What queued up
    while a write was blocked goes out as one write, each run of text deltas (`str` items) as one
    `token` event (`_coalesce.py`); with a `window`, each write that carried text is followed by
    that long for more to queue. When the server closes the iterator (the client left, or it never
    iterated), the reader stops at its next chunk and closes `chunks` in its own thread: the
    upstream stream is never touched from two threads at once. `on_close` is called (from the
    server's thread) when the iterator is closed while a reader thread reads: it may be blocked on
    `chunks` for long (an agent turn waiting for its tools), and only the source can stop that.
    """
    if not timer.enabled and window is None:
        # Iterated by the server's own thread: closing it reaches `chunks` itself.
        return coalesce(chunks, token, window)
    # A format without a heartbeat (plain text) still coalesces, but gets no stray bytes.
    return _Beating(chunks, timer, token, window, on_close)


class _Beating:
    __slots__ = (
        "_handed",
        "_hold",
        "_on_close",
        "_queue",
        "_spoke",
        "_stop",
        "_taken",
        "_timer",
        "_token",
        "_window",
    )

    def __init__(
        self,
        chunks: Iterator[Item],
        timer: Heartbeat,
        token: Token,
        window: float | None,
        on_close: Callable[[], None] | None,
    ) -> None:
        self._queue: SimpleQueue[Item | _End] = SimpleQueue()
        self._stop = threading.Event()
        # Held until this thread has written the first text; the reader waits for it meanwhile.
        # A bare lock: acquiring and releasing it are two C calls, where an Event's are a
        # Condition's dozen Python ones, on the first token's way out in both threads.
        self._taken: threading.Lock | None = threading.Lock()
        self._taken.acquire()
        self._handed = False
        self._timer = timer
        self._token = token
        # None: one event per delta, as they come; 0: what queued joins; above: held that long.
        self._window = window
        self._spoke = False
        self._hold = 0.0
        self._on_close = on_close
        timer.sent()
        # The reader holds the queue and the flag, not this object, so dropping an iterator the
        # server never closed still stops it (`__del__`).
        readers.run(_read, chunks, self._queue, self._stop, self._taken)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        queue, timer, window = self._queue, self._timer, self._window
        if self._handed:
            self._let_go()
        if self._hold:
            # The window after a write that carried text: what arrives meanwhile shares the next.
            time.sleep(max(self._hold - time.monotonic(), 0.0))
            self._hold = 0.0
        while True:
            try:
                item = queue.get(timeout=max(timer.due_in(), 0.0) if timer.enabled else None)
            except Empty:
                timer.sent()
                return timer.beat
            if isinstance(item, _End):
                self._finish(item)
            self._took(item)
            if window is None:
                chunk = one(item, self._token)
            else:
                parts = [item]
                while True:
                    try:
                        more = queue.get_nowait()
                    except Empty:
                        break
                    if isinstance(more, _End):
                        # Said at the next call, after these bytes went out.
                        queue.put(more)
                        break
                    parts.append(more)
                    self._took(more)
                chunk = encode(parts, self._token)
                if window and (self._spoke or any(isinstance(part, str) for part in parts)):
                    self._spoke = True
                    self._hold = time.monotonic() + window
            if chunk:
                timer.sent()
                return chunk

    def _took(self, item: Item) -> None:
        """Note that this thread has the first text: the reader, waiting since it queued it, is let
        go at the next call, once the text is written (waking it before would put its wake-up
        between the token and the socket)."""
        if self._taken is not None and isinstance(item, str):
            self._handed = True

    def _let_go(self) -> None:
        taken, self._taken, self._handed = self._taken, None, False
        if taken is not None:
            taken.release()

    def _finish(self, end: _End) -> NoReturn:
        self._queue.put(end)  # a later next() ends again rather than blocking
        if end.error is not None:
            raise end.error
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._let_go()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    __del__ = close


def _read(
    chunks: Iterator[Item],
    queue: SimpleQueue[Item | _End],
    stop: threading.Event,
    taken: threading.Lock,
) -> None:
    error = None
    first = True
    try:
        for chunk in chunks:
            queue.put(chunk)
            if first and isinstance(chunk, str):
                first = False
                # The server's thread is woken by the put but still needs the GIL, which this
                # thread keeps while it parses what arrived with the token (the rest of a burst,
                # the answer's end): up to the 5 ms switch interval. Waiting here hands it over
                # (measured: 0.74 ms p50, 2.9 ms p90 from the token's arrival to its write, against
                # 0.1 ms for a relay that reads in the server's thread). Later tokens queue up
                # meanwhile and go out in fewer writes.
                taken.acquire(timeout=HAND_OVER)
            if stop.is_set():
                break
    except BaseException as exc:  # handed to the server's thread, which raises it
        error = exc
    finally:
        getattr(chunks, "close", _no_close)()
    queue.put(_End(error))


def _no_close() -> None:
    return None


def abeating(
    items: AsyncIterator[Item],
    timer: Heartbeat,
    token: Token = _no_text,
    window: float | None = None,
    on_close: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """`items`, coalesced, with beats while silent, for servers that iterate an async body (Django
    ASGI): `_coalesce.acoalesce` with this timer, one reader task per stream, none per chunk."""
    return acoalesce(items, token, window, timer if timer.enabled else None, on_close=on_close)
