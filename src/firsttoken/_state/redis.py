"""The Redis backend: one client per process (and one async client per event loop), every store guarded.

Each store keeps a process-local twin and falls back to it through one shared `Guard`, so a Redis
outage is noticed once, logged once, flagged in the metrics, and healed by itself.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from .._loops import close_with_loop
from .._metrics import Metrics
from .aggregate import MetricsPublisher
from .approvals import RedisApprovals
from .claims import RedisClaims
from .client_budgets import RedisClientBudgets
from .connect import aclose_client, async_client, close_client, safe_url, sync_client
from .guard import Guard
from .keys import Keys
from .lease import LEASE_SECONDS, LeaseKeeper
from .locks import LockFactory
from .redis_budgets import RedisBudgets
from .stores import RedisBreakerStore, RedisClassifyCache, RedisResponseStore

__all__ = ["RedisState"]


class RedisState:
    kind = "redis"

    def __init__(
        self,
        *,
        url: str,
        prefix: str,
        timeout: float,
        classify_cache_size: int,
        metrics: Metrics | None = None,
        lease: float = LEASE_SECONDS,
        publish_interval: float = 1.0,
    ) -> None:
        self.url = url
        self.where = safe_url(url)
        self.timeout = timeout
        # Wall time: cooldown ends and budget stamps are compared across machines.
        self.clock: Callable[[], float] = time.time
        self.keys = Keys(prefix)
        self.guard = Guard(where=self.where)
        self.client = sync_client(url, timeout)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._async_lock = threading.Lock()
        self.breaker = RedisBreakerStore(self.client, self.keys, self.guard)
        self.classify_cache = RedisClassifyCache(self.client, self.keys, self.guard, size=classify_cache_size)
        self.responses = RedisResponseStore(self.client, self.async_client, self.keys, self.guard)
        self.budgets = RedisBudgets(self.client, self.keys, self.guard, clock=self.clock)
        self.client_budgets = RedisClientBudgets(self.client, self.async_client, self.keys, self.guard)
        self.claims = RedisClaims(self.client, self.async_client, self.keys, self.guard)
        self.approvals = RedisApprovals(self.client, self.async_client, self.keys, self.guard)
        self.leases = LeaseKeeper(self.client, self.keys, self.guard, lease=lease)
        self.publisher = MetricsPublisher(self.client, self.keys, self.guard, interval=publish_interval)
        self._metrics = metrics
        self.closed = False

    def __repr__(self) -> str:
        health = " degraded" if self.guard.degraded else ""
        return f"<RedisState {self.where} prefix={self.keys.prefix!r}{health}>"

    def async_client(self) -> Any:
        """The running event loop's client: redis.asyncio connections belong to the loop that made them."""
        loop = asyncio.get_running_loop()
        with self._async_lock:
            entry = self._async.get(loop)
            if entry is None:
                # Closed with its loop too: a loop made for one call must not leave it open.
                client = async_client(self.url, self.timeout)
                entry = self._async[loop] = (client, close_with_loop(loop, lambda: aclose_client(client)))
            return entry[0]

    def watch(self, metrics: Metrics) -> None:
        # From the first finished call (not at construction, which opens nothing), and again in a
        # forked worker, which `watch` recognises by its pid.
        self.publisher.watch(metrics)

    def warm_locks(self, directory: str | None) -> LockFactory:
        return self.leases.factory(directory)

    def metrics_snapshot(self, metrics: Metrics) -> dict[str, Any]:
        merged = self.publisher.snapshot(metrics)
        if merged is None:
            # Redis away: this worker's own figures, flagged as such.
            return {**metrics.snapshot(), "workers": None, "state": self.describe()}
        return {**merged, "state": self.describe()}

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "url": self.where,
            "prefix": self.keys.prefix,
            "worker": self.publisher.worker,
            **self.guard.describe(),
        }

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.leases.close()
        self.publisher.close()
        close_client(self.client)
        # Async clients are closed by aclose() on their loop; the sync pool's sockets are gone now.

    async def aclose(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._async_lock:
            mine = self._async.pop(loop, None) if loop is not None else None
        if mine is not None:
            await aclose_client(mine[0])
        self.close()
