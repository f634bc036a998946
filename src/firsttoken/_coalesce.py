"""Fewer writes per token: text deltas that are already here go out as one token event.

The relay's items are text deltas (`str`), and the other events as bytes or, where the wire format
keeps state (the AI SDK's open text part), as a call that encodes them. Everything is encoded by
whoever writes, in the stream's order, so a WSGI writer thread never encodes text while the
reader thread encodes the event after it. Each run of adjacent text becomes one event of the wire
format (`token(text)`), so a coalesced event is one encoded event and the browser's text is the
same. Which deltas are "already here" is each server's business:

- `acoalesce` (ASGI servers): with a window or idle beats, a task per stream reads the items and
  each write takes what was read while the last one was made; with a window, also what arrives
  for that long after each write that carried text. (Stepping the next read by hand to see
  whether it completes at once would spare the task, but it leaves the read's anyio cancel scope
  open across the server's own awaits; a disconnect was then noticed late.)
- The WSGI shell (`_heartbeat.beating`) does the same in its writer thread, over the queue its
  reader thread fills; `coalesce` is the plain sync iteration, where nothing can be known to have
  arrived without blocking, so it writes one event per item.

The first token is never held: a window only starts after a write that carried text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol

__all__ = ["Beat", "Item", "Latest", "acoalesce", "coalesce", "encode", "one"]

Item = bytes | str | Callable[[], bytes]
Token = Callable[[str], bytes]


class Latest:
    """An event the next one of its kind makes stale (a structured answer's object so far): in a
    write that holds a later one with only text between, it is left out, and the text around it
    goes as one token event."""

    __slots__ = ("_encode",)

    def __init__(self, encode: Callable[[], bytes]) -> None:
        self._encode = encode

    def __call__(self) -> bytes:
        return self._encode()


def _stale(items: list[Item], at: int) -> bool:
    for item in items[at + 1 :]:
        if not isinstance(item, str):
            return isinstance(item, Latest)
    return False


def one(item: Item, token: Token) -> bytes:
    """The bytes of one item."""
    if isinstance(item, str):
        return token(item)
    return item if isinstance(item, bytes) else item()


def encode(items: list[Item], token: Token) -> bytes:
    """The bytes of `items`, each run of text as one token event, in order."""
    out: list[bytes] = []
    text: list[str] = []
    for at, item in enumerate(items):
        if isinstance(item, str):
            text.append(item)
            continue
        if isinstance(item, Latest) and _stale(items, at):
            continue
        if text:
            out.append(token(text[0] if len(text) == 1 else "".join(text)))
            text = []
        out.append(item if isinstance(item, bytes) else item())
    if text:
        out.append(token(text[0] if len(text) == 1 else "".join(text)))
    return out[0] if len(out) == 1 else b"".join(out)


def coalesce(items: Iterator[Item], token: Token, window: float | None) -> Iterator[bytes]:
    """Sync iteration: one chunk per item (a WSGI response coalesces in `beating` instead)."""
    try:
        for item in items:
            chunk = one(item, token)
            if chunk:
                yield chunk
    finally:
        getattr(items, "close", _no_close)()


class Beat(Protocol):
    """The idle-heartbeat timer `acoalesce` keeps, when it keeps one (`_heartbeat.Heartbeat`)."""

    beat: bytes

    def sent(self) -> None: ...

    def due_in(self) -> float: ...


async def acoalesce(
    items: AsyncIterator[Item],
    token: Token,
    window: float | None,
    beat: Beat | None = None,
    *,
    on_close: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """`items` as chunks to write, with idle beats when `beat` is given.

    With neither a window nor beats, each item is written as it comes (no task of its own).
    Otherwise one task per stream reads `items` (a read must outlive a beat or a window, and a
    task is what outlives a yield) and each write takes everything read by then: what arrived
    while the last write was made, and with a window, for that long after each write that
    carried text. No task or timer per item: the beat's alarm is set once per beat interval and
    only moved when it rings early. When the server cancels this iterator (the client left), the
    read is cancelled and `items` closed before returning; `on_close` is called first (the same
    hook as `_heartbeat.beating`'s, though here the cancellation reaches the read by itself).
    """
    if not window and beat is None:
        try:
            async for item in items:
                chunk = one(item, token)
                if chunk:
                    yield chunk
        finally:
            if on_close is not None:
                on_close()
            await _aclose(items)
        return
    pump = _Pump(items)
    spoke = False
    try:
        while True:
            if pump.ready:
                ready = pump.ready
                pump.ready = []
                chunk = encode(ready, token)
                if chunk:
                    if beat is not None:
                        beat.sent()
                    yield chunk
                if window and not pump.ended:
                    spoke = spoke or any(isinstance(item, str) for item in ready)
                    if spoke:
                        # What arrives meanwhile shares the next write; the first token, always
                        # in a write of its own, was never held.
                        await asyncio.sleep(window)
            elif pump.ended:
                if pump.error is not None:
                    raise pump.error
                return
            elif beat is None:
                await pump.wait(None)
            elif beat.due_in() <= 0:
                beat.sent()
                yield beat.beat
            else:
                await pump.wait(beat.due_in())
    finally:
        if on_close is not None:
            on_close()
        await pump.aclose()


class _Pump:
    """Reads an async iterator in a task of its own into `ready`, waking one waiter."""

    __slots__ = ("_alarm", "_items", "_loop", "_task", "_waiter", "ended", "error", "ready")

    def __init__(self, items: AsyncIterator[Item]) -> None:
        self._items = items
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._alarm: asyncio.TimerHandle | None = None
        self.ready: list[Item] = []
        self.ended = False
        self.error: BaseException | None = None
        self._task = self._loop.create_task(self._read())

    async def _read(self) -> None:
        first = True
        try:
            async for item in self._items:
                self.ready.append(item)
                self._wake()
                if first and isinstance(item, str):
                    first = False
                    # The writer is woken, but this task would go on parsing whatever arrived with
                    # the first token (the rest of a burst, the answer's end) before the loop gets
                    # to it: measured 0.66 ms between the token's arrival and its write on Django
                    # ASGI. One step back to the loop lets the writer go first.
                    await asyncio.sleep(0)
        except Exception as exc:  # handed to the iterator, which raises it in the server's task
            self.error = exc
        finally:
            self.ended = True
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _ring(self) -> None:
        self._alarm = None
        self._wake()

    async def wait(self, seconds: float | None) -> None:
        """Until an item is read, the reading ends, or `seconds` pass (or a little sooner)."""
        if seconds is not None and (self._alarm is None or self._alarm.when() > self._loop.time() + seconds):
            if self._alarm is not None:
                self._alarm.cancel()
            self._alarm = self._loop.call_later(seconds, self._ring)
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def aclose(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        task = self._task
        if not task.done():
            task.cancel()
            # The cancelled read must finish before `items` is closed: an async generator cannot
            # be closed while it is running.
            await asyncio.gather(task, return_exceptions=True)
        await _aclose(self._items)


async def _aclose(items: AsyncIterator[Item]) -> None:
    close = getattr(items, "aclose", None)
    if close is not None:
        await close()


def _no_close() -> None:
    return None
