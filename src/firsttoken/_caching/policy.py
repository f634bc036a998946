"""Where cache breakpoints go. Pure functions over the Messages API arguments; nothing is mutated.

The API allows 4 breakpoints per request; the top-level `cache_control` (automatic caching of the
growing conversation) counts as one. Policy `auto` adds, within what the user left free:

* the top-level `cache_control`, so each turn reads the previous turn's prompt from cache;
* a breakpoint at the end of the static prefix (tools, then system prompt), so that prefix is one
  cache entry shared by every user and conversation instead of a private copy per conversation;
* with a slot still free, a breakpoint on the last large attachment (an image or PDF of at least
  the model's minimum, `ATTACHMENT_TOKENS` at the least) before the conversation's last block: a
  question asked again or edited about the same file reads the file from cache, and a file more
  than 20 blocks back stays within the API's look-back for a cache hit.

Policy `explicit` adds only the second, and only for a prefix the profile registered; `off` adds
nothing. A breakpoint the user set is never moved or dropped, and nothing is added to a prompt
below the model's minimum cacheable length: the API would ignore it and the slot is better unused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from .._pricing import Ttl
from .estimate import MESSAGE_OVERHEAD, block_tokens, prefix_tokens, system_blocks

__all__ = ["MAX_BREAKPOINTS", "Mode", "Placement", "count_breakpoints", "place"]

Mode = Literal["auto", "off", "explicit"]
MAX_BREAKPOINTS = 4
# An attachment worth its own breakpoint: a page of PDF, or an image of about a megapixel.
ATTACHMENT_TOKENS = 1024


class Placement(NamedTuple):
    # A tuple, not a frozen dataclass: built on every call's way out, in under half the time.
    params: dict[str, Any]
    # Which breakpoints firsttoken added: "prefix", "conversation" and/or "attachment".
    added: tuple[str, ...]
    prefix_tokens: int
    total_tokens: int
    # Why nothing could be cached, for the advisor; None when caching applies.
    not_cached: str | None = None


def _marked(value: object) -> bool:
    # Every block of every message is asked, on every call: a plain dict skips the ABC check.
    if type(value) is dict or isinstance(value, Mapping):
        return value.get("cache_control") is not None
    return False


def count_breakpoints(params: Mapping[str, Any]) -> int:
    count = _static_breakpoints(params)
    for message in params.get("messages") or ():
        content = message.get("content")
        if isinstance(content, list | tuple):
            count += sum(1 for b in content if _marked(b))
    return count


def _static_breakpoints(params: Mapping[str, Any]) -> int:
    """The breakpoints outside the messages: on tools, on system blocks, and the top-level one."""
    count = sum(1 for t in params.get("tools") or () if _marked(t))
    system = params.get("system")
    if isinstance(system, list | tuple):
        count += sum(1 for b in system if _marked(b))
    return count + (1 if params.get("cache_control") is not None else 0)


def _control(ttl: Ttl) -> dict[str, str]:
    # "5m" is the API's default; leaving it out keeps requests byte-identical to hand-written ones.
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}


def _last_block_marked(messages: Sequence[Mapping[str, Any]]) -> bool:
    if not messages:
        return False
    content = messages[-1].get("content")
    return isinstance(content, list | tuple) and bool(content) and _marked(content[-1])


class _Scan(NamedTuple):
    tokens: int
    # Breakpoints the caller set on message blocks.
    marked: int
    # The last unmarked image or document of at least `least` tokens before the conversation's last
    # block, as (message, block) indexes; None when there is none or the last one is marked.
    attachment: tuple[int, int] | None


def _scan(messages: Sequence[Mapping[str, Any]], least: int) -> _Scan:
    """What `place` asks of the conversation, in one walk of its blocks.

    A chat's history grows with every turn and is estimated on every call's way to the first
    token: four walks of a 75 KB conversation took 53 µs where this one takes 17 (BENCHMARKS.md,
    "Before the send with a long conversation").
    The token count is `messages_tokens()`' (a test holds them equal).
    """
    tokens = marked = 0
    attachment: tuple[int, int, bool] | None = None
    last = len(messages) - 1
    for m, message in enumerate(messages):
        tokens += MESSAGE_OVERHEAD
        content = message.get("content")
        if type(content) is str or isinstance(content, str):
            tokens += math.ceil(len(content) / 4)
            continue
        if not isinstance(content, list | tuple):
            tokens += sum(block_tokens(b) for b in content or ())
            continue
        end = len(content) - 1
        for b, block in enumerate(content):
            if type(block) is not dict:
                tokens += block_tokens(block)
                if isinstance(block, Mapping) and block.get("cache_control") is not None:
                    marked += 1
                continue
            text = block.get("text")
            if type(text) is str and block.get("type") == "text":
                tokens += math.ceil(len(text) / 4)
                if block.get("cache_control") is not None:
                    marked += 1
                continue
            size = block_tokens(block)
            tokens += size
            is_marked = block.get("cache_control") is not None
            marked += is_marked
            # Past a marked one, an earlier large one is not wanted: the user placed theirs.
            candidate = is_marked or size >= least
            if candidate and block.get("type") in ("image", "document") and not (m == last and b == end):
                attachment = (m, b, is_marked)
    found = None if attachment is None or attachment[2] else (attachment[0], attachment[1])
    return _Scan(tokens, marked, found)


def place(
    params: Mapping[str, Any],
    *,
    mode: Mode,
    ttl: Ttl,
    min_tokens: int,
    model: str,
    prefix_end: tuple[Literal["tools", "system"], int] | None = None,
    prefix_size: int | None = None,
    static: int | None = None,
) -> Placement:
    """`params` with firsttoken's breakpoints added (a copy where anything changes).

    `prefix_end` is the registered static prefix's last block (`("system", i)` or `("tools", i)`);
    without one, the static prefix is all the tools and the whole system prompt. `prefix_size`
    is a token count to use instead of the local estimate (a confirmed `count_tokens` figure).
    `static` is `prefix_tokens()` of these tools and system, when the caller has it already.
    """
    tools = list(params.get("tools") or ())
    system = params.get("system")
    messages: list[Mapping[str, Any]] = list(params.get("messages") or ())
    if static is None:
        static = prefix_tokens(tools, system)
    if prefix_end is not None:
        where, index = prefix_end
        if where == "tools":
            size = prefix_tokens(tools[: index + 1], None)
        else:
            size = prefix_tokens(tools, system_blocks(system)[: index + 1])
    else:
        size = static
    if prefix_size is not None:
        size = prefix_size
    scan = _scan(messages, max(min_tokens, ATTACHMENT_TOKENS))
    total = static + scan.tokens
    if prefix_end is None:
        # The whole prompt is measured: the confirmed figure covers only the prefix part of it.
        total += max(0, size - static)
    if mode == "off":
        return Placement(dict(params), (), size, total)
    if total < min_tokens:
        reason = (
            f"about {total} tokens, below {model}'s minimum cacheable length of {min_tokens} tokens; "
            "nothing is cached until the prompt grows (lower `cache_min_tokens` only if the model's "
            "documented minimum is lower)"
        )
        return Placement(dict(params), (), size, total, not_cached=reason)

    used = _static_breakpoints(params) + scan.marked
    wanted: list[str] = []
    conversation = mode == "auto" and params.get("cache_control") is None and not _last_block_marked(messages)
    target = _prefix_target(tools, system, prefix_end) if mode == "auto" or prefix_end is not None else None
    prefix = target is not None and size >= min_tokens and not _target_marked(tools, system, target)
    # With one free slot left, the conversation breakpoint is worth more unless the user already
    # marks messages themselves; then the shared prefix is what is missing.
    order = ["prefix", "conversation"] if scan.marked else ["conversation", "prefix"]
    for kind in order:
        if used + len(wanted) >= MAX_BREAKPOINTS:
            break
        if (kind == "prefix" and prefix) or (kind == "conversation" and conversation):
            wanted.append(kind)
    out = dict(params)
    if "prefix" in wanted and target is not None:
        where, index = target
        if where == "tools":
            new_tools = list(tools)
            new_tools[index] = {**new_tools[index], "cache_control": _control(ttl)}
            out["tools"] = new_tools
        else:
            blocks = [{"type": "text", "text": b} if isinstance(b, str) else b for b in system_blocks(system)]
            blocks[index] = {**blocks[index], "cache_control": _control(ttl)}
            out["system"] = blocks
    if "conversation" in wanted:
        out["cache_control"] = _control(ttl)
    attachment = scan.attachment if mode == "auto" and used + len(wanted) < MAX_BREAKPOINTS else None
    if attachment is not None:
        m, b = attachment
        content = list(messages[m]["content"])
        content[b] = {**content[b], "cache_control": _control(ttl)}
        out["messages"] = [*messages[:m], {**messages[m], "content": content}, *messages[m + 1 :]]
        wanted.append("attachment")
    added = tuple(k for k in ("prefix", "conversation", "attachment") if k in wanted)
    return Placement(out, added, size, total)


def _prefix_target(
    tools: list[Any], system: Any, prefix_end: tuple[Literal["tools", "system"], int] | None
) -> tuple[Literal["tools", "system"], int] | None:
    if prefix_end is not None:
        return prefix_end
    blocks = system_blocks(system)
    if blocks:
        return ("system", len(blocks) - 1)
    if tools:
        return ("tools", len(tools) - 1)
    return None


def _target_marked(tools: list[Any], system: Any, target: tuple[Literal["tools", "system"], int]) -> bool:
    where, index = target
    if where == "tools":
        return _marked(tools[index])
    return _marked(system_blocks(system)[index])
