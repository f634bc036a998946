"""Shared state for many workers and machines: one interface, a memory and a Redis backend.

Cooldowns, rate-limit budgets, prompt-cache warming leases, the classification cache, the opt-in
response cache's entries, agent turns paused for approval and the metrics live behind `State` (see
`base.py`). The protocol of each
store is defined here, next to its implementations; the layers above import it from here. In-process
memory is the embedded default; `redis_url` (or `FIRSTTOKEN_REDIS_URL`) moves them to Redis,
shared by every worker that uses the same URL and `redis_prefix`. Redis is imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import SettingsError
from .approvals import Approvals
from .base import ResponseStore, State
from .breaker import BreakerStore, MemoryBreakerStore
from .budgets import Admission, Budgets, MemoryBudgets
from .claims import Claims, MemoryClaims
from .classify import ClassifyCache, MemoryClassifyCache
from .keys import request_digest
from .locks import FileLock, LockFactory, WarmLock, file_locks, lock_name

if TYPE_CHECKING:
    from .._metrics import Metrics
    from .._settings import Settings
    from .chats import ChatStore
    from .streams import RedisStreams

__all__ = [
    "Admission",
    "Approvals",
    "BreakerStore",
    "Budgets",
    "Claims",
    "ClassifyCache",
    "FileLock",
    "LockFactory",
    "MemoryBreakerStore",
    "MemoryBudgets",
    "MemoryClaims",
    "MemoryClassifyCache",
    "ResponseStore",
    "State",
    "WarmLock",
    "build_chats",
    "build_state",
    "build_streams",
    "file_locks",
    "lock_name",
    "request_digest",
]


def build_state(settings: Settings, *, metrics: Metrics | None = None) -> State:
    """The backend `settings` ask for; a `redis_url` without redis-py installed fails naming the key."""
    if settings.redis_url is None:
        from .memory import MemoryState

        return MemoryState(classify_cache_size=settings.classify_cache_size)
    try:
        # Only to fail here, at start-up, naming the extra: the Redis modules import redis-py
        # where they build a client.
        import redis  # noqa: F401
    except ImportError:
        raise SettingsError("redis_url", "needs the redis package: pip install 'firsttoken[redis]'") from None
    from .redis import RedisState

    try:
        return RedisState(
            url=settings.redis_url,
            prefix=settings.redis_prefix,
            timeout=settings.redis_timeout,
            classify_cache_size=settings.classify_cache_size,
            metrics=metrics,
        )
    except ValueError as exc:
        raise SettingsError("redis_url", str(exc)) from None


def build_streams(settings: Settings) -> RedisStreams | None:
    """The Redis Streams of resumable answers, when `resumes` is on and Redis is set."""
    if not settings.resumes or settings.redis_url is None:
        return None
    # Imported here: redis-py is there only when Redis is set (build_state checked it).
    from .streams import RedisStreams

    return RedisStreams(
        url=settings.redis_url,
        prefix=settings.redis_prefix,
        timeout=settings.redis_timeout,
        ttl=settings.resume_ttl,
    )


def build_chats(settings: Settings) -> ChatStore:
    """Where held conversations live (threaded chats), each `chat_ttl` after its last turn: Redis
    when it is set, under the deployment's prefix, else this process's memory."""
    from .chats import MemoryChats, RedisChats

    if settings.redis_url is None:
        return MemoryChats(ttl=settings.chat_ttl)
    return RedisChats(
        url=settings.redis_url,
        prefix=settings.redis_prefix,
        timeout=settings.redis_timeout,
        ttl=settings.chat_ttl,
    )
