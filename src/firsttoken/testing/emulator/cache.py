"""The prompt-cache model: breakpoint prefixes, lookback, TTLs, and cache-miss diagnostics.

A request is flattened into blocks in cache order (tools, then system, then each message's
content blocks). Block i's prefix hash chains the model id and the canonical JSON of blocks
0..i, so a prefix hit means everything up to and including that block is byte-identical.

Accounting for a request (`PromptCache.account`):

* read: the longest stored, unexpired prefix found at a breakpoint or up to `LOOKBACK_BLOCKS`
  blocks before one; its TTL is refreshed;
* creation: tokens after the read prefix up to the last breakpoint, split by the TTL of the
  breakpoint that closes each segment; every breakpoint prefix is (re)stored;
* input: the rest, after the last breakpoint.

A prefix shorter than the family's minimum cacheable length is neither read nor stored; if the last
breakpoint is below the minimum nothing is cached and every token is plain input.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .protocol import MessageRequest
from .tokens import MESSAGE_OVERHEAD, block_tokens, canonical

__all__ = ["CacheUsage", "PromptBlocks", "PromptCache", "flatten"]

LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
# Bounded so a long benchmark cannot grow memory without limit; oldest entries go first.
MAX_ENTRIES = 100_000
MAX_FINGERPRINTS = 10_000


@dataclass(frozen=True)
class PromptBlocks:
    hashes: list[bytes]
    cumulative: list[int]  # cumulative[i] = tokens of blocks 0..i
    breakpoints: list[tuple[int, str]]  # (block index, ttl)
    system_hash: str
    tools_hash: str
    message_hashes: list[str]

    @property
    def total(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0


@dataclass(frozen=True)
class CacheUsage:
    input_tokens: int
    cache_read: int
    cache_5m: int
    cache_1h: int

    @property
    def cache_creation(self) -> int:
        return self.cache_5m + self.cache_1h


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _text_block(text: str) -> dict[str, Any]:
    # The API reads a string `content` or `system` as one text block: the same prompt, the same
    # cache entry, whichever form a request spells it in (a warm marks the block, a chat sends text).
    return {"type": "text", "text": text}


def flatten(req: MessageRequest) -> PromptBlocks:
    items: list[tuple[Any, int, dict[str, Any] | None]] = []
    for tool in req.tools:
        items.append((tool, block_tokens(tool), tool.get("cache_control")))
    if isinstance(req.system, str):
        if req.system:
            items.append((_text_block(req.system), block_tokens(req.system), None))
    elif req.system:
        items.extend((b, block_tokens(b), b.get("cache_control")) for b in req.system)
    message_hashes = []
    for msg in req.messages:
        content = msg["content"]
        blocks = [_text_block(content)] if isinstance(content, str) else content
        message_hashes.append(_digest(msg["role"] + canonical(blocks)))
        for j, block in enumerate(blocks):
            cc = block.get("cache_control") if isinstance(block, dict) else None
            tokens = block_tokens(block) + (MESSAGE_OVERHEAD if j == 0 else 0)
            # The role belongs in the hash: the same text as user or assistant is a different prompt.
            items.append(({"role": msg["role"], "block": block}, tokens, cc))
    breakpoints = [(i, (cc.get("ttl") or "5m")) for i, (_, _, cc) in enumerate(items) if cc is not None]
    if req.cache_control is not None and items and (not breakpoints or breakpoints[-1][0] != len(items) - 1):
        breakpoints.append((len(items) - 1, req.cache_control.get("ttl") or "5m"))
    hashes: list[bytes] = []
    cumulative: list[int] = []
    chain = hashlib.sha256(req.model.encode()).digest()
    total = 0
    for value, tokens, _ in items:
        chain = hashlib.sha256(chain + canonical(value).encode()).digest()
        hashes.append(chain)
        total += tokens
        cumulative.append(total)
    return PromptBlocks(
        hashes=hashes,
        cumulative=cumulative,
        breakpoints=breakpoints,
        system_hash=_digest(canonical(req.system)),
        tools_hash=_digest(canonical(req.tools)),
        message_hashes=message_hashes,
    )


@dataclass
class _Fingerprint:
    model: str
    speed: str
    system_hash: str
    tools_hash: str
    message_hashes: list[str]
    cached_tokens: int


class PromptCache:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, float] = OrderedDict()  # prefix hash -> expiry
        self._fingerprints: OrderedDict[str, _Fingerprint] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._fingerprints.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def account(self, blocks: PromptBlocks, min_tokens: int) -> CacheUsage:
        total = blocks.total
        eligible = [(i, ttl) for i, ttl in blocks.breakpoints if blocks.cumulative[i] >= max(min_tokens, 1)]
        if not eligible:
            return CacheUsage(input_tokens=total, cache_read=0, cache_5m=0, cache_1h=0)
        now = self._clock()
        with self._lock:
            hit = -1
            for bp, _ in eligible:
                for j in range(bp, max(-1, bp - LOOKBACK_BLOCKS - 1), -1):
                    if j <= hit or blocks.cumulative[j] < min_tokens:
                        break
                    expiry = self._entries.get(blocks.hashes[j])
                    if expiry is not None and expiry > now:
                        hit = j
                        break
            read = blocks.cumulative[hit] if hit >= 0 else 0
            if hit >= 0:
                # A hit refreshes the entry's lifetime by at least 5 minutes, keeping a longer TTL.
                self._entries[blocks.hashes[hit]] = max(self._entries[blocks.hashes[hit]], now + 300.0)
            created = {"5m": 0, "1h": 0}
            start = read
            for bp, ttl in eligible:
                end = blocks.cumulative[bp]
                if end > start:
                    created[ttl] += end - start
                    start = end
                key = blocks.hashes[bp]
                self._entries[key] = max(self._entries.get(key, 0.0), now + TTL_SECONDS[ttl])
                self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        last = blocks.cumulative[eligible[-1][0]]
        return CacheUsage(
            input_tokens=total - max(last, read),
            cache_read=read,
            cache_5m=created["5m"],
            cache_1h=created["1h"],
        )

    def remember(self, message_id: str, req: MessageRequest, blocks: PromptBlocks, usage: CacheUsage) -> None:
        with self._lock:
            self._fingerprints[message_id] = _Fingerprint(
                model=req.model,
                speed=req.speed,
                system_hash=blocks.system_hash,
                tools_hash=blocks.tools_hash,
                message_hashes=blocks.message_hashes,
                cached_tokens=usage.cache_read + usage.cache_creation,
            )
            while len(self._fingerprints) > MAX_FINGERPRINTS:
                self._fingerprints.popitem(last=False)

    def diagnose(self, previous_id: str, req: MessageRequest, blocks: PromptBlocks) -> dict[str, Any] | None:
        """The `cache_miss_reason` against an earlier message's prompt, or None if it still matches."""
        with self._lock:
            prev = self._fingerprints.get(previous_id)
        if prev is None:
            return {"type": "previous_message_not_found"}
        missed = prev.cached_tokens
        if prev.model != req.model or prev.speed != req.speed:
            return {"type": "model_changed", "cache_missed_input_tokens": missed}
        if prev.tools_hash != blocks.tools_hash:
            return {"type": "tools_changed", "cache_missed_input_tokens": missed}
        if prev.system_hash != blocks.system_hash:
            return {"type": "system_changed", "cache_missed_input_tokens": missed}
        # cache_control is left out of the hashes, so moving a breakpoint forward is not a change.
        if blocks.message_hashes[: len(prev.message_hashes)] != prev.message_hashes:
            return {"type": "messages_changed", "cache_missed_input_tokens": missed}
        return None
