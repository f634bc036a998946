"""No cold first token: warm a process's code paths and upstream connection, and keep one open.

A fresh process's first call pays for what every later call finds done: the SDK's lazy imports
and model classes, the SSL context, DNS, and the TCP and TLS handshakes (about 100 ms on
loopback without TLS, more against the real API). `WarmUp.run()` / `arun()` pays it before the
first user does, with nothing billed:

* the code paths: one streamed answer, canned in memory (`httpx2.MockTransport`), goes through the
  SDK's `messages.with_streaming_response.create` and this package's decoder, accumulator and
  event reader; no byte leaves the process;
* the connection: `GET /v1/models?limit=1` on the pool's own client (`_async/warmup.py`), which
  leaves the connection in the pool for the first real call.

After a quiet spell longer than the pool's keep-alive, the next call would connect again. Staying
warm keeps one connection per worker open instead: whenever the engine has made no call for
`interval` seconds, one free `GET /v1/models` goes out, for up to `stay_warm` seconds after the
last call; then the worker goes quiet. Cost: at most 60 / interval free requests per minute per
idle worker (3 at the default 20 s), none while calls flow, none once the worker has been idle
for `stay_warm` seconds.

A failure is logged once per process and never raised: the first call then connects as it would
have without warm-up.

What the code paths are and the freeze after them: `codepaths.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .._metrics import UNCOUNTED, CountWarming
from .._redact import scrub
from .._settings import Settings
from ._async.warmup import OPENING_REQUEST, aopen_connection
from ._sync.warmup import open_connection
from .clients import ClientPool
from .codepaths import aexercise_code_paths, exercise_code_paths, freeze_loaded_objects

__all__ = ["WarmUp", "WarmUpReport"]

logger = logging.getLogger("firsttoken")

Status = Literal["warm", "failed", "timed_out", "off"]


@dataclass(frozen=True, slots=True)
class WarmUpReport:
    """What one warm-up did: `connection` is the request that opened it, `seconds` its duration."""

    status: Status
    seconds: float
    connection: str | None = None
    error: str | None = None
    kind: Literal["sync", "async"] = "sync"


_warm_ups: weakref.WeakSet[WarmUp] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for each in list(_warm_ups):
        each._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


class WarmUp:
    """One per engine: start-up warm-up, warm-up again in a forked child, and staying warm."""

    def __init__(
        self,
        pool: ClientPool,
        *,
        enabled: bool,
        timeout: float,
        stay_warm: float,
        interval: float,
        model: Callable[[], str],
        govern: Callable[[Any], Any] = lambda client: client,
        count: CountWarming = UNCOUNTED,
        freeze: bool = False,
    ) -> None:
        self._pool = pool
        self._freeze = freeze
        # Each stay-warm ping, counted in the metrics (the deployment's sum, the scrape).
        self._count = count
        # The client calls go out on: the pool's, or its twin with the SDK's tracing off
        # (`Resilience.client`). The opening request goes out on it, so that neither the twin's
        # derivation nor that client's own first-request set-up is left to the first call.
        self._govern = govern
        self.enabled = enabled
        self.timeout = timeout
        self.stay_warm = stay_warm
        self.interval = interval
        self._model = model
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.last_used = time.monotonic()
        self._last_ping = 0.0
        self.runs = 0
        self.pings = 0
        self.ping_failures = 0
        self.last: WarmUpReport | None = None
        self._logged = False
        self._code_warm = False
        self._closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        _warm_ups.add(self)

    # -- start-up ---------------------------------------------------------------------------------

    @classmethod
    def for_settings(
        cls,
        pool: ClientPool,
        s: Settings,
        *,
        model: Callable[[], str],
        govern: Callable[[Any], Any],
        count: CountWarming = UNCOUNTED,
    ) -> WarmUp:
        return cls(
            pool,
            enabled=s.warm_up,
            timeout=s.warm_up_timeout,
            stay_warm=s.stay_warm,
            interval=s.stay_warm_interval,
            model=model,
            govern=govern,
            count=count,
            freeze=s.gc_freeze,
        )

    def touch(self) -> None:
        """A call started or finished: the connection it used is fresh."""
        self.last_used = time.monotonic()

    def run(self) -> WarmUpReport:
        """Warm the code paths and the sync client's connection now (blocking; see `start`)."""
        started = time.perf_counter()
        try:
            if not self._code_warm:
                exercise_code_paths(self._model())
                self._code_paths_ran()
            open_connection(self._govern(self._pool.sync), seconds=self.timeout, own=True)
        except Exception as exc:
            return self._done(self._failed(exc, started, "sync"))
        self._code_warm = True
        self.start_staying_warm()
        return self._done(WarmUpReport("warm", time.perf_counter() - started, OPENING_REQUEST, kind="sync"))

    async def arun(self) -> WarmUpReport:
        """Warm the code paths and the running loop's async client's connection."""
        started = time.perf_counter()
        try:
            if not self._code_warm:
                exercise_code_paths(self._model())
                await aexercise_code_paths(self._model())
                self._code_paths_ran()
            await aopen_connection(self._govern(self._pool.async_), seconds=self.timeout, own=True)
        except Exception as exc:
            return self._done(self._failed(exc, started, "async"))
        self._code_warm = True
        self.astart_staying_warm()
        return self._done(WarmUpReport("warm", time.perf_counter() - started, OPENING_REQUEST, kind="async"))

    def _code_paths_ran(self) -> None:
        if self._freeze:
            freeze_loaded_objects()

    def start(self, *, wait: bool = True) -> WarmUpReport | None:
        """`run()` in a thread, waited for at most `timeout` seconds (none with `wait=False`)."""
        if not self.enabled or self._closed:
            return self._done(WarmUpReport("off", 0.0)) if wait else None
        done: list[WarmUpReport] = []
        thread = threading.Thread(
            target=lambda: done.append(self.run()), name="firsttoken-warm-up", daemon=True
        )
        thread.start()
        if not wait:
            return None
        thread.join(self.timeout)
        if done:
            return done[0]
        return self._done(self._late("sync"))

    async def astart(self) -> WarmUpReport:
        """`arun()`, waited for at most `timeout` seconds; past it, it goes on in the background."""
        if not self.enabled or self._closed:
            return self._done(WarmUpReport("off", 0.0, kind="async"))
        task = asyncio.get_running_loop().create_task(self.arun())
        self._tasks.add(task)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            return self._done(self._late("async"))

    def in_background(self) -> None:
        """Warm without waiting: on the running loop when there is one (an ASGI server loading the
        app), else in a thread."""
        if not self.enabled or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.start(wait=False)
            return
        self._tasks.add(loop.create_task(self.astart()))

    def _late(self, kind: Literal["sync", "async"]) -> WarmUpReport:
        self._log_once(f"warm-up is still running after {self.timeout:g} s; serving without waiting for it")
        return WarmUpReport("timed_out", self.timeout, kind=kind)

    def _failed(self, exc: Exception, started: float, kind: Literal["sync", "async"]) -> WarmUpReport:
        # The cause, scrubbed: an SDK error's text can quote a URL, and a URL can hold credentials.
        cause = scrub(" ".join(str(exc).split())) or "no message"
        self._log_once(f"warm-up failed ({type(exc).__name__}: {cause}); the first call will connect itself")
        return WarmUpReport("failed", time.perf_counter() - started, error=type(exc).__name__, kind=kind)

    def _log_once(self, message: str) -> None:
        with self._lock:
            if self._logged:
                return
            self._logged = True
        logger.warning("firsttoken: %s", message)

    def _done(self, report: WarmUpReport) -> WarmUpReport:
        with self._lock:
            if report.status != "off":
                self.runs += 1
            # A late or failed report never hides a success the background run reported first.
            if self.last is None or self.last.status != "warm" or report.status == "warm":
                self.last = report
        return report

    def _forked(self) -> None:
        """In a forked child (a prefork server's worker): warm again, since the parent's connections
        are not the child's (`clients.py`). Only if the parent warmed up: a child of a process that
        never served (a test runner's fork) stays as quiet as its parent."""
        warmed = self.runs > 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._thread, self._stop = None, threading.Event()
        self._tasks = weakref.WeakSet()
        self.runs = self.pings = self.ping_failures = 0
        self.last, self._logged = None, False
        if warmed and self.enabled and not self._closed:
            self.start(wait=False)

    # -- staying warm -----------------------------------------------------------------------------

    def _due(self) -> bool:
        # Idle since the last call or ping, and not yet idle since the last call for `stay_warm`.
        now = time.monotonic()
        fresh = max(self.last_used, self._last_ping)
        return now - fresh >= self.interval and now - self.last_used <= self.stay_warm

    def start_staying_warm(self) -> None:
        if self.stay_warm <= 0 or self._closed:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            stop = self._stop
            self._thread = threading.Thread(
                target=self._stay_warm, args=(stop,), name="firsttoken-stay-warm", daemon=True
            )
            self._thread.start()

    def _stay_warm(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval / 2):
            if self._due():
                self._ping(lambda: open_connection(self._pool.sync, seconds=self.timeout))

    def astart_staying_warm(self) -> None:
        """A task on the running loop that keeps that loop's connection open (ended by `aclose`)."""
        if self.stay_warm <= 0 or self._closed:
            return
        self._tasks.add(asyncio.get_running_loop().create_task(self._astay_warm()))

    async def _astay_warm(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.interval / 2)
            if self._due():
                self._last_ping = time.monotonic()
                try:
                    await aopen_connection(self._pool.async_, seconds=self.timeout)
                except Exception:
                    self.ping_failures += 1
                    self._count("stay_warm", "failed", None)
                else:
                    self.pings += 1
                    self._count("stay_warm", "sent", None)

    def _ping(self, ping: Callable[[], None]) -> None:
        self._last_ping = time.monotonic()
        try:
            ping()
        except Exception:
            self.ping_failures += 1
            self._count("stay_warm", "failed", None)
            return
        self.pings += 1
        self._count("stay_warm", "sent", None)

    def stats(self) -> dict[str, Any]:
        last = self.last
        return {
            "enabled": self.enabled,
            "runs": self.runs,
            "last": None if last is None else {**asdict(last), "seconds": round(last.seconds, 4)},
            "stay_warm_s": self.stay_warm,
            "stay_warm_pings": self.pings,
            "stay_warm_failures": self.ping_failures,
        }

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        for task in list(self._tasks):
            loop = task.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
