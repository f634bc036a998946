"""A cheap local token estimate: no tokenizer, no network, fast enough for every request.

The rule is the one the emulator counts by (`firsttoken.testing.emulator.tokens`): a text costs
`ceil(len / 4)` tokens, an image or a PDF what Anthropic documents (`_attachments.block_tokens`),
any other block or tool definition `ceil(len(canonical JSON) / 4)`, and each message adds 3
tokens of role markers. Real tokenizers land within roughly ±20% of it on
English prose, which is why a prefix near a model's minimum is confirmed with `count_tokens`
(off the request path) before firsttoken trusts the estimate.

`prefix_digest` names a prompt prefix by the same canonical JSON: the registered prefixes, the
conversations warmed while the user types, and the prefix sizes `count_tokens` confirmed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import _attachments
from .._state.keys import digest

__all__ = [
    "MESSAGE_OVERHEAD",
    "block_tokens",
    "canonical",
    "messages_tokens",
    "prefix_digest",
    "prefix_tokens",
    "system_blocks",
]

MESSAGE_OVERHEAD = 3


# `json.dumps` with these arguments would build this encoder anew for every block.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def canonical(value: Any) -> str:
    """Stable JSON (sorted keys, no spaces) without `cache_control`: it marks a block, it is not text."""
    return _encode(_strip(value))


# Every block of a conversation is estimated on every call, on its way to the first token: plain
# dicts and strings (what a parsed JSON body holds) are checked by type before the ABC checks.


def _strip(value: Any) -> Any:
    kind = type(value)
    if kind is dict or isinstance(value, Mapping):
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return [_strip(v) for v in value]
    return value


def prefix_digest(model: str, tools: Any, system: Any, messages: Sequence[Any] | None = None) -> str:
    """The one name of a prompt prefix: model, tools and system, and the conversation so far when
    there is one (a missing list names the same as an empty one; breakpoints do not count).

    Its digests reach Redis (the warm leases' names, `_state/locks.py`, and the warm-ahead claims),
    so the text hashed here must not change: tests/core/test_caching.py holds known digests.
    """
    text = f"{model}\0{canonical(tools or [])}\0{canonical(system or [])}"
    if messages is not None:
        text = f"{text}\0{canonical(list(messages))}"
    return digest(text)


def block_tokens(block: Any) -> int:
    kind = type(block)
    if kind is str or isinstance(block, str):
        return math.ceil(len(block) / 4)
    if kind is dict or isinstance(block, Mapping):
        text = block.get("text")
        if isinstance(text, str) and block.get("type") == "text":
            return math.ceil(len(text) / 4)
        # An image or PDF by Anthropic's rules, not by the length of its base64.
        attached = _attachments.block_tokens(block)
        if attached is not None:
            return attached
    return math.ceil(len(canonical(block)) / 4)


def system_blocks(system: Any) -> list[Any]:
    """The system prompt as the list of blocks the API caches by (a string is one block)."""
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [system]
    return list(system)


def prefix_tokens(tools: Iterable[Any] | None, system: Any) -> int:
    """Tokens of the static prefix: every tool definition, then every system block."""
    return sum(block_tokens(t) for t in tools or ()) + sum(block_tokens(b) for b in system_blocks(system))


def messages_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        total += MESSAGE_OVERHEAD
        if isinstance(content, str):
            total += block_tokens(content)
        else:
            for block in content or ():
                total += block_tokens(block)
    return total
