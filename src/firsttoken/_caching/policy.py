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

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from .._pricing import Ttl
from .estimate import block_tokens, messages_tokens, prefix_tokens, system_blocks

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
    count = sum(1 for t in params.get("tools") or () if _marked(t))
    system = params.get("system")
    if isinstance(system, list | tuple):
        count += sum(1 for b in system if _marked(b))
    for message in params.get("messages") or ():
        content = message.get("content")
        if isinstance(content, list | tuple):
            count += sum(1 for b in content if _marked(b))
    return count + (1 if params.get("cache_control") is not None else 0)


def _control(ttl: Ttl) -> dict[str, str]:
    # "5m" is the API's default; leaving it out keeps requests byte-identical to hand-written ones.
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}


def _last_block_marked(messages: Sequence[Mapping[str, Any]]) -> bool:
    if not messages:
        return False
    content = messages[-1].get("content")
    return isinstance(content, list | tuple) and bool(content) and _marked(content[-1])


def _messages_marked(messages: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        isinstance(m.get("content"), list | tuple) and any(_marked(b) for b in m["content"]) for m in messages
    )


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
    total = static + messages_tokens(messages)
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

    used = count_breakpoints(params)
    wanted: list[str] = []
    conversation = mode == "auto" and params.get("cache_control") is None and not _last_block_marked(messages)
    target = _prefix_target(tools, system, prefix_end) if mode == "auto" or prefix_end is not None else None
    prefix = target is not None and size >= min_tokens and not _target_marked(tools, system, target)
    # With one free slot left, the conversation breakpoint is worth more unless the user already
    # marks messages themselves; then the shared prefix is what is missing.
    order = ["prefix", "conversation"] if _messages_marked(messages) else ["conversation", "prefix"]
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
    attachment = None
    if mode == "auto" and used + len(wanted) < MAX_BREAKPOINTS:
        attachment = _large_attachment(messages, max(min_tokens, ATTACHMENT_TOKENS))
    if attachment is not None:
        m, b = attachment
        content = list(messages[m]["content"])
        content[b] = {**content[b], "cache_control": _control(ttl)}
        out["messages"] = [*messages[:m], {**messages[m], "content": content}, *messages[m + 1 :]]
        wanted.append("attachment")
    added = tuple(k for k in ("prefix", "conversation", "attachment") if k in wanted)
    return Placement(out, added, size, total)


def _large_attachment(messages: Sequence[Mapping[str, Any]], least: int) -> tuple[int, int] | None:
    """The message and block index of the last unmarked image or document of at least `least`
    tokens that is not the conversation's last block (the conversation breakpoint covers that)."""
    for m in range(len(messages) - 1, -1, -1):
        content = messages[m].get("content")
        if not isinstance(content, list | tuple):
            continue
        for b in range(len(content) - 1, -1, -1):
            block = content[b]
            if m == len(messages) - 1 and b == len(content) - 1:
                continue
            if type(block) is dict and block.get("type") in ("image", "document"):
                if _marked(block):
                    return None  # one is there already, placed by the user
                if block_tokens(block) >= least:
                    return m, b
    return None


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
