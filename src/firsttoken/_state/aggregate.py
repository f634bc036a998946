"""`/api/metrics` for the whole deployment: each worker publishes its windows, any worker merges them.

A worker writes its raw windows (counters and the samples behind the percentiles) to one key of
its own every `interval` seconds from a daemon thread, only when it recorded something new; the
key expires, so a worker that died drops out of the view after `ttl`. A snapshot publishes this
worker's windows first (so its own latest calls count), then merges every live worker's:
counters add up, and percentiles are taken over all workers' samples together, not averaged.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from typing import Any

from .._metrics import Metrics, merge_dumps
from .._threads import Daemon
from .guard import Guard
from .keys import Keys

__all__ = ["MetricsPublisher"]

# Publishing once a second keeps the deployment view at most a second behind at the cost of one
# SET per worker per second; a worker is forgotten 30 s after its last publication.
INTERVAL = 1.0
WORKER_TTL = 30.0


class MetricsPublisher:
    def __init__(
        self, client: Any, keys: Keys, guard: Guard, *, interval: float = INTERVAL, ttl: float = WORKER_TTL
    ) -> None:
        self._client = client
        self._guard = guard
        self.interval = interval
        self.ttl = ttl
        self._workers = keys.key("metrics", "deployment", "workers")
        self._keys = keys
        self._metrics: Metrics | None = None
        self._published = -1
        self._lock = threading.Lock()
        self._daemon = Daemon(self._run, name="firsttoken-metrics")
        self._pid = os.getpid()
        self.worker = uuid.uuid4().hex[:16]

    def _blob(self, worker: str) -> str:
        # One hash tag for the deployment's metrics keys, so MGET works on a Cluster too.
        return self._keys.key("metrics", "deployment", f"worker:{worker}")

    def watch(self, metrics: Metrics) -> None:
        """Publish `metrics` from now on (started lazily, and again in a forked child)."""
        with self._lock:
            self._metrics = metrics
            if self._pid != os.getpid():
                # A new process is a new worker: its own id (and its own thread, `Daemon` sees to it).
                self._pid, self._published = os.getpid(), -1
                self.worker = uuid.uuid4().hex[:16]
        self._daemon.start()

    def _run(self) -> None:
        while not self._daemon.stopping.wait(self.interval):
            self.publish(only_if_new=True)

    def publish(self, *, only_if_new: bool = False) -> bool:
        metrics = self._metrics
        if metrics is None:
            return False
        count = metrics.changes
        if only_if_new and count == self._published:
            return True
        blob = json.dumps(metrics.dump(), separators=(",", ":"))
        now = time.time()
        ttl_ms = int(self.ttl * 1000)

        def remote() -> bool:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(self._blob(self.worker), blob, px=ttl_ms)
            pipe.zadd(self._workers, {self.worker: now})
            pipe.zremrangebyscore(self._workers, "-inf", now - self.ttl)
            pipe.pexpire(self._workers, ttl_ms)
            pipe.execute()
            return True

        ok = self._guard.run(remote, lambda: False)
        if ok:
            self._published = count
        return ok

    def snapshot(self, metrics: Metrics) -> dict[str, Any] | None:
        """The deployment's merged snapshot plus how many workers it covers; None while Redis is away."""
        self.watch(metrics)
        if not self.publish():
            return None

        def remote() -> dict[str, Any] | None:
            workers = [
                bytes(w).decode()
                for w in self._client.zrangebyscore(self._workers, time.time() - self.ttl, "+inf")
            ]
            blobs = self._client.mget([self._blob(w) for w in workers]) if workers else []
            dumps = [json.loads(b) for b in blobs if b is not None]
            if not dumps:
                return None
            return {**merge_dumps(dumps), "workers": len(dumps)}

        return self._guard.run(remote, lambda: None)

    def close(self) -> None:
        self._daemon.close()
