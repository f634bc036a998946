"""Per-client budgets: how many requests and input tokens one browser client may spend per minute.

Two token buckets per client (requests, tokens), each refilling continuously at its limit per 60
seconds, as the API's own buckets do: a client may burst up to a minute's worth and then goes at
the steady rate. `take` charges both or neither. The client's name is what the app says
identifies one (an IP address, a user id); it reaches a store only as a digest, since it may be
personal data. `MemoryClientBudgets` holds them for one process, `RedisClientBudgets` for every
worker that shares the Redis, each step one Lua script so two workers cannot both spend the last
request; while Redis is away the process-local twin answers.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from .guard import Guard
from .keys import Keys, digest

__all__ = ["ClientBudgets", "MemoryClientBudgets", "RedisClientBudgets"]

Clock = Callable[[], float]
# Clients remembered per process: an idle bucket is full again within a minute, so dropping the
# least recently seen one past this many only forgets a client that is not spending.
CLIENTS = 10_000


class ClientBudgets(Protocol):
    def take(self, client: str, tokens: int, *, requests_per_minute: int, tokens_per_minute: int) -> float:
        """Charge one request of `tokens` if both budgets allow it now (0.0), else the seconds to wait.

        A limit of 0 is no limit; a request bigger than a whole minute's tokens waits as for a full
        bucket (the per-request token limit is what refuses it outright)."""

    async def atake(
        self, client: str, tokens: int, *, requests_per_minute: int, tokens_per_minute: int
    ) -> float: ...


def _wait(level: float, need: float, limit: int) -> float:
    want = min(need, limit)
    return 0.0 if level >= want else (want - level) * 60 / limit


class MemoryClientBudgets:
    def __init__(self, *, clock: Clock = time.monotonic, size: int = CLIENTS) -> None:
        self.clock = clock
        self.size = size
        self._lock = threading.Lock()
        # client -> (stamp, requests left, tokens left)
        self._buckets: OrderedDict[str, tuple[float, float, float]] = OrderedDict()

    def take(self, client: str, tokens: int, *, requests_per_minute: int, tokens_per_minute: int) -> float:
        rpm, tpm = requests_per_minute, tokens_per_minute
        now = self.clock()
        with self._lock:
            stamp, requests, spent = self._buckets.get(client, (now, float(rpm), float(tpm)))
            elapsed = max(0.0, now - stamp)
            requests = min(float(rpm), requests + elapsed * rpm / 60)
            spent = min(float(tpm), spent + elapsed * tpm / 60)
            wait = max(
                _wait(requests, 1, rpm) if rpm else 0.0,
                _wait(spent, tokens, tpm) if tpm else 0.0,
            )
            if wait == 0.0:
                requests -= 1 if rpm else 0
                spent -= tokens if tpm else 0
            self._buckets[client] = (now, requests, spent)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.size:
                self._buckets.popitem(last=False)
            return wait

    async def atake(
        self, client: str, tokens: int, *, requests_per_minute: int, tokens_per_minute: int
    ) -> float:
        return self.take(
            client, tokens, requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute
        )


# KEYS[1]: the client's hash. ARGV: now (s), tokens, rpm, tpm, ttl (ms). Returns the wait (string).
_TAKE = """
local k = KEYS[1]
local now = tonumber(ARGV[1])
local need = {1, tonumber(ARGV[2])}
local limit = {tonumber(ARGV[3]), tonumber(ARGV[4])}
local names = {'requests', 'tokens'}
local stamp = tonumber(redis.call('HGET', k, 'stamp') or ARGV[1])
local elapsed = math.max(0, now - stamp)
local levels = {}
local wait = 0
for i = 1, 2 do
  if limit[i] > 0 then
    local level = tonumber(redis.call('HGET', k, names[i]) or tostring(limit[i]))
    level = math.min(limit[i], level + elapsed * limit[i] / 60)
    levels[i] = level
    local want = math.min(need[i], limit[i])
    if level < want then wait = math.max(wait, (want - level) * 60 / limit[i]) end
  end
end
for i = 1, 2 do
  if levels[i] then
    local level = levels[i]
    if wait == 0 then level = level - need[i] end
    redis.call('HSET', k, names[i], tostring(level))
  end
end
redis.call('HSET', k, 'stamp', ARGV[1])
redis.call('PEXPIRE', k, ARGV[5])
return tostring(wait)
"""

# A full refill takes 60 s; the key outlives that so a slow clock on one machine never reads a
# bucket that vanished early (expiry cleans up, it does not time anything).
TTL_MS = 120_000


class RedisClientBudgets:
    def __init__(self, client: Any, async_client: Callable[[], Any], keys: Keys, guard: Guard) -> None:
        self._client = client
        self._async_client = async_client
        self._keys = keys
        self._guard = guard
        self._take = client.register_script(_TAKE)
        # Wall time: buckets are stamped by several machines. The twin keeps monotonic time.
        self.local = MemoryClientBudgets()

    def _args(self, client: str, tokens: int, rpm: int, tpm: int) -> tuple[list[str], list[Any]]:
        return [self._keys.key("client", digest(client))], [repr(time.time()), tokens, rpm, tpm, TTL_MS]

    def take(self, client: str, tokens: int, *, requests_per_minute: int, tokens_per_minute: int) -> float:
        keys, args = self._args(client, tokens, requests_per_minute, tokens_per_minute)
        return float(
            self._guard.run(
                lambda: self._take(keys=keys, args=args),
                lambda: self.local.take(
                    client,
                    tokens,
                    requests_per_minute=requests_per_minute,
                    tokens_per_minute=tokens_per_minute,
                ),
            )
        )

    async def atake(
        self, client: str, tokens: int, *, requests_per_minute: int, tokens_per_minute: int
    ) -> float:
        keys, args = self._args(client, tokens, requests_per_minute, tokens_per_minute)

        async def remote() -> Any:
            # EVAL, not the sync client's cached script: the script is small, and an async
            # client's script cache would be one more thing kept per event loop.
            return await self._async_client().eval(_TAKE, len(keys), *keys, *args)

        return float(
            await self._guard.arun(
                remote,
                lambda: self.local.take(
                    client,
                    tokens,
                    requests_per_minute=requests_per_minute,
                    tokens_per_minute=tokens_per_minute,
                ),
            )
        )
