"""`ResumedStream`: a resumed answer, with the members the adapters use of a `Relay`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from ..._heartbeat import abeating
from ._async.follow import AsyncFollow
from ._sync.follow import SyncFollow

__all__ = ["ResumedStream"]


class ResumedStream(SyncFollow, AsyncFollow):
    """A resumed answer, read from Redis after `Last-Event-ID` and followed live; the same members
    the adapters use of a `Relay` (`start`, `body()`, `abody()`, iteration, `close()`)."""

    def body(self) -> Iterator[bytes]:
        """The body for a WSGI server, with idle heartbeats, read in the server's own thread: each
        wait for the stream ends by the next beat."""
        timer = self.heartbeat()
        try:
            for chunk in self._follow(timer if timer.enabled else None):
                if chunk is None:
                    if timer.due_in() <= 0:
                        timer.sent()
                        yield timer.beat
                    continue
                timer.sent()
                yield chunk
        finally:
            self.closed = True

    def abody(self) -> AsyncIterator[bytes]:
        """The body for an ASGI server: the stream raced against the heartbeat (`abeating`)."""
        return abeating(self.__aiter__(), self.heartbeat())
