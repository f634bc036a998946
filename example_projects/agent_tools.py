"""The `agent` profile's demo tools, shared by the three examples (EXAMPLE_CONTRACT.md).

Plain functions: firsttoken reads their input schema from the type hints and the docstring, runs
them on the server when the model calls them, and streams their results to the page.
`set_reminder` asks the user first: its turn pauses until the page's Approve or Deny.
"""

from __future__ import annotations

import ast
import json
import operator
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from firsttoken import DEFAULT_PROFILES, tool

__all__ = ["AGENT", "CHAT", "REMINDERS", "calculate", "clock", "profiles_with_agent", "set_reminder"]


def clock(timezone: str | None = None) -> str:
    """The current date and time, in ISO 8601.

    Args:
        timezone: An IANA time zone such as "Europe/Paris"; UTC when left out.
    """
    zone = ZoneInfo(timezone) if timezone else UTC
    return datetime.now(zone).isoformat(timespec="seconds")


_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: Mapping[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
# Bounds that keep one request from costing the server a second of CPU (2 ** 10 ** 10).
_MAX_LENGTH = 200
_MAX_EXPONENT = 100
_MAX_MAGNITUDE = 1e100


def calculate(expression: str) -> int | float:
    """Evaluate an arithmetic expression: numbers, + - * / // % ** and parentheses.

    Args:
        expression: The expression, for example "2*(3+4)".
    """
    if len(expression) > _MAX_LENGTH:
        raise ValueError(f"the expression is longer than {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    return _evaluate(tree.body)


def _evaluate(node: ast.AST) -> int | float:
    # Walks the tree itself, never eval(): only numbers and the operators above get through.
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError(f"exponents are limited to {_MAX_EXPONENT}")
        value = _BINARY[type(node.op)](left, right)
        if abs(value) > _MAX_MAGNITUDE:
            raise ValueError("the result is too large")
        return value  # type: ignore[no-any-return]
    raise ValueError(f"only numbers and + - * / // % ** are allowed, not {ast.dump(node)[:40]}")


# The reminders set, in this process's memory: a demo keeps no database.
REMINDERS: list[dict[str, str]] = []
_REMINDERS_LOCK = threading.Lock()
# A demo's memory stays small whoever calls it.
_MAX_REMINDERS = 1000


@tool(needs_approval=True)
def set_reminder(text: str, at: str) -> str:
    """Set a reminder for the user; the user approves it first.

    Args:
        text: What to remind the user of.
        at: When, in ISO 8601 (for example "2026-12-24T09:00").
    """
    when = datetime.fromisoformat(at)
    with _REMINDERS_LOCK:
        if len(REMINDERS) >= _MAX_REMINDERS:
            REMINDERS.pop(0)
        REMINDERS.append({"text": text[:500], "at": when.isoformat()})
    return f"reminder set for {when.isoformat()}: {text[:500]}"


# The contract's `agent` profile: the newest Sonnet, adaptive thinking shown as a summary, the two
# tools (as import paths, so the same dict works in Django settings and JSON).
AGENT: dict[str, Any] = {
    "model": DEFAULT_PROFILES["chat"].model,
    "max_tokens": 2048,
    "thinking": "adaptive",
    "thinking_display": "summarized",
    "tools": [
        "example_projects.agent_tools:clock",
        "example_projects.agent_tools:calculate",
        "example_projects.agent_tools:set_reminder",
    ],
    "max_steps": 6,
    "tool_timeout": 10.0,
    # A chat that names a `chat_id` is held on the API's side (each tool round sends only its
    # results); long ones are summarised there.
    "threads": True,
    "compact": 100_000,
}
# The `chat` profile's changes: compaction. Its chats are held by firsttoken and sent whole, not
# threaded: warming while the user types (`/api/warm`) pre-warms the whole conversation, which
# the next turn then reads from the prompt cache; a thread's `continue` would not send it.
CHAT: dict[str, Any] = {"compact": 100_000}


def profiles_with_agent(environ: Mapping[str, str]) -> dict[str, Any]:
    """`FIRSTTOKEN_PROFILES` from the environment over the `agent` profile, field by field: for a
    config (Flask's) whose profiles replace the environment's rather than merge with them."""
    given = json.loads(environ.get("FIRSTTOKEN_PROFILES") or "{}")
    return {
        **given,
        "agent": {**AGENT, **given.get("agent", {})},
        "chat": {**CHAT, **given.get("chat", {})},
    }
