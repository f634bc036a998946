"""The process's shared SDK clients (the Anthropic Performance Tuning guide's step 4, one shared
client): created lazily, one pool per process and event loop.

Building a pool opens nothing; the first client built asks the upstream for its address, which is
what starts the embedded emulator when there is no key (`resolve.py`).

A fork (gunicorn/uWSGI prefork, multiprocessing) copies the parent's open sockets; two processes
reading one TLS connection corrupt each other, so a child never touches the parent's clients. It
forgets them (closing would send the parent's connections a close-notify) and builds its own.

An async client's connections belong to the event loop that opened them. Code that runs on several
loops (Django's `async_to_sync`, tests, several apps) gets its own async clients per loop: one
while few answers stream at once, more shards of it under load (see `shards.py`).
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import Any

import anthropic
import httpx2
from httpx2._utils import get_environment_proxies

from .._errors import EngineClosedError
from .._loops import close_with_loop
from .._settings import AsyncHttpClient, Settings
from .governor import ASYNC_HOOKS, HOOKS
from .resolve import Upstream
from .shards import CountingTransport, LoopClients, Shard, keepalive_options

__all__ = ["ClientPool"]

_LoopEntry = tuple[LoopClients, AsyncGenerator[None, None]]

_pools: weakref.WeakSet[ClientPool] = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for pool in list(_pools):
        pool._forget_after_fork()


os.register_at_fork(after_in_child=_forget_all_after_fork)


class ClientPool:
    def __init__(
        self,
        *,
        upstream: Upstream,
        timeout: float,
        connect_timeout: float,
        max_retries: int,
        max_connections: int,
        max_keepalive_connections: int,
        keepalive_expiry: float = 5.0,
        async_http_client: AsyncHttpClient = "httpx",
    ) -> None:
        self._upstream = upstream
        self._options: dict[str, Any] = {
            "max_retries": max_retries,
            "timeout": httpx2.Timeout(timeout, connect=connect_timeout),
        }
        self._limits = httpx2.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            # httpx's 5 s, unless staying warm (warmup.py) pings less often than that.
            keepalive_expiry=keepalive_expiry,
        )
        self._http_client = async_http_client
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._sync: anthropic.Anthropic | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopEntry] = (
            weakref.WeakKeyDictionary()
        )
        # The client made outside any running loop, for users who build one at import time.
        self._async_unbound: anthropic.AsyncAnthropic | None = None
        self.closed = False
        self.created = 0
        _pools.add(self)

    @classmethod
    def for_settings(cls, upstream: Upstream, s: Settings) -> ClientPool:
        """The engine's pool: opens nothing (clients, and an embedded emulator, start at first use)."""
        return cls(
            upstream=upstream,
            timeout=s.timeout,
            connect_timeout=s.connect_timeout,
            max_retries=s.max_retries,
            max_connections=s.max_connections,
            max_keepalive_connections=s.max_keepalive_connections,
            # Staying warm pings an idle connection every `stay_warm_interval`: it must outlive that.
            keepalive_expiry=max(5.0, s.stay_warm_interval * 1.5) if s.stay_warm else 5.0,
            async_http_client=s.async_http_client,
        )

    def _forget_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._sync = None
        self._async = weakref.WeakKeyDictionary()
        self._async_unbound = None

    def _check(self) -> None:
        if self.closed:
            raise EngineClosedError("this firsttoken engine is closed; build a new Engine to make calls")
        if self._pid != os.getpid():
            # A fork that bypassed os.register_at_fork (a raw syscall from C code).
            self._forget_after_fork()

    @property
    def sync(self) -> anthropic.Anthropic:
        self._check()
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    self._sync = anthropic.Anthropic(
                        **self._client_options(),
                        http_client=anthropic.DefaultHttpxClient(limits=self._limits, event_hooks=HOOKS),
                    )
                    self.created += 1
                client = self._sync
        return client

    @property
    def async_(self) -> anthropic.AsyncAnthropic:
        self._check()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            if loop is None:
                if self._async_unbound is None:
                    self._async_unbound = self._new_async()
                return self._async_unbound
            entry = self._async.get(loop)
            if entry is None:
                clients = LoopClients(self._new_shard, max_connections=self._limits.max_connections or 1)
                entry = (clients, close_with_loop(loop, clients.aclose))
                self._async[loop] = entry
            return entry[0].pick()

    def _new_async(self) -> anthropic.AsyncAnthropic:
        return self._new_shard()[0]

    def _new_shard(self) -> Shard:
        options = self._client_options()
        self.created += 1
        if self._http_client == "aiohttp":
            aio = _CountedAioHttpClient(limits=self._limits, event_hooks=ASYNC_HOOKS)
            return anthropic.AsyncAnthropic(**options, http_client=aio), aio.counting
        limits, keepalive = self._limits, keepalive_options()
        transport = CountingTransport(httpx2.AsyncHTTPTransport(limits=limits, socket_options=keepalive))
        # The environment's proxies (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`...), mounted as the SDK's
        # default client mounts them: httpx reads them only when it builds a client's transport
        # itself, and a shard builds its own, to count its responses.
        mounts: dict[str, httpx2.AsyncBaseTransport | None] = {
            pattern: None
            if proxy is None
            else CountingTransport(
                httpx2.AsyncHTTPTransport(proxy=proxy, limits=limits, socket_options=keepalive), transport
            )
            for pattern, proxy in get_environment_proxies().items()
        }
        http = anthropic.DefaultAsyncHttpxClient(transport=transport, mounts=mounts, event_hooks=ASYNC_HOOKS)
        return anthropic.AsyncAnthropic(**options, http_client=http), transport

    def _client_options(self) -> dict[str, Any]:
        # Read per client, not at construction: the embedded emulator's address exists only once
        # it runs, and building the first client is the moment a call needs it.
        return {**self._options, "api_key": self._upstream.api_key, "base_url": self._upstream.base_url}

    def close(self) -> None:
        """Close the sync client now, and each async client on its own loop while that loop runs.

        An async client's connections can only be closed on its loop; one whose loop is not
        running is closed by that loop's shutdown (`_close_with_loop`), and a closed loop took
        its connections with it.
        """
        if self.closed:
            return
        self.closed = True
        if self._pid != os.getpid():
            return
        if self._sync is not None:
            self._sync.close()
        self._sync = None
        entries, self._async = list(self._async.items()), weakref.WeakKeyDictionary()
        for loop, (clients, _) in entries:
            if loop.is_running() and not loop.is_closed():
                asyncio.run_coroutine_threadsafe(clients.aclose(), loop)

    async def aclose(self) -> None:
        """`close()`, and the running loop's clients closed before it returns."""
        if self._pid != os.getpid():
            self.closed = True
            return
        mine = self._async.pop(asyncio.get_running_loop(), (None, None))[0]
        unbound, self._async_unbound = self._async_unbound, None
        self.close()
        if mine is not None:
            await mine.aclose()
        if unbound is not None:
            await unbound.close()


class _CountedAioHttpClient(anthropic.DefaultAioHttpClient):
    """The SDK's aiohttp client (its `aiohttp` extra), its transport counted as a shard's is.

    httpx builds a client's transport in `_init_transport`, the hook the SDK's aiohttp client
    itself overrides to put aiohttp there; the count wraps whatever that returns.
    """

    counting: CountingTransport

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx2.AsyncBaseTransport:
        self.counting = CountingTransport(super()._init_transport(*args, **kwargs))
        return self.counting
