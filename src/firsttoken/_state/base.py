"""The one pluggable state interface: what an engine's stores are, whichever backend holds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .._metrics import Metrics
from .approvals import Approvals
from .breaker import BreakerStore
from .budgets import Budgets
from .claims import Claims
from .classify import ClassifyCache
from .client_budgets import ClientBudgets
from .locks import LockFactory

__all__ = ["ResponseStore", "State"]


class ResponseStore(Protocol):
    """Serialised answers by request digest (the response cache, `_responses.py`), each kept `ttl` seconds."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl: float) -> None: ...


class State(Protocol):
    """Cooldowns, rate-limit budgets, warm locks, caches and metrics of one engine.

    `kind` is "memory" (one process; the default) or "redis" (a deployment). `clock` is the time
    the breaker and the budgets use: monotonic in memory, wall time where several machines must agree.
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

    @property
    def budgets(self) -> Budgets: ...

    @property
    def client_budgets(self) -> ClientBudgets:
        """Each browser client's requests and tokens per minute (`_limits.py`)."""

    @property
    def claims(self) -> Claims:
        """Who warms a conversation prefix now (`_caching/ahead.py`), shared across workers with Redis."""

    @property
    def approvals(self) -> Approvals:
        """Agent turns paused for the user's approval (`_agent/`), resumable on any worker with Redis."""

    def warm_locks(self, directory: str | None) -> LockFactory: ...

    def watch(self, metrics: Metrics) -> None:
        """Share `metrics` with the deployment from now on (called after each finished call)."""

    def metrics_snapshot(self, metrics: Metrics) -> dict[str, Any]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...
