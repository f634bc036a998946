# Generated from _async/io.py by scripts/unasync.py: edit that file, then `make unasync`.
"""The relay's I/O, written once: this async source is the only one.

`../_sync/io.py` is generated from it (`make unasync`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anthropic

from ..._chat import RelayStart, upstream_error
from ..._errors import UpstreamFailure
from ..._heartbeat import beating
from ..._upstream.governor import RateLimited
from ..core import RelayCore, _SyncStream

__all__ = ["SyncRelay"]


class SyncRelay(RelayCore):
    def open(self) -> RelayStart:
        """Open the upstream stream: a 200 with the stream's headers, or the refusal as an HTTP error."""
        stream: _SyncStream = self.engine.stream(**self._call)
        self._sync = stream
        try:
            stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        if self._hub is not None:
            # Resumable: a producer iterates the relay from now on, whatever the connection does.
            self._producer = self._hub.produce(self, self.owner, self.chat_id)
        return RelayStart(200, self._headers(stream))

    def body(self) -> Iterator[bytes]:
        """The response body for a server that iterates it: the stream, with idle heartbeats."""
        if self._sync is None:
            raise RuntimeError("open the relay (relay.open()) before iterating it")
        return beating(self.__iter__(), self.heartbeat())

    def __iter__(self) -> Iterator[bytes]:
        """The bytes for this connection: the producer's, when resumable, else the relay's own."""
        producer = self._producer
        return self._raw() if producer is None else producer.__iter__()

    def _raw(self) -> Iterator[bytes]:
        stream = self._sync
        if stream is None:
            raise RuntimeError("open the relay (relay.open()) before iterating it")
        fmt = self.format
        self._reader = threading.get_ident()
        try:
            first = fmt.start(self.response_id)
            if first:
                yield first
            for name, data in stream.events():
                chunk = self._encode(stream, name, data)
                if chunk:
                    yield chunk
        except UpstreamFailure as exc:
            yield fmt.error(exc.type, exc.message)
            return
        finally:
            self._reader = None
            self._close_upstream()
        yield fmt.done(self.summary())

    def close(self) -> None:
        """Close the upstream stream (idempotent); a body read in another thread closes it itself.

        A resumable answer's connection only lets go: the producer goes on for the grace period.
        """
        if self._producer is not None:
            self._producer.detach()
            return
        self._close_upstream()

    def _close_upstream(self) -> None:
        self.closed = True
        reader = self._reader
        if self._sync is not None and reader in (None, threading.get_ident()):
            self._sync.close()
