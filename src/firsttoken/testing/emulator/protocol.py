"""Wire shapes of the Messages API: request validation and the error envelope.

Validation mirrors the real API's messages closely enough that code handling a 400 sees the
field path it would see in production (`messages.1.role: ...`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_CACHE_BREAKPOINTS",
    "ApiError",
    "MessageRequest",
    "error_body",
    "new_id",
    "parse_json",
    "validate_count_tokens",
    "validate_message_request",
]

MAX_CACHE_BREAKPOINTS = 4

# The tool types the installed SDK declares (`ToolUnionParam`, `BetaToolUnionParam`) and the name
# each must carry; None for a toolset, which has none. `tests/emulator/test_server_tools.py` holds
# this table to the SDK's.
TOOL_TYPES: dict[str, str | None] = {
    "custom": "",
    "bash_20241022": "bash",
    "bash_20250124": "bash",
    "code_execution_20250522": "code_execution",
    "code_execution_20250825": "code_execution",
    "code_execution_20260120": "code_execution",
    "code_execution_20260521": "code_execution",
    "browser_toolset_20260801": None,
    "computer_20241022": "computer",
    "computer_20250124": "computer",
    "computer_20251124": "computer",
    "computer_toolset_20260801": None,
    "memory_20250818": "memory",
    "text_editor_20241022": "str_replace_editor",
    "text_editor_20250124": "str_replace_editor",
    "text_editor_20250429": "str_replace_based_edit_tool",
    "text_editor_20250728": "str_replace_based_edit_tool",
    "web_search_20250305": "web_search",
    "web_search_20260209": "web_search",
    "web_search_20260318": "web_search",
    "web_fetch_20250910": "web_fetch",
    "web_fetch_20260209": "web_fetch",
    "web_fetch_20260309": "web_fetch",
    "web_fetch_20260318": "web_fetch",
    "advisor_20260301": "advisor",
    "tool_search_tool_bm25_20251119": "tool_search_tool_bm25",
    "tool_search_tool_bm25": "tool_search_tool_bm25",
    "tool_search_tool_regex_20251119": "tool_search_tool_regex",
    "tool_search_tool_regex": "tool_search_tool_regex",
    "mcp_toolset": None,
}

STATUS_OF_ERROR = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class ApiError(Exception):
    """An error response: the API's error type, its HTTP status and a human message."""

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = STATUS_OF_ERROR[error_type]
        self.headers = headers or {}
        # `error.details`, whose `error_code` the SDK maps to a narrower exception class.
        self.details = details


def new_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(18).replace("-", "a").replace("_", "b")


def error_body(
    error_type: str, message: str, request_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = details
    return {"type": "error", "error": error, "request_id": request_id}


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("invalid_request_error", f"There was an issue with your request body: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError("invalid_request_error", "The request body must be a JSON object.")
    return data


@dataclass(kw_only=True)
class MessageRequest:
    model: str
    max_tokens: int
    messages: list[dict[str, Any]]
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None
    stop_sequences: list[str] = field(default_factory=list)
    stream: bool = False
    speed: str = "standard"
    cache_control: dict[str, Any] | None = None
    previous_message_id: str | None = None
    diagnostics_requested: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


def _bad(message: str) -> ApiError:
    return ApiError("invalid_request_error", message)


def _check_cache_control(value: Any, where: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, dict) or value.get("type") != "ephemeral":
        raise _bad(f"{where}.cache_control.type: Input should be 'ephemeral'")
    ttl = value.get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        raise _bad(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
    return 1


def _check_blocks(blocks: Any, where: str) -> int:
    """Validate a list of content blocks; return the number of cache breakpoints among them."""
    if not isinstance(blocks, list):
        raise _bad(f"{where}: Input should be a valid string or list of content blocks")
    breakpoints = 0
    for i, block in enumerate(blocks):
        path = f"{where}.{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{path}: Input should be a content block object with a 'type'")
        if block["type"] == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise _bad(f"{path}.text: Field required")
            if not text:
                raise _bad(f"{path}.text: text content blocks must be non-empty")
        breakpoints += _check_cache_control(block.get("cache_control"), path)
    return breakpoints


def _check_common(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]], int]:
    model = data.get("model")
    if "model" not in data:
        raise _bad("model: Field required")
    if not isinstance(model, str) or not model.strip():
        raise _bad("model: Input should be a valid, non-empty string")
    messages = data.get("messages")
    if "messages" not in data:
        raise _bad("messages: Field required")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: Input should be a non-empty list")
    breakpoints = 0
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise _bad(f"messages.{i}: Input should be an object")
        role = msg.get("role")
        if role not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise _bad("messages.0.role: The first message must use the 'user' role")
        content = msg.get("content")
        if "content" not in msg:
            raise _bad(f"messages.{i}.content: Field required")
        if isinstance(content, str):
            # An empty final assistant turn is tolerated as "no prefill"; elsewhere text must exist.
            if not content and not (role == "assistant" and i == len(messages) - 1):
                raise _bad(f"messages.{i}.content: text content must be non-empty")
        else:
            if isinstance(content, list) and not content:
                raise _bad(f"messages.{i}.content: Input should be a non-empty list")
            breakpoints += _check_blocks(content, f"messages.{i}.content")
    system = data.get("system")
    if system is not None and not isinstance(system, str):
        breakpoints += _check_blocks(system, "system")
    tools = data.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("tools: Input should be a valid list")
        for i, tool in enumerate(tools):
            _check_tool(tool, i)
            breakpoints += _check_cache_control(tool.get("cache_control"), f"tools.{i}")
    breakpoints += _check_cache_control(data.get("cache_control"), "cache_control")
    if breakpoints > MAX_CACHE_BREAKPOINTS:
        raise _bad(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {breakpoints}."
        )
    tool_choice = data.get("tool_choice")
    if tool_choice is not None:
        if not isinstance(tool_choice, dict) or tool_choice.get("type") not in (
            "auto",
            "any",
            "tool",
            "none",
        ):
            raise _bad("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if tool_choice["type"] == "tool":
            names = {t.get("name") for t in tools or []}
            if tool_choice.get("name") not in names:
                raise _bad(f"tool_choice.name: Tool {tool_choice.get('name')!r} not found in tools")
    return model, messages, breakpoints


def _check_tool(tool: Any, i: int) -> None:
    """A tool definition's type (one the SDK declares) and the name that type requires."""
    if not isinstance(tool, dict):
        raise _bad(f"tools.{i}: Input should be an object")
    kind = tool.get("type", "custom")
    if kind not in TOOL_TYPES:
        tags = ", ".join(repr(t) for t in TOOL_TYPES)
        raise _bad(
            f"tools.{i}: Input tag {kind!r} found using 'type' does not match any of the expected "
            f"tags: {tags}"
        )
    name = tool.get("name")
    required = TOOL_TYPES[kind]
    if required is None:
        if kind == "mcp_toolset" and not isinstance(tool.get("mcp_server_name"), str):
            raise _bad(f"tools.{i}.mcp_toolset.mcp_server_name: Field required")
        return
    if not isinstance(name, str) or not name:
        raise _bad(f"tools.{i}.name: Field required")
    if required and name != required:
        raise _bad(f"tools.{i}.{kind}.name: Input should be {required!r}")


def validate_count_tokens(data: dict[str, Any]) -> MessageRequest:
    model, messages, _ = _check_common(data)
    return MessageRequest(
        model=model,
        max_tokens=0,
        messages=messages,
        system=data.get("system"),
        tools=list(data.get("tools") or []),
        tool_choice=data.get("tool_choice"),
        raw=data,
    )


def validate_message_request(data: dict[str, Any]) -> MessageRequest:
    if "max_tokens" not in data:
        raise _bad("max_tokens: Field required")
    max_tokens = data["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise _bad("max_tokens: Input should be an integer greater than or equal to 0")
    model, messages, _ = _check_common(data)
    stops = data.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _bad("stop_sequences: Input should be a list of non-empty strings")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream: Input should be a valid boolean")
    speed = data.get("speed") or "standard"
    if speed not in ("standard", "fast"):
        raise _bad("speed: Input should be 'standard' or 'fast'")
    diagnostics = data.get("diagnostics")
    previous: str | None = None
    if diagnostics is not None:
        if not isinstance(diagnostics, dict):
            raise _bad("diagnostics: Input should be an object")
        previous = diagnostics.get("previous_message_id")
        if previous is not None and not isinstance(previous, str):
            raise _bad("diagnostics.previous_message_id: Input should be a valid string")
    return MessageRequest(
        model=model,
        max_tokens=max_tokens,
        messages=messages,
        system=data.get("system"),
        tools=list(data.get("tools") or []),
        tool_choice=data.get("tool_choice"),
        stop_sequences=list(stops),
        stream=stream,
        speed=speed,
        cache_control=data.get("cache_control"),
        previous_message_id=previous,
        diagnostics_requested=diagnostics is not None,
        raw=data,
    )
