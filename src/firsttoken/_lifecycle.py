"""The engine's lifecycle as httpx's clients have it: an explicit state, both context managers.

Building an engine opens nothing; its client pool says whether a client was made yet and whether
it was closed. `Engine` adds `close()` and `aclose()`: a `Shutdown` of the parts it built.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Literal, Protocol, Self

import anthropic

from ._upstream.clients import ClientPool

__all__ = ["Lifecycle", "Shutdown", "State"]

State = Literal["unopened", "open", "closed"]


class Lifecycle:
    """`with engine:` / `async with engine:`, the state, and the shared clients of the pool."""

    _pool: ClientPool

    @property
    def state(self) -> State:
        if self._pool.closed:
            return "closed"
        return "open" if self._pool.created else "unopened"

    @property
    def closed(self) -> bool:
        return self._pool.closed

    @property
    def client(self) -> anthropic.Anthropic:
        """The process's shared sync client (rebuilt after a fork)."""
        return self._pool.sync

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        """The shared async client of the running event loop."""
        return self._pool.async_

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Closes(Protocol):
    def close(self) -> None: ...


class _AsyncCloses(_Closes, Protocol):
    async def aclose(self) -> None: ...


class Shutdown:
    """The engine's parts closed once, in order: background work first (it may still use storage
    or the clients), then storage, then the client pool, then what closes the same from both sides."""

    def __init__(
        self,
        pool: ClientPool,
        *,
        background: Sequence[_Closes | None],
        storage: _AsyncCloses,
        last: Sequence[_Closes],
    ) -> None:
        self._pool, self._storage = pool, storage
        self._background = [part for part in background if part is not None]
        self._last = last
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if not self._pool.closed:
                self._stop(self._background)
                self._storage.close()
                self._pool.close()
                self._stop(self._last)

    async def aclose(self) -> None:
        if not self._pool.closed:
            self._stop(self._background)
            await self._storage.aclose()
            await self._pool.aclose()
            self._stop(self._last)

    @staticmethod
    def _stop(parts: Sequence[_Closes]) -> None:
        for part in parts:
            part.close()
