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
from collections.abc import Mapping
from typing import Any

from .._metrics import Metrics, _Window, merge_series, summarize_turns
from .._threads import Daemon
from .guard import Guard
from .keys import Keys

__all__ = ["MetricsPublisher", "dump_windows", "merge_windows"]

# Publishing once a second keeps the deployment view at most a second behind at the cost of one
# SET per worker per second; a worker is forgotten 30 s after its last publication.
INTERVAL = 1.0
WORKER_TTL = 30.0

_COUNTERS = ("count", "errors", "retries", "fallbacks", "input", "output", "cache_read", "cache_write")


def _dump(window: _Window) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(window, name) for name in _COUNTERS}
    out["routes"] = dict(window.routes)
    out["ttft"], out["tps"] = list(window.ttft), list(window.tps)
    out["hit"], out["miss"], out["saved"] = (
        list(window.cache.hit),
        list(window.cache.miss),
        window.cache.saved,
    )
    return out


def dump_windows(metrics: Metrics) -> dict[str, Any]:
    with metrics._lock:
        return {
            "models": {name: _dump(w) for name, w in metrics._models.items()},
            "profiles": {name: _dump(w) for name, w in metrics._profiles.items()},
            "total": _dump(metrics._all),
            # Histogram buckets and counters add up across workers; so do the streams open in each.
            "series": metrics.series.dump(),
            "open_streams": metrics.open_streams,
            "turns": {profile: dict(t) for profile, t in metrics._turns.items()},
        }


def _merge(parts: list[Mapping[str, Any]]) -> _Window:
    size = max(1, sum(len(p["ttft"]) + len(p["tps"]) + len(p["hit"]) + len(p["miss"]) for p in parts))
    window = _Window(size)
    for part in parts:
        for name in _COUNTERS:
            setattr(window, name, getattr(window, name) + int(part[name]))
        for route, count in part["routes"].items():
            window.routes[route] = window.routes.get(route, 0) + int(count)
        window.ttft.extend(part["ttft"])
        window.tps.extend(part["tps"])
        window.cache.hit.extend(part["hit"])
        window.cache.miss.extend(part["miss"])
        window.cache.saved += float(part["saved"])
    return window


def merge_windows(dumps: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One `Metrics.snapshot()`-shaped dict from several workers' `dump_windows()`."""
    out: dict[str, Any] = {}
    for group in ("models", "profiles"):
        names = sorted({name for d in dumps for name in d[group]})
        out[group] = {
            name: _merge([d[group][name] for d in dumps if name in d[group]]).summary() for name in names
        }
    out["total"] = _merge([d["total"] for d in dumps]).summary()
    out["open_streams"] = sum(int(d.get("open_streams", 0)) for d in dumps)
    out["series"] = merge_series(d["series"] for d in dumps if "series" in d)
    # Agent turns' totals add up per profile and field (a worker of an older version has none).
    turns: dict[str, dict[str, float]] = {}
    for d in dumps:
        for profile, totals in (d.get("turns") or {}).items():
            merged = turns.setdefault(profile, {})
            for field, value in totals.items():
                merged[field] = merged.get(field, 0) + value
    out["turns"] = summarize_turns(turns)
    return out


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
        blob = json.dumps(dump_windows(metrics), separators=(",", ":"))
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
            return {**merge_windows(dumps), "workers": len(dumps)}

        return self._guard.run(remote, lambda: None)

    def close(self) -> None:
        self._daemon.close()
