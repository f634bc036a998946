"""Two reads side by side, the first to finish taken: the one piece of a hedged call written twice.

`_async/calls.py` (and its generated twin) reads a hedged call's two requests up to their first
token through a race: `AsyncRace` runs each read as a task of the running loop, `Race` in a thread
of its own. Stopping a read is where they differ: a task is cancelled; a thread blocked on its
socket is woken by shutting that socket down (closing it from another thread would leave the
read, and the connection, hanging until the next byte arrives).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
from collections.abc import Awaitable, Callable

from .hedging import Contender

__all__ = ["AsyncRace", "Race"]


def _first_answering(done: list[Contender]) -> Contender:
    # Two reads that ended together: one with a token beats one that failed.
    return next((c for c in done if c.outcome == "token"), done[0])


class AsyncRace:
    """Reads as tasks of the running loop.

    A read that ends puts its contender on a queue the caller waits on: its first token reaches
    the caller one loop iteration after it arrived (waiting on the tasks themselves would take
    three, which a busy loop makes milliseconds).
    """

    def __init__(self) -> None:
        self._tasks: dict[Contender, asyncio.Task[None]] = {}
        self._ended: asyncio.Queue[Contender] = asyncio.Queue()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self, contender: Contender, read: Callable[[Contender], Awaitable[None]]) -> None:
        async def run() -> None:
            try:
                await read(contender)
            finally:
                self._ended.put_nowait(contender)

        self._tasks[contender] = asyncio.ensure_future(run())

    async def first(self, within: float | None) -> Contender | None:
        """The first read to end within `within` seconds (taken out of the race), or None."""
        try:
            async with asyncio.timeout(within):
                ended = [await self._ended.get()]
        except TimeoutError:
            return None
        while not self._ended.empty():
            ended.append(self._ended.get_nowait())
        chosen = _first_answering(ended)
        for contender in ended:
            # Ended reads other than the chosen one stay in the race for `stop()` to collect.
            if contender is not chosen:
                self._ended.put_nowait(contender)
        del self._tasks[chosen]
        return chosen

    async def stop(self) -> None:
        """Cancel every read still running and wait until each has let go of its response."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


class Race:
    """Reads in threads of their own (a hedged sync call's two requests wait at once)."""

    def __init__(self) -> None:
        self._threads: dict[Contender, threading.Thread] = {}
        self._done: queue.SimpleQueue[Contender] = queue.SimpleQueue()

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def start(self, contender: Contender, read: Callable[[Contender], None]) -> None:
        def run() -> None:
            try:
                read(contender)
            finally:
                self._done.put(contender)

        thread = threading.Thread(target=run, name="firsttoken-hedge", daemon=True)
        self._threads[contender] = thread
        thread.start()

    def first(self, within: float | None) -> Contender | None:
        """The first read to end within `within` seconds (taken out of the race), or None."""
        try:
            ended = [self._done.get(timeout=within)]
        except queue.Empty:
            return None
        while not self._done.empty():
            ended.append(self._done.get_nowait())
        chosen = _first_answering(ended)
        for contender in ended:
            # Ended reads other than the chosen one stay in the race for `stop()` to collect.
            if contender is not chosen:
                self._done.put(contender)
        del self._threads[chosen]
        return chosen

    def stop(self) -> None:
        """Wake every read still running (its socket shut down) and wait until it has let go."""
        threads, self._threads = self._threads, {}
        for contender in threads:
            _shut_down(contender)
        for thread in threads.values():
            # A shut-down socket wakes the read at once; the bound only guards against a stuck thread.
            thread.join(timeout=5.0)


def _shut_down(contender: Contender) -> None:
    stream = contender.response.http_response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
