"""Redis down or slow never takes a request down: every remote step has a process-local twin.

`Guard.run(remote, local)` tries Redis; on a connection error or timeout it runs the local step,
logs the outage once, raises the `degraded` flag for the metrics, and sends everything to the local
twin for `retry_after` seconds, so an outage costs one timeout, not one per call. The first remote
step after that either succeeds, and the guard recovers by itself (logged once too), or fails and
waits again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["Guard", "remote_errors"]

logger = logging.getLogger("firsttoken.state")

T = TypeVar("T")
# A second between attempts while Redis is down: recovery within a second, one failed try a second.
RETRY_AFTER = 1.0


def remote_errors() -> tuple[type[Exception], ...]:
    """What a remote step raises when Redis is down or slow.

    redis-py raises its own ConnectionError/TimeoutError; a socket can still surface a bare OSError.
    Imported here, not at the top: only a Redis backend builds a guard, and redis-py is optional.
    """
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class Guard:
    def __init__(
        self, *, where: str, retry_after: float = RETRY_AFTER, clock: Callable[[], float] = time.monotonic
    ) -> None:
        # `where` is the URL without credentials, for the log.
        self.where = where
        self.retry_after = retry_after
        self.clock = clock
        self.degraded = False
        # Outages seen and steps answered locally since start (for the metrics).
        self.outages = 0
        self.local_steps = 0
        self._retry_at = 0.0
        self._lock = threading.Lock()
        # Called in a forked child on its first remote step (gunicorn --preload builds the engine in
        # the master): background threads do not survive a fork and must start again.
        self.after_fork: list[Callable[[], None]] = []
        self._pid = os.getpid()
        self._errors = remote_errors()

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._lock = threading.Lock()
            for hook in self.after_fork:
                hook()

    @property
    def remote_ok(self) -> bool:
        """Whether the next step should try Redis (healthy, or due for a recovery attempt)."""
        return not self.degraded or self.clock() >= self._retry_at

    def run(self, remote: Callable[[], T], local: Callable[[], T]) -> T:
        self._check_fork()
        if not self.remote_ok:
            return self._local(local)
        try:
            result = remote()
        except self._errors as exc:
            self.failed(exc)
            return self._local(local)
        self.succeeded()
        return result

    async def arun(self, remote: Callable[[], Awaitable[T]], local: Callable[[], T]) -> T:
        self._check_fork()
        if not self.remote_ok:
            return self._local(local)
        try:
            result = await remote()
        except self._errors as exc:
            self.failed(exc)
            return self._local(local)
        self.succeeded()
        return result

    def _local(self, local: Callable[[], T]) -> T:
        with self._lock:
            self.local_steps += 1
        return local()

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = self.clock() + self.retry_after
            if self.degraded:
                return
            self.degraded = True
            self.outages += 1
        logger.warning(
            "firsttoken: shared state at %s unreachable (%s); using process-local state until it answers",
            self.where,
            type(exc).__name__,
        )

    def succeeded(self) -> None:
        if not self.degraded:
            return
        with self._lock:
            if not self.degraded:
                return
            self.degraded = False
        logger.warning("firsttoken: shared state at %s answers again; sharing resumed", self.where)

    def describe(self) -> dict[str, Any]:
        return {
            "degraded": self.degraded,
            "outages": self.outages,
            "local_steps": self.local_steps,
        }
