"""Who warms a prefix: one process per machine, chosen by a non-blocking file lock.

The lock is a small Protocol so a shared store (Redis, for several machines) can replace the file.
Lock names hash the prefix, the model and the upstream base URL; never the API key.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable
from typing import Protocol

__all__ = ["FileLock", "LockFactory", "WarmLock", "default_lock_dir", "file_locks", "lock_name"]


class WarmLock(Protocol):
    """Held by at most one process at a time; held until released or the holder exits."""

    def acquire(self) -> bool:
        """Take the lock without waiting; True if this process now holds it (or already did)."""
        ...

    def release(self) -> None: ...


LockFactory = Callable[[str], WarmLock]


def lock_name(*, prefix_digest: str, model: str, base_url: str) -> str:
    return hashlib.sha256(f"{base_url}\0{model}\0{prefix_digest}".encode()).hexdigest()[:32]


def default_lock_dir() -> str:
    return os.path.join(tempfile.gettempdir(), "firsttoken-warm")


class FileLock:
    """`fcntl.flock` on `<dir>/<name>.lock`; the kernel drops it when the holding process dies."""

    def __init__(self, directory: str, name: str) -> None:
        self.path = os.path.join(directory, f"{name}.lock")
        self._directory = directory
        self._fd: int | None = None
        self._pid = os.getpid()

    def acquire(self) -> bool:
        if self._pid != os.getpid():
            # A forked child inherits the descriptor but must not believe it holds the lock.
            self._fd, self._pid = None, os.getpid()
        if self._fd is not None:
            return True
        os.makedirs(self._directory, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._pid == os.getpid():
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __repr__(self) -> str:
        return f"<FileLock {self.path} {'held' if self._fd is not None else 'free'}>"


def file_locks(directory: str | None) -> LockFactory:
    where = directory or default_lock_dir()

    def factory(name: str) -> WarmLock:
        return FileLock(where, name)

    return factory
