"""The engine's lifecycle as httpx's clients have it: an explicit state, both context managers.

Building an engine opens nothing; its client pool says whether a client was made yet and whether
it was closed. `Engine` adds `close()` and `aclose()`, which know the parts it built.
"""

from __future__ import annotations

from typing import Literal, Self

import anthropic

from ._upstream.clients import ClientPool

__all__ = ["Lifecycle", "State"]

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
