"""Rate-limit budgets in Redis: every worker draws on one estimate.

The arithmetic is `MemoryBudgets`' (budgets.py), moved into Lua scripts so each admission and each
reading of the headers is one atomic step on the server: two workers can never both spend the
last request of a budget. A model's state is one hash; the admission counter in it orders readings
across workers as the local one does within a process, and its `f:<seq>` fields are the calls in
flight ("<admitted at> <input tokens> <responses read by then>"). Times are wall-clock seconds from
the workers, which is why the state backend stamps them with `time.time` here.

While Redis is away the process-local twin (`local`) answers, and every reading of the headers
also lands there, so the fallback starts from a recent estimate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from .budgets import (
    FLIGHT_HORIZON,
    KINDS,
    PROBE_PATIENCE,
    PROBE_POLL,
    Admission,
    MemoryBudgets,
    number,
    retry_after,
)
from .guard import Guard
from .keys import Keys

__all__ = ["RedisBudgets"]

# A budget's estimate is rebuilt from the next response after this; a full refill takes 60 s.
STATE_TTL_MS = 120_000

# Both scripts that read the whole budget start the same way: the key, the time, the hash as a table.
_READ_BUDGET = """
local k = KEYS[1]
local now = tonumber(ARGV[1])
local flat = redis.call('HGETALL', k)
local s = {}
for i = 1, #flat, 2 do s[flat[i]] = flat[i + 1] end
"""

_RESERVE = (
    _READ_BUDGET
    + """
local blocked = tonumber(s['blocked_until'] or '0')
if now < blocked then return {tostring(blocked - now), 0, 0} end
if s['known'] ~= '1' then
  local since = tonumber(s['probe_since'] or '')
  if since and now - since < tonumber(ARGV[3]) then return {ARGV[4], 0, 1} end
  redis.call('HSET', k, 'probe_since', ARGV[1])
  local seq = redis.call('HINCRBY', k, 'admitted', 1)
  redis.call('HSET', k, 'f:' .. seq, ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. (s['readings'] or '0'))
  redis.call('PEXPIRE', k, ARGV[5])
  return {'0', seq, 0}
end
local needs = {['requests'] = 1, ['input-tokens'] = tonumber(ARGV[2]), ['output-tokens'] = 1}
local levels = {}
local wait = 0
for kind, need in pairs(needs) do
  local limit = tonumber(s[kind .. ':limit'] or '')
  if limit then
    local level = tonumber(s[kind .. ':level']) + (now - tonumber(s[kind .. ':stamp'])) * limit / 60
    if level > limit then level = limit end
    levels[kind] = level
    local want = math.min(need, limit)
    if level < want then wait = math.max(wait, (want - level) * 60 / limit) end
  end
end
if wait > 0 then return {tostring(wait), 0, 0} end
for kind, level in pairs(levels) do
  if kind ~= 'output-tokens' then level = level - needs[kind] end
  redis.call('HSET', k, kind .. ':level', tostring(level), kind .. ':stamp', ARGV[1])
end
local seq = redis.call('HINCRBY', k, 'admitted', 1)
redis.call('HSET', k, 'f:' .. seq, ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. (s['readings'] or '0'))
redis.call('PEXPIRE', k, ARGV[5])
return {'0', seq, 0}
"""
)

_FORCE = """
local k = KEYS[1]
local seq = redis.call('HINCRBY', k, 'admitted', 1)
local readings = redis.call('HGET', k, 'readings') or '0'
redis.call('HSET', k, 'f:' .. seq, ARGV[1] .. ' 0 ' .. readings)
redis.call('PEXPIRE', k, ARGV[2])
return seq
"""

_OBSERVE = (
    _READ_BUDGET
    + """
redis.call('HDEL', k, 'probe_since')
redis.call('HSET', k, 'known', '1')
if ARGV[2] == '429' then
  local delay = tonumber(ARGV[3])
  if delay < 0 then delay = 1 end
  local blocked = tonumber(s['blocked_until'] or '0')
  redis.call('HSET', k, 'blocked_until', tostring(math.max(blocked, now + delay)))
end
local readings = redis.call('HINCRBY', k, 'readings', 1)
local mine = 'f:' .. ARGV[4]
local alone = false
local flying, flying_tokens = 0, 0
for field, value in pairs(s) do
  if string.sub(field, 1, 2) == 'f:' then
    local at, tokens, seen = string.match(value, '^(%S+) (%S+) (%S+)$')
    if field == mine then
      redis.call('HDEL', k, field)
      alone = tonumber(seen) == readings - 1
    elseif now - tonumber(at) > tonumber(ARGV[6]) then
      redis.call('HDEL', k, field)
    else
      flying = flying + 1
      flying_tokens = flying_tokens + tonumber(tokens)
    end
  end
end
local in_flight = {['requests'] = flying, ['input-tokens'] = flying_tokens, ['output-tokens'] = 0}
local since = tonumber(ARGV[4])
if since <= 0 then since = tonumber(s['admitted'] or '0') end
local kinds = {'requests', 'input-tokens', 'output-tokens'}
for i, kind in ipairs(kinds) do
  local limit = tonumber(ARGV[5 + 2 * i])
  local remaining = tonumber(ARGV[6 + 2 * i])
  if limit and remaining and limit > 0 then
    local level = remaining - in_flight[kind]
    local adopt = true
    local known = tonumber(s[kind .. ':limit'] or '')
    if known and known == limit and not alone then
      if kind == 'requests' then
        local old = tonumber(s[kind .. ':level']) + (now - tonumber(s[kind .. ':stamp'])) * limit / 60
        if old > limit then old = limit end
        adopt = level < old
      else
        local seen = tonumber(s[kind .. ':seq'] or '')
        adopt = not (seen and seen > since)
      end
    end
    if adopt then
      redis.call('HSET', k, kind .. ':limit', tostring(limit), kind .. ':level', tostring(level),
        kind .. ':stamp', ARGV[1], kind .. ':seq', tostring(since))
    end
  end
end
redis.call('PEXPIRE', k, ARGV[5])
return 1
"""
)


class RedisBudgets:
    def __init__(self, client: Any, keys: Keys, guard: Guard, *, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.local = MemoryBudgets(clock=clock)
        self._client = client
        self._keys = keys
        self._guard = guard
        self._reserve = client.register_script(_RESERVE)
        self._observe = client.register_script(_OBSERVE)
        self._force = client.register_script(_FORCE)
        self._models_seen: set[str] = set()
        self._seen_lock = threading.Lock()

    def _key(self, model: str) -> str:
        with self._seen_lock:
            self._models_seen.add(model)
        return self._keys.key("budget", model)

    def reserve(self, model: str, input_tokens: int) -> Admission:
        def remote() -> Admission:
            wait, seq, probing = self._reserve(
                keys=[self._key(model)],
                args=[repr(self.clock()), input_tokens, PROBE_PATIENCE, PROBE_POLL, STATE_TTL_MS],
            )
            return Admission(float(wait), int(seq), bool(probing))

        return self._guard.run(remote, lambda: self.local.reserve(model, input_tokens))

    def force(self, model: str) -> int:
        return self._guard.run(
            lambda: int(self._force(keys=[self._key(model)], args=[repr(self.clock()), STATE_TTL_MS])),
            lambda: self.local.force(model),
        )

    def observe(self, model: str, status: int, headers: Mapping[str, str], seq: int | None = None) -> None:
        self.local.observe(model, status, headers, seq)
        delay = retry_after(headers) if status == 429 else None
        readings: list[str] = []
        for kind in KINDS:
            for part in ("limit", "remaining"):
                value = number(headers.get(f"anthropic-ratelimit-{kind}-{part}"))
                readings.append("" if value is None else repr(value))
        ttl = max(STATE_TTL_MS, int((delay or 0.0) * 1000) + STATE_TTL_MS)
        args = [
            repr(self.clock()),
            str(status),
            repr(-1.0 if delay is None else delay),
            seq or 0,
            ttl,
            FLIGHT_HORIZON,
        ]
        self._guard.run(lambda: self._observe(keys=[self._key(model)], args=[*args, *readings]), lambda: 0)

    def snapshot(self) -> dict[str, Any]:
        """The deployment's budgets for the models this worker has used (the local view when degraded)."""
        local = self.local.snapshot()

        def remote() -> dict[str, Any]:
            with self._seen_lock:
                models = sorted(self._models_seen)
            pipe = self._client.pipeline(transaction=False)
            for model in models:
                pipe.hgetall(self._keys.key("budget", model))
            now = self.clock()
            out: dict[str, Any] = {}
            for model, raw in zip(models, pipe.execute(), strict=True):
                state = {bytes(k).decode(): bytes(v).decode() for k, v in raw.items()}
                out[model] = _summary(state, now)
            return out

        return self._guard.run(remote, lambda: local)


def _summary(state: Mapping[str, str], now: float) -> dict[str, Any]:
    remaining: dict[str, int] = {}
    limits: dict[str, int] = {}
    for kind in KINDS:
        if f"{kind}:limit" not in state:
            continue
        limit = float(state[f"{kind}:limit"])
        level = float(state[f"{kind}:level"]) + (now - float(state[f"{kind}:stamp"])) * limit / 60.0
        remaining[kind] = int(min(limit, level))
        limits[kind] = int(limit)
    blocked = float(state.get("blocked_until", "0"))
    return {"remaining": remaining, "limit": limits, "blocked_for": round(max(0.0, blocked - now), 3)}
