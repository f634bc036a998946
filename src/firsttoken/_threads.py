"""Threads that read one stream each under WSGI, kept for the next stream instead of started anew;
and `Daemon`, the one background thread per process of a store or hub, started when first needed.

A WSGI answer's body is read by a thread of its own (`_heartbeat.beating`), so that the idle
heartbeat can beat while the model thinks. Starting that thread is on the way to the first token:
`Thread.start()` waits until the new thread runs, about 90 µs here, where handing a job to an
idle thread is a queue put. `concurrent.futures.ThreadPoolExecutor` reuses threads the same way
but has a fixed ceiling, past which a stream would wait silently for another to end; this pool
never refuses: it starts a thread when none is idle, and an idle one exits after `idle` seconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any

__all__ = ["Daemon", "ReaderThreads", "readers"]

_Job = tuple[Callable[..., object], tuple[Any, ...]]


class ReaderThreads:
    """`run(fn, *args)` on an idle thread of the pool, or on a new one when none is idle."""

    def __init__(self, *, idle: float = 30.0, name: str = "firsttoken-relay") -> None:
        self.idle_seconds = idle
        self.name = name
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._jobs: SimpleQueue[_Job] = SimpleQueue()
        # Threads waiting for a job that no `run` has claimed yet.
        self._idle = 0
        self.started = 0

    @property
    def idle(self) -> int:
        return self._idle

    def run(self, fn: Callable[..., object], *args: Any) -> None:
        with self._lock:
            if self._idle:
                # Put under the lock: a thread that times out checks the queue under it too, so
                # the job is never left with no thread to take it.
                self._idle -= 1
                self._jobs.put((fn, args))
                return
            self.started += 1
        threading.Thread(target=self._work, args=((fn, args),), name=self.name, daemon=True).start()

    def _work(self, job: _Job) -> None:
        jobs = self._jobs
        while True:
            fn, args = job
            # A job handles its own errors (the body reader hands them to the server's thread); one
            # that raises ends its thread as a plain thread's would, never counted idle.
            fn(*args)
            del fn, args, job  # what the job held is not kept alive while the thread waits
            with self._lock:
                self._idle += 1
            try:
                job = jobs.get(timeout=self.idle_seconds)
            except Empty:
                with self._lock:
                    try:
                        job = jobs.get_nowait()
                    except Empty:
                        self._idle -= 1
                        return


readers = ReaderThreads()

# A forked worker has none of its parent's threads; its count of idle ones must start at zero.
os.register_at_fork(after_in_child=readers._reset)


class Daemon:
    """One daemon thread running `run` in this process: started by the first `start()` (again in
    a forked child, which has none of its parent's threads), never after `close()`.

    `run` loops until `stopping` is set, waiting on it (or on `idle()`) between rounds, so that
    `close()` ends it at once: the lease keeper, the metrics publisher and the resume hub each
    keep one.
    """

    def __init__(self, run: Callable[[], None], *, name: str) -> None:
        self._run = run
        self.name = name
        self.stopping = threading.Event()
        self._woken = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def start(self) -> None:
        """Start the thread unless it runs already in this process or `close()` was called."""
        with self._lock:
            if self._pid != os.getpid():
                self._thread, self._pid = None, os.getpid()
            if self._thread is None and not self.stopping.is_set():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """End the thread's current `idle()` wait now (there is work for it)."""
        self._woken.set()

    def idle(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for `wake()` or `close()`."""
        self._woken.wait(timeout)
        self._woken.clear()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread and wait for it (idempotent); from the thread itself, or from a forked
        child that does not own it, only stop it."""
        self.stopping.set()
        self._woken.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=timeout)
