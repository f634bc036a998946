"""Context management (`context_management.edits`): compaction and tool-result clearing.

* `compact_20260112` (beta `compact-2026-01-12`): when the request's input tokens exceed the
  trigger (default 150,000, at least 50,000), the answer begins with a `compaction` block that
  summarises the conversation, and the model answers from that summary: the top-level `usage`
  counts the compacted context, and `usage.iterations` adds the compaction's own step. Streamed,
  the block is a `content_block_start` then one `compaction_delta` with the whole summary. With
  `pause_after_compaction` the answer is the block alone, `stop_reason: "compaction"`.
* A request whose messages hold a `compaction` block sent back verbatim (its `encrypted_content`
  binds the summary) is answered, and counted, from that block on: everything before it is
  dropped. A block whose `content` is null is a no-op; an altered one is a 400.
* `clear_tool_uses_20250919` (beta `context-management-2025-06-27`): past its trigger (default
  100,000 input tokens, or a number of tool uses) the oldest tool results, all but the `keep`
  most recent (default 3) and those of `exclude_tools`, are replaced with a placeholder (and
  their `tool_use` inputs too with `clear_tool_inputs`), if that clears at least
  `clear_at_least`; the response's `context_management.applied_edits` says what was cleared.
* `clear_thinking_20251015` (same beta): the thinking blocks of all but the `keep` most recent
  assistant turns that hold any (default 1, or `"all"`) are removed, and reported likewise.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from .cache import flatten
from .protocol import ApiError, MessageRequest
from .threads import betas
from .tokens import text_tokens

__all__ = ["ContextEdits", "ContextOutcome", "read_edits"]

COMPACT_BETA = "compact-2026-01-12"
CONTEXT_BETA = "context-management-2025-06-27"
COMPACT_DEFAULT_TRIGGER = 150_000
COMPACT_MIN_TRIGGER = 50_000
CLEAR_DEFAULT_TRIGGER = 100_000
CLEAR_DEFAULT_KEEP = 3
CLEARED = "[cleared to save context]"
# How much of each earlier user turn the summary quotes, and how many turns it names.
QUOTE_CHARS = 80
QUOTED_TURNS = 8

_KEY = secrets.token_bytes(32)


def _bad(message: str) -> ApiError:
    return ApiError("invalid_request_error", message)


def seal(summary: str) -> str:
    """The `encrypted_content` that binds a compaction block to its summary."""
    mac = hmac.new(_KEY, summary.encode(), hashlib.sha256).digest()[:24]
    return "Ec" + base64.b64encode(mac).decode()


@dataclass
class _Clear:
    trigger_kind: str = "input_tokens"
    trigger: int = CLEAR_DEFAULT_TRIGGER
    keep: int = CLEAR_DEFAULT_KEEP
    at_least: int = 0
    exclude: frozenset[str] = frozenset()
    inputs: bool | frozenset[str] = False


@dataclass
class ContextOutcome:
    """What the edits did to one request: the blocks the answer begins with, whether it stops
    after them, and the response's `context_management` and `usage.iterations` parts."""

    lead: list[dict[str, Any]] = field(default_factory=list)
    paused: bool = False
    applied: list[dict[str, Any]] | None = None
    compaction_usage: dict[str, Any] | None = None

    def annotate(self, message: dict[str, Any], output_tokens: int) -> None:
        """Put the edits' parts into the response `message` (whose content already holds `lead`)."""
        if self.applied is not None:
            message["context_management"] = {"applied_edits": self.applied}
        if self.compaction_usage is not None:
            usage = message["usage"]
            step = {
                k: usage[k]
                for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
            }
            iterations = [self.compaction_usage]
            if not self.paused:
                iterations.append({"type": "message", **step, "output_tokens": output_tokens})
            usage["iterations"] = iterations


@dataclass
class ContextEdits:
    """The request's edits, read and checked: `None` where an edit has nothing to do."""

    compact_trigger: int | None = None
    pause: bool = False
    clear: _Clear | None = None
    # Thinking turns kept; `None` without the edit or with `keep: "all"`, which clear nothing.
    keep_thinking: int | None = None
    # Whether the request had `context_management`, which the response then reports.
    requested: bool = False

    def apply(self, req: MessageRequest, *, sampling: bool = True) -> tuple[MessageRequest, ContextOutcome]:
        """The request as the model sees it once the edits ran, and what they did. Counting
        (`sampling` false) makes no summary, so it never compacts."""
        outcome = ContextOutcome(applied=[] if self.requested else None)
        messages = _from_last_compaction(req.messages)
        req = replace(req, messages=messages)
        if self.keep_thinking is not None:
            req, applied = _clear_thinking(req, self.keep_thinking)
            if applied is not None and outcome.applied is not None:
                outcome.applied.append(applied)
        if self.clear is not None:
            req, applied = _clear_tool_uses(req, self.clear)
            if applied is not None and outcome.applied is not None:
                outcome.applied.append(applied)
        if self.compact_trigger is not None and sampling:
            full = flatten(req).total
            if full > self.compact_trigger:
                summary = _summary(req.messages)
                block = {"type": "compaction", "content": summary, "encrypted_content": seal(summary)}
                outcome.lead = [block]
                outcome.paused = self.pause
                outcome.compaction_usage = {
                    "type": "compaction",
                    "input_tokens": full,
                    "output_tokens": text_tokens(summary),
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                }
                last = req.messages[-1]
                tail = _blocks(last["content"]) if last["role"] == "user" else []
                req = replace(req, messages=[{"role": "user", "content": [_text(summary), *tail]}])
        return req, outcome


def read_edits(data: dict[str, Any], headers: dict[str, str]) -> ContextEdits:
    """The request's `context_management`, checked as the API checks it."""
    config = data.get("context_management")
    if config is None:
        return ContextEdits()
    if not isinstance(config, dict) or not isinstance(config.get("edits", []), list):
        raise _bad("context_management.edits: Input should be a valid list")
    enabled = betas(headers)
    edits = ContextEdits(requested=True)
    for i, edit in enumerate(config.get("edits", [])):
        where = f"context_management.edits.{i}"
        kind = edit.get("type") if isinstance(edit, dict) else None
        if kind == "compact_20260112":
            if COMPACT_BETA not in enabled:
                raise _bad(f"{where}: compaction is in beta; add `anthropic-beta: {COMPACT_BETA}` to use it.")
            trigger = _trigger(edit.get("trigger"), f"{where}.trigger", ("input_tokens",))
            value = COMPACT_DEFAULT_TRIGGER if trigger is None else trigger[1]
            if value < COMPACT_MIN_TRIGGER:
                raise _bad(
                    f"{where}.trigger.value: Input should be greater than or equal to {COMPACT_MIN_TRIGGER}"
                )
            edits.compact_trigger = value
            edits.pause = bool(edit.get("pause_after_compaction", False))
        elif kind == "clear_tool_uses_20250919":
            if CONTEXT_BETA not in enabled:
                raise _bad(
                    f"{where}: context management is in beta; add `anthropic-beta: {CONTEXT_BETA}` to use it."
                )
            edits.clear = _read_clear(edit, where)
        elif kind == "clear_thinking_20251015":
            if CONTEXT_BETA not in enabled:
                raise _bad(
                    f"{where}: context management is in beta; add `anthropic-beta: {CONTEXT_BETA}` to use it."
                )
            edits.keep_thinking = _read_keep_thinking(edit.get("keep"), f"{where}.keep")
        else:
            raise _bad(
                f"{where}.type: Input should be 'clear_tool_uses_20250919', 'clear_thinking_20251015' "
                "or 'compact_20260112'"
            )
    return edits


def _read_keep_thinking(keep: Any, where: str) -> int | None:
    """How many recent thinking turns to keep; `None` keeps them all."""
    if keep is None:
        return 1
    if keep == "all" or (isinstance(keep, dict) and keep.get("type") == "all"):
        return None
    parsed = _trigger(keep, where, ("thinking_turns",))
    assert parsed is not None  # `keep` is given here
    return parsed[1]


def _read_clear(edit: dict[str, Any], where: str) -> _Clear:
    clear = _Clear()
    trigger = _trigger(edit.get("trigger"), f"{where}.trigger", ("input_tokens", "tool_uses"))
    if trigger is not None:
        clear.trigger_kind, clear.trigger = trigger
    keep = _trigger(edit.get("keep"), f"{where}.keep", ("tool_uses",))
    if keep is not None:
        clear.keep = keep[1]
    at_least = _trigger(edit.get("clear_at_least"), f"{where}.clear_at_least", ("input_tokens",))
    if at_least is not None:
        clear.at_least = at_least[1]
    exclude = edit.get("exclude_tools") or []
    if not isinstance(exclude, list) or not all(isinstance(n, str) for n in exclude):
        raise _bad(f"{where}.exclude_tools: Input should be a list of tool names")
    clear.exclude = frozenset(exclude)
    inputs = edit.get("clear_tool_inputs") or False
    if isinstance(inputs, list):
        clear.inputs = frozenset(str(n) for n in inputs)
    elif isinstance(inputs, bool):
        clear.inputs = inputs
    else:
        raise _bad(f"{where}.clear_tool_inputs: Input should be a boolean or a list of tool names")
    return clear


def _trigger(value: Any, where: str, kinds: tuple[str, ...]) -> tuple[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in kinds:
        raise _bad(f"{where}.type: Input should be " + " or ".join(f"'{k}'" for k in kinds))
    number = value.get("value")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise _bad(f"{where}.value: Input should be a non-negative integer")
    return str(value["type"]), number


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [_text(content)] if isinstance(content, str) else list(content)


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _from_last_compaction(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation from its last compaction block on, the summary standing as a user turn;
    null-content blocks dropped as the no-ops they are."""
    start: tuple[int, int] | None = None
    cleaned: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        content = msg["content"]
        if isinstance(content, list) and any(_is_compaction(b) for b in content):
            kept = []
            for j, block in enumerate(content):
                if not _is_compaction(block):
                    kept.append(block)
                    continue
                if block.get("content") is None:
                    continue
                summary = block["content"]
                if not isinstance(summary, str) or not summary:
                    raise _bad(f"messages.{i}.content.{j}.content: compaction content must be non-empty")
                if not hmac.compare_digest(str(block.get("encrypted_content")), seal(summary)):
                    raise _bad(
                        f"messages.{i}.content.{j}: Invalid `encrypted_content` in `compaction` block; send "
                        "the block back exactly as it was returned"
                    )
                start = (len(cleaned), len(kept))
                kept.append(block)
            msg = dict(msg, content=kept)
        cleaned.append(msg)
    if start is None:
        return _merged([m for m in cleaned if m["content"]]) if cleaned != messages else messages
    at, j = start
    holder = cleaned[at]
    summary_turn = {"role": "user", "content": [_text(holder["content"][j]["content"])]}
    rest = holder["content"][j + 1 :]
    following = ([{"role": holder["role"], "content": rest}] if rest else []) + cleaned[at + 1 :]
    return _merged([m for m in [summary_turn, *following] if m["content"]])


def _is_compaction(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "compaction"


def _merged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive turns of one role joined, as the API joins them."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        if out and out[-1]["role"] == msg["role"]:
            out[-1] = dict(out[-1], content=[*_blocks(out[-1]["content"]), *_blocks(msg["content"])])
        else:
            out.append(msg)
    return out


def _summary(messages: list[dict[str, Any]]) -> str:
    asked = []
    for msg in messages:
        if msg["role"] != "user":
            continue
        words = " ".join(
            b["text"]
            for b in _blocks(msg["content"])
            if isinstance(b, dict) and isinstance(b.get("text"), str)
        ).split()
        if words:
            said = " ".join(words)
            asked.append(said[:QUOTE_CHARS] + ("..." if len(said) > QUOTE_CHARS else ""))
    quoted = "; ".join(f'"{a}"' for a in asked[-QUOTED_TURNS:])
    return (
        f"Summary of the {len(messages)} earlier messages of this conversation. "
        f"The user asked, most recently last: {quoted or 'nothing in text'}."
    )


def _clear_tool_uses(req: MessageRequest, clear: _Clear) -> tuple[MessageRequest, dict[str, Any] | None]:
    uses: list[tuple[int, int, str, str]] = []  # message, block, id, tool name
    for i, msg in enumerate(req.messages):
        if msg["role"] == "assistant" and isinstance(msg["content"], list):
            for j, block in enumerate(msg["content"]):
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    uses.append((i, j, str(block.get("id")), str(block.get("name"))))
    before = flatten(req).total
    reached = len(uses) if clear.trigger_kind == "tool_uses" else before
    if reached <= clear.trigger:
        return req, None
    targets = [u for u in uses[: max(len(uses) - clear.keep, 0)] if u[3] not in clear.exclude]
    if not targets:
        return req, None
    messages = copy.deepcopy(req.messages)
    ids = {u[2] for u in targets}
    for i, j, _, name in targets:
        if clear.inputs is True or (isinstance(clear.inputs, frozenset) and name in clear.inputs):
            messages[i]["content"][j]["input"] = {}
    for msg in messages:
        if msg["role"] == "user" and isinstance(msg["content"], list):
            for block in msg["content"]:
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_result"
                    and block.get("tool_use_id") in ids
                ):
                    block["content"] = CLEARED
                    block.pop("is_error", None)
    edited = replace(req, messages=messages)
    cleared = before - flatten(edited).total
    if cleared < max(clear.at_least, 1):
        return req, None
    applied = {
        "type": "clear_tool_uses_20250919",
        "cleared_tool_uses": len(targets),
        "cleared_input_tokens": cleared,
    }
    return edited, applied


def _clear_thinking(req: MessageRequest, keep: int) -> tuple[MessageRequest, dict[str, Any] | None]:
    thinking = ("thinking", "redacted_thinking")
    turns = [
        i
        for i, msg in enumerate(req.messages)
        if msg["role"] == "assistant"
        and isinstance(msg["content"], list)
        and any(isinstance(b, dict) and b.get("type") in thinking for b in msg["content"])
    ]
    cleared = turns[: max(len(turns) - keep, 0)]
    if not cleared:
        return req, None
    messages = list(req.messages)
    for i in cleared:
        content = [
            b for b in messages[i]["content"] if not (isinstance(b, dict) and b.get("type") in thinking)
        ]
        messages[i] = dict(messages[i], content=content)
    edited = replace(req, messages=_merged([m for m in messages if m["content"]]))
    tokens = flatten(req).total - flatten(edited).total
    applied = {
        "type": "clear_thinking_20251015",
        "cleared_thinking_turns": len(cleared),
        "cleared_input_tokens": tokens,
    }
    return edited, applied
