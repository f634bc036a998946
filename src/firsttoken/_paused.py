"""A `create()` whose answer the API paused (`stop_reason: "pause_turn"`), continued to its end.

A tool the API runs (web search, web fetch, code execution, the MCP connector) can keep the API's
own loop going past what one response holds; the response then stops with `pause_turn`, and the
turn goes on when the answer is sent back unchanged as the last assistant turn. The streaming
calls continue it as an agent turn's steps (`_agent/core.py`); `create()` returns one `Message`,
so it sends the continuations itself, within the profile's `max_steps` model calls, and returns
the steps as the one answer the API would have given had it not paused: every step's content in
order, their usage added up, the last step's id, model and stop reason (still `pause_turn` when
the bound stopped it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from anthropic import BaseModel
from anthropic.types import Message

from ._call import Call
from ._upstream.stream import sent_block

__all__ = ["continuation", "joined", "paused"]

_COUNTED = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def paused(steps: Sequence[Message], call: Call) -> bool:
    """Whether the last step paused and the profile's `max_steps` allows another."""
    return steps[-1].stop_reason == "pause_turn" and len(steps) < call.options.max_steps


def continuation(call: Call, steps: Sequence[Message]) -> Call:
    """The next model call: the conversation, then each paused answer as it came, no user turn after."""
    messages: list[dict[str, Any]] = [dict(m) for m in call.messages]
    for step in steps:
        content = [sent_block(block.model_dump(mode="json")) for block in step.content]
        messages.append({"role": "assistant", "content": content})
    return call.step(messages)


def joined(steps: Sequence[Message]) -> Message:
    """The steps as one answer; a single step is returned as it is."""
    last = steps[-1]
    if len(steps) == 1:
        return last
    usage = last.usage.model_dump()
    for key in _COUNTED:
        usage[key] = sum(getattr(step.usage, key) or 0 for step in steps)
    usage["server_tool_use"] = _added(step.usage.server_tool_use for step in steps)
    usage["cache_creation"] = _added(step.usage.cache_creation for step in steps)
    content = [block for step in steps for block in step.content]
    return last.model_copy(update={"content": content, "usage": type(last.usage).model_validate(usage)})


def _added(parts: Iterable[BaseModel | None]) -> dict[str, int] | None:
    """Counts by name (`server_tool_use`, the cache-write split) over the steps that have any."""
    total: dict[str, int] = {}
    for part in parts:
        for name, count in (part.model_dump() if part is not None else {}).items():
            if isinstance(count, int):
                total[name] = total.get(name, 0) + count
    return total or None
