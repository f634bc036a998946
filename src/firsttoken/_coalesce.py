"""Fewer writes per token: text deltas that are already here go out as one token event.

The relay's items are text deltas (`str`), and the other events as bytes or, where the wire format
keeps state (the AI SDK's open text part), as a call that encodes them. Everything is encoded by
whoever writes, in the stream's order, so a WSGI writer thread never encodes text while the
reader thread encodes the event after it. Each run of adjacent text becomes one event of the wire
format (`token(text)`), so a coalesced event is one encoded event and the browser's text is the
same. Which deltas are "already here" is each server's business:

- `acoalesce` (ASGI servers): after a read that waited, every further item that comes without
  waiting (its bytes arrived while the last write was being made, or while the loop served other
  streams) joins it. With a window, the next read waits out the window after each write that
  carried text, so what arrives meanwhile joins the next write too.
- The WSGI shell (`_heartbeat.beating`) does the same in its writer thread, over the queue its
  reader thread fills; `coalesce` is the plain sync iteration, where nothing can be known to have
  arrived without blocking, so it writes one event per item.

The first token is never held: a window only starts after a write that carried text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

__all__ = ["Item", "acoalesce", "coalesce", "encode", "one"]

Item = bytes | str | Callable[[], bytes]
Token = Callable[[str], bytes]


def one(item: Item, token: Token) -> bytes:
    """The bytes of one item."""
    if isinstance(item, str):
        return token(item)
    return item if isinstance(item, bytes) else item()


def encode(items: list[Item], token: Token) -> bytes:
    """The bytes of `items`, each run of text as one token event, in order."""
    out: list[bytes] = []
    text: list[str] = []
    for item in items:
        if isinstance(item, str):
            text.append(item)
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


async def acoalesce(items: AsyncIterator[Item], token: Token, window: float | None) -> AsyncIterator[bytes]:
    """`items` as chunks to write: each chunk what had arrived when the last write was done."""
    if window is None:
        try:
            async for item in items:
                chunk = one(item, token)
                if chunk:
                    yield chunk
        finally:
            await _aclose(items)
        return
    pending: _Resumed | None = None
    spoke = ended = False
    try:
        while not ended:
            # Taken before it is awaited: once awaited, the read is finished or cancelled, and
            # the clean-up below must not resume it.
            resumed, pending = pending, None
            try:
                first = await (resumed if resumed is not None else anext(items))
            except StopAsyncIteration:
                return
            parts: list[Item] = [first]
            while True:
                # One step of the next read: it either completes at once (its bytes are here), or
                # stops at what it waits for, and is resumed by the next write's first read.
                step = anext(items).__await__()
                try:
                    waiting = step.send(None)
                except StopIteration as done:
                    parts.append(done.value)
                    continue
                except StopAsyncIteration:
                    ended = True
                    break
                pending = _Resumed(step, waiting)
                break
            chunk = encode(parts, token)
            if chunk:
                yield chunk
            if window and not ended:
                spoke = spoke or any(isinstance(part, str) for part in parts)
                if spoke:
                    await asyncio.sleep(window)
    finally:
        if pending is not None:
            await pending.abandon()
        await _aclose(items)


class _Resumed:
    """The rest of an awaitable that was stepped once and is waiting on `waiting` (a future, or
    None for a bare yield to the loop): awaiting this hands each wait to the task, as `await` would."""

    __slots__ = ("_step", "_waiting")

    def __init__(self, step: Generator[Any, Any, Any], waiting: Any) -> None:
        self._step = step
        self._waiting = waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        step, waiting = self._step, self._waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # the task's cancellation, passed on to the read
                try:
                    waiting = step.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting = step.send(sent)
                except StopIteration as done:
                    return done.value

    async def abandon(self) -> None:
        """Cancel the read (the response is being closed) and let it run its own clean-up."""
        waiting = self._waiting
        if isinstance(waiting, asyncio.Future):
            waiting.cancel()
        try:
            self._waiting = self._step.throw(asyncio.CancelledError())
        except (StopIteration, StopAsyncIteration, asyncio.CancelledError):
            return
        try:
            await self
        except (StopAsyncIteration, asyncio.CancelledError):
            pass


async def _aclose(items: AsyncIterator[Item]) -> None:
    close = getattr(items, "aclose", None)
    if close is not None:
        await close()


def _no_close() -> None:
    return None
