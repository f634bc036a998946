"""The one pluggable state interface: what an engine's stores are, whichever backend holds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._caching.locks import LockFactory
    from .._metrics import Metrics
    from .._routing import ClassifyCache
    from .._upstream.breaker import BreakerStore
    from .._upstream.governor import Governor

__all__ = ["GovernorFactory", "ResponseStore", "State"]

GovernorFactory = Callable[..., "Governor"]


class ResponseStore(Protocol):
    """Serialised answers by request digest (see `responses.py`), each kept for `ttl` seconds."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl: float) -> None: ...


class State(Protocol):
    """Cooldowns, rate-limit budgets, warm locks, caches and metrics of one engine.

    `kind` is "memory" (one process; the default) or "redis" (a deployment). `clock` is the time
    the breaker and governor use: monotonic in memory, wall time where several machines must agree.
    """

    @property
    def kind(self) -> str: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    @property
    def breaker(self) -> BreakerStore: ...

    @property
    def classify_cache(self) -> ClassifyCache: ...

    @property
    def responses(self) -> ResponseStore: ...

    def governor(self, *, clock: Callable[[], float], on_overload: Callable[[str], None]) -> Governor: ...

    def warm_locks(self, directory: str | None) -> LockFactory: ...

    def metrics_snapshot(self, metrics: Metrics) -> dict[str, Any]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...
