"""Redis clients from the `redis_url` setting: plain, TLS, Unix socket, Sentinel and Cluster.

Every client gets the short `redis_timeout` for connecting and for each reply, and no retries of
its own: a retry would multiply the time a dead Redis costs a request, and the guard already
answers from local state instead.

redis-py is optional (`firsttoken[redis]`): it is imported by the functions that build a client,
never at import.
"""

from __future__ import annotations

import weakref
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["aclose_client", "async_client", "close_client", "safe_url", "sync_client"]

SyncClient = Any
AsyncClient = Any

# A Sentinel's master client does not own its connection pool, and the Sentinel keeps a client per
# sentinel of its own: closing the master client alone leaves both connected. The clients made
# here remember their Sentinel so that `close_client`/`aclose_client` close everything.
_sentinels: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def safe_url(url: str) -> str:
    """The URL without user name or password, for logs and the metrics."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def _options(timeout: float) -> dict[str, Any]:
    # No retries (each client gets `Retry(NoBackoff(), 0)` or the cluster's own default): a step
    # that times out falls back to local state at once. `retry_on_timeout` is not passed: redis-py
    # 6 deprecates it, and the asyncio RedisCluster refuses it.
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 0,
    }


def _sentinel(url: str) -> tuple[list[tuple[str, int]], str, dict[str, Any]]:
    """`redis+sentinel://[:password@]host:port[,host:port]/service[/db]` as redis-py's pieces."""
    parts = urlsplit(url)
    auth, _, hosts = parts.netloc.rpartition("@")
    nodes = []
    for item in hosts.split(","):
        host, _, port = item.rpartition(":")
        nodes.append((host or item, int(port) if host else 26379))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("a redis+sentinel:// URL names the service: redis+sentinel://host:26379/mymaster")
    extra: dict[str, Any] = {"db": int(path[1]) if len(path) > 1 else 0}
    if auth:
        user, _, password = auth.partition(":")
        extra["password"] = unquote(password) or None
        if user:
            extra["username"] = unquote(user)
    if parse_qs(parts.query).get("ssl") == ["true"]:
        extra["ssl"] = True
    return nodes, path[0], extra


def _redis() -> Any:
    """redis-py with the submodules used here, as `Any`.

    How much of redis-py is typed changes by version (5.0 leaves `Retry`, `from_url` and the
    Sentinel untyped, 8 types them), and the clients are `Any` to their callers: calling through
    `Any` keeps mypy right on every version without an ignore that is unused on some.
    """
    import redis
    import redis.asyncio
    import redis.asyncio.cluster
    import redis.asyncio.retry
    import redis.asyncio.sentinel
    import redis.backoff
    import redis.cluster
    import redis.retry
    import redis.sentinel

    return redis


def sync_client(url: str, timeout: float) -> SyncClient:
    r = _redis()
    options = _options(timeout)
    if url.startswith("redis+sentinel://"):
        nodes, service, extra = _sentinel(url)
        sentinel = r.sentinel.Sentinel(nodes, sentinel_kwargs=options, **options, **extra)
        client = sentinel.master_for(service, retry=r.retry.Retry(r.backoff.NoBackoff(), 0))
        _sentinels[client] = sentinel
        return client
    if url.startswith("redis+cluster://"):
        return r.cluster.RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"), **options)
    return r.Redis.from_url(url, retry=r.retry.Retry(r.backoff.NoBackoff(), 0), **options)


def async_client(url: str, timeout: float) -> AsyncClient:
    r = _redis()
    options = _options(timeout)
    retry = r.asyncio.retry.Retry(r.backoff.NoBackoff(), 0)
    if url.startswith("redis+sentinel://"):
        nodes, service, extra = _sentinel(url)
        sentinel = r.asyncio.sentinel.Sentinel(nodes, sentinel_kwargs=options, **options, **extra)
        client = sentinel.master_for(service, retry=retry)
        _sentinels[client] = sentinel
        return client
    if url.startswith("redis+cluster://"):
        return r.asyncio.cluster.RedisCluster.from_url(
            "redis://" + url.removeprefix("redis+cluster://"), **options
        )
    return r.asyncio.Redis.from_url(url, retry=retry, **options)


def close_client(client: SyncClient) -> None:
    """Close a `sync_client()` client and every connection it made."""
    sentinel = _sentinels.pop(client, None)
    client.close()
    if sentinel is not None:
        client.connection_pool.disconnect()
        for each in sentinel.sentinels:
            each.close()


async def aclose_client(client: AsyncClient) -> None:
    """Close an `async_client()` client and every connection it made (on the client's loop)."""
    sentinel = _sentinels.pop(client, None)
    if sentinel is None:
        await client.aclose()
        return
    await client.aclose(close_connection_pool=True)
    for each in sentinel.sentinels:
        await each.aclose()
