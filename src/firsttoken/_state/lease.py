"""Who warms a prefix across machines: a Redis lease (SET NX PX) that its holder keeps renewing.

A holder that dies stops renewing, and its lease lapses after `lease` seconds, so another process
takes over warming. Only the holder's random token can renew or release a lease (compare-and-set
in Lua), so a holder that lost its lease to a pause never deletes the next holder's. While Redis is
away the machine-local file lock decides instead: one warmer per machine rather than none.
"""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from typing import Any

from .._threads import Daemon
from .guard import Guard
from .keys import Keys
from .locks import FileLock, LockFactory, default_lock_dir

__all__ = ["LeaseKeeper", "RedisLease"]

# Long enough that renewing (every third of it) costs nothing, short enough that a dead warmer's
# prefix is taken over well within a 5-minute cache TTL.
LEASE_SECONDS = 15.0

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    def __init__(self, keeper: LeaseKeeper, name: str, fallback: FileLock) -> None:
        self._keeper = keeper
        self.key = keeper.keys.key("warm", name)
        self._fallback = fallback
        self._token: str | None = None
        self._pid = os.getpid()

    @property
    def held(self) -> bool:
        return self._token is not None and self._pid == os.getpid()

    def acquire(self) -> bool:
        if self._pid != os.getpid():
            # A forked child shares the parent's token but not its renewals.
            self._token, self._pid = None, os.getpid()
        keeper = self._keeper
        return keeper.guard.run(self._acquire_remote, self._fallback.acquire)

    def _acquire_remote(self) -> bool:
        keeper = self._keeper
        if self._token is not None:
            if self.renew():
                return True
            self._token = None
        token = uuid.uuid4().hex
        if keeper.client.set(self.key, token, nx=True, px=keeper.lease_ms):
            self._token = token
            keeper.hold(self)
            return True
        return False

    def renew(self) -> bool:
        """Extend the lease; False (and no longer held) if another process holds it now."""
        token = self._token
        if token is None:
            return False
        if not bool(self._keeper.renew_script(keys=[self.key], args=[token, self._keeper.lease_ms])):
            self._token = None
            return False
        return True

    def release(self) -> None:
        token, self._token = self._token, None
        self._keeper.drop(self)
        self._fallback.release()
        if token is not None and self._pid == os.getpid():
            self._keeper.guard.run(
                lambda: self._keeper.release_script(keys=[self.key], args=[token]), lambda: 0
            )

    def __repr__(self) -> str:
        return f"<RedisLease {self.key} {'held' if self.held else 'free'}>"


class LeaseKeeper:
    """Renews every held lease of one state backend from one daemon thread."""

    def __init__(self, client: Any, keys: Keys, guard: Guard, *, lease: float = LEASE_SECONDS) -> None:
        self.client = client
        self.keys = keys
        self.guard = guard
        self.lease_ms = max(1, int(lease * 1000))
        self.renew_script = client.register_script(_RENEW)
        self.release_script = client.register_script(_RELEASE)
        self._held: weakref.WeakSet[RedisLease] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._daemon = Daemon(self._run, name="firsttoken-lease")

    def factory(self, directory: str | None) -> LockFactory:
        where = directory or default_lock_dir()

        def make(name: str) -> RedisLease:
            return RedisLease(self, name, FileLock(where, name))

        return make

    def hold(self, lease: RedisLease) -> None:
        with self._lock:
            self._held.add(lease)
        self._daemon.start()

    def drop(self, lease: RedisLease) -> None:
        with self._lock:
            self._held.discard(lease)

    def _run(self) -> None:
        interval = self.lease_ms / 3000.0
        while not self._daemon.stopping.wait(interval):
            with self._lock:
                leases = list(self._held)
            for lease in leases:
                # A failed renewal (Redis away) is retried next round; the lease may lapse meanwhile,
                # and then the next acquire() finds out.
                self.guard.run(lease.renew, lambda: False)

    def close(self) -> None:
        self._daemon.close()
