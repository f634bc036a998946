"""When the emulated model calls the client's tools, with what input, and how it answers after.

Deterministic, so tests can ask for a tool run: the last user text names a tool (`clock`), asks
for what a tool gives (the time: a tool named or described for time or clocks; arithmetic: a tool
with an `expression` parameter), or writes a call out (`sleepy({"seconds": 2})`). Every tool asked
for is called in the same answer, as the API does when calls are independent. After the client's
`tool_result` blocks the answer is text that uses them.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["explicit_input", "input_for", "results_answer", "wanted_tools"]

_TIME = re.compile(r"\b(what time|time is it|current time|the time|today's date|what day)\b", re.IGNORECASE)
_EXPRESSION = re.compile(
    r"(?<![\w.])(\(*\s*-?\d+(?:\.\d+)?(?:\s*(?:\*\*|[-+*/%])\s*\(*\s*-?\d+(?:\.\d+)?\s*\)*)+)"
)
_ZONES = {
    "paris": "Europe/Paris",
    "london": "Europe/London",
    "berlin": "Europe/Berlin",
    "tokyo": "Asia/Tokyo",
    "new york": "America/New_York",
    "sydney": "Australia/Sydney",
    "utc": "UTC",
}


def _call_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}\((\{{.*?\}})\)", re.DOTALL)


def explicit_input(tool: dict[str, Any], text: str) -> dict[str, Any] | None:
    """The input of a call written out in the text (`name({...})`), when it is a JSON object."""
    found = _call_pattern(str(tool.get("name", ""))).search(text)
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _properties(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("input_schema") or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def _about_time(tool: dict[str, Any]) -> bool:
    words = f"{tool.get('name', '')} {tool.get('description', '')}".lower()
    return "clock" in words or "time" in words


def wanted_tools(tools: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The client tools the text asks for, in the order it mentions them (each at most once)."""
    lowered = text.lower()
    found: list[tuple[int, dict[str, Any]]] = []
    for tool in tools:
        name = str(tool.get("name", ""))
        if not name or tool.get("type") not in (None, "custom"):
            continue
        at = lowered.find(name.lower())
        if at < 0 and _TIME.search(text) and _about_time(tool):
            at = _TIME.search(text).start()  # type: ignore[union-attr]
        if at < 0 and "expression" in _properties(tool):
            match = _EXPRESSION.search(text)
            at = match.start() if match else -1
        if at >= 0:
            found.append((at, tool))
    return [tool for _, tool in sorted(found, key=lambda pair: pair[0])]


def input_for(tool: dict[str, Any], text: str) -> dict[str, Any]:
    """What the text gives for the tool's parameters it can fill (an expression, a time zone)."""
    explicit = explicit_input(tool, text)
    if explicit is not None:
        return explicit
    out: dict[str, Any] = {}
    props = _properties(tool)
    if "expression" in props:
        match = _EXPRESSION.search(text)
        if match:
            out["expression"] = match.group(1).strip()
    if "timezone" in props:
        lowered = text.lower()
        zone = next((z for city, z in _ZONES.items() if city in lowered), None)
        if zone is not None:
            out["timezone"] = zone
    return out


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def results_answer(messages: list[dict[str, Any]]) -> str | None:
    """The text answering the last user turn's tool results, or None when it holds none."""
    last = messages[-1]
    content = last["content"]
    if last["role"] != "user" or not isinstance(content, list):
        return None
    results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    if not results:
        return None
    names: dict[str, str] = {}
    if len(messages) > 1 and isinstance(messages[-2]["content"], list):
        for block in messages[-2]["content"]:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                names[str(block.get("id"))] = str(block.get("name"))
    parts = []
    for result in results:
        name = names.get(str(result.get("tool_use_id")), "the tool")
        said = _content_text(result.get("content")).strip() or "nothing"
        if result.get("is_error"):
            parts.append(f"The {name} tool failed ({said}).")
        else:
            parts.append(f"The {name} tool says {said}.")
    return " ".join(parts)
