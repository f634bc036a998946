"""A hedged call's two requests, side by side: the one piece of hedging written twice.

`_async/calls.py` (and its generated twin) reads a hedged call's first request itself, in the
caller's task or thread, so a call that needs no hedge reaches its token exactly as an unhedged
one does. At the delay the race runs the hedge elsewhere: `AsyncRace` as a task of the running
loop (`loop.call_later`), `Race` in a timer's thread. The first request to show a token claims the
race; a hedge that claims it cuts the first request's read short by shutting its socket down
(closing it from another task or thread would leave the read, and the connection, waiting for the
next byte).

Who closes what: the caller closes the first request unless it is kept (`discard`); the hedge's
run closes the hedge unless it won. Neither waits for the other's close: the kept answer goes on
at once, and an async close runs as a task of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from .hedging import Contender

__all__ = ["AsyncRace", "Race"]

# Closes and cancelled hedges still running: the loop keeps only weak references to its tasks.
_background: set[asyncio.Task[Any]] = set()


def _keep(task: asyncio.Task[Any]) -> None:
    _background.add(task)
    task.add_done_callback(_background.discard)


class AsyncRace:
    """The hedge as a task of the running loop, started at the delay."""

    def __init__(self, first: Contender) -> None:
        self.first = first
        # Whether a hedge went out, and its response once open.
        self.sent = False
        self.hedge: Contender | None = None
        self.winner: Contender | None = None
        self._stopped = False
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def after(self, delay: float, run: Callable[[], Awaitable[None]]) -> None:
        """Start `run` (the hedge) in `delay` seconds, unless the race is over by then."""
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire, run)

    def _fire(self, run: Callable[[], Awaitable[None]]) -> None:
        self._timer = None
        self._task = asyncio.ensure_future(run())

    def sending(self) -> bool:
        """The hedge is about to go out: True to send it, False if the race is over."""
        self.sent = self.sent or not self._stopped
        return not self._stopped

    def entered(self, hedge: Contender) -> bool:
        """The hedge's response is open: True to read it, False if the race is over."""
        self.hedge = hedge
        return not self._stopped

    def claim(self, contender: Contender) -> bool:
        """The first to claim wins; whether `contender` is the winner."""
        if self.winner is None:
            self.winner = contender
        return self.winner is contender

    def interrupt(self, contender: Contender) -> None:
        shut_down(contender)

    async def hedge_ended(self) -> None:
        """Wait for the hedge's run to end, if it started; a hedge not yet due never goes."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            await asyncio.wait({self._task})

    async def stop(self) -> None:
        """No hedge from now on; a hedge's run still going is cancelled, and closes its response
        on its own time."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            _keep(task)

    async def discard(self, contender: Contender) -> None:
        """Close a request that lost, in a task of its own."""
        _keep(asyncio.ensure_future(contender.cm.__aexit__(None, None, None)))


class Race:
    """The hedge in a timer's thread, started at the delay."""

    def __init__(self, first: Contender) -> None:
        self.first = first
        self.sent = False
        self.hedge: Contender | None = None
        self.winner: Contender | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._fired = self._stopped = False

    def after(self, delay: float, run: Callable[[], None]) -> None:
        """Start `run` (the hedge) in `delay` seconds, unless the race is over by then."""
        self._timer = threading.Timer(delay, self._fire, (run,))
        self._timer.name, self._timer.daemon = "firsttoken-hedge", True
        self._timer.start()

    def _fire(self, run: Callable[[], None]) -> None:
        with self._lock:
            if self._stopped:
                return
            self._fired = True
        run()

    def sending(self) -> bool:
        """The hedge is about to go out: True to send it, False if the race is over."""
        with self._lock:
            self.sent = self.sent or not self._stopped
            return not self._stopped

    def entered(self, hedge: Contender) -> bool:
        """The hedge's response is open: True to read it, False if the race ended meanwhile."""
        with self._lock:
            self.hedge = hedge
            return not self._stopped

    def claim(self, contender: Contender) -> bool:
        """The first to claim wins; whether `contender` is the winner."""
        with self._lock:
            if self.winner is None:
                self.winner = contender
            return self.winner is contender

    def interrupt(self, contender: Contender) -> None:
        shut_down(contender)

    def hedge_ended(self) -> None:
        """Wait for the hedge's run to end, if it started; a hedge not yet due never goes."""
        with self._lock:
            fired = self._fired
            self._stopped = self._stopped or not fired
        if self._timer is not None:
            if fired:
                self._timer.join()
            else:
                self._timer.cancel()

    def stop(self) -> None:
        """No hedge from now on; a hedge still reading is woken and closes its response itself
        (one still waiting for its headers does so once they come, without holding the caller)."""
        with self._lock:
            self._stopped = True
            hedge, winner = self.hedge, self.winner
        if self._timer is not None:
            self._timer.cancel()
        if hedge is not None and winner is not hedge:
            shut_down(hedge)

    def discard(self, contender: Contender) -> None:
        """Close a request that lost (its socket is shut down already: this does not wait)."""
        contender.cm.__exit__(None, None, None)


def shut_down(contender: Contender) -> None:
    """Wake a read blocked on `contender`'s connection: its socket shut down, the read ends at once."""
    stream = contender.response.http_response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    # asyncio hands out a `TransportSocket` (no socket subclass), whose shutdown() is the socket's.
    shutdown = getattr(sock, "shutdown", None)
    if shutdown is not None:
        with contextlib.suppress(OSError):
            shutdown(socket.SHUT_RDWR)
