"""The tools the API runs itself, beyond web search (`blocks.SearchPlan`): web fetch, code execution,
tool search and the MCP connector; the API's 400s for malformed uses of them; `pause_turn`.

Deterministic, as the rest of the emulator, so tests can ask for each:

- **web fetch** (`web_fetch_*`): the last user text holds a URL; the answer fetches it
  (`server_tool_use` `web_fetch`, then `web_fetch_tool_result` holding the page as a text
  document). A URL outside `allowed_domains` or inside `blocked_domains` is the API's
  `url_not_allowed` error result.
- **code execution** (`code_execution_20250825` and later): the text says run, execute, code,
  script, python, bash or sandbox; the answer writes `main.py` (`text_editor_code_execution`,
  a `create` result) and runs it (`bash_code_execution`), printing the value of the text's
  arithmetic when it has some. `code_execution_20250522` answers the older single
  `code_execution` call and `code_execution_tool_result`. The message names its `container`.
- **tool search** (`tool_search_tool_regex|bm25_20251119`): a tool the text asks for that has
  `defer_loading` is first found by a search whose `tool_search_tool_result` holds its
  `tool_reference`; the call follows in the same answer, as the API expands the reference.
- **MCP connector** (`mcp_servers` with beta `mcp-client-2025-11-20`, tools `mcp_toolset`): the
  text names a server or one of its configured tools; the answer is `mcp_tool_use` then
  `mcp_tool_result`. The emulator never contacts the server: its answer is made up.
- **pause_turn**: the last user text says "in depth" and the answer runs a server tool. The
  server-side loop is then "long": the answer holds the server tool blocks alone and stops with
  `pause_turn`; the conversation sent back as is (ending with that assistant turn) continues it
  with the text, `end_turn`.

`usage.server_tool_use` counts web searches and fetches, as the SDK's `ServerToolUsage` does.
"""

from __future__ import annotations

import ast
import operator
import random
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .protocol import ApiError

__all__ = [
    "MCP_BETA",
    "ServerCall",
    "check_server_tools",
    "code_calls",
    "continues_paused_turn",
    "fetch_call",
    "mcp_call",
    "pauses",
    "server_tool_usage",
    "tool_search_call",
]

MCP_BETA = "mcp-client-2025-11-20"
# The older MCP connector beta: servers carry their own `tool_configuration`, no `mcp_toolset`.
MCP_BETA_OLD = "mcp-client-2025-04-04"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_CODE = re.compile(r"\b(run|execute|code|script|python|bash|sandbox)\b", re.IGNORECASE)
_PAUSE = re.compile(r"\bin depth\b", re.IGNORECASE)
_SEARCH_TYPES = ("tool_search_tool_regex", "tool_search_tool_bm25")
# Blocks of a server tool's result: an assistant turn that ends with one was paused.
_RESULT = re.compile(r"(_tool_result|^mcp_tool_result)$")


@dataclass
class ServerCall:
    """One call the API runs: its `server_tool_use` (or `mcp_tool_use`) block, then its result."""

    id: str
    name: str
    input: dict[str, Any]
    result: dict[str, Any]
    # "mcp_tool_use" for an MCP server's tool, whose block names the server.
    kind: str = "server_tool_use"
    server_name: str | None = None

    def use_block(self, input: dict[str, Any] | None = None) -> dict[str, Any]:
        block: dict[str, Any] = {"type": self.kind, "id": self.id, "name": self.name}
        if self.server_name is not None:
            block["server_name"] = self.server_name
        block["input"] = self.input if input is None else input
        return block


def _id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(_ID_ALPHABET) for _ in range(22))


def _tool_of(tools: list[dict[str, Any]], prefix: str) -> dict[str, Any] | None:
    return next((t for t in tools if str(t.get("type", "")).startswith(prefix)), None)


# -- the API's 400s ----------------------------------------------------------------------------------


def check_server_tools(raw: dict[str, Any], enabled: set[str]) -> None:
    """The API's 400s for server tools used wrongly: deferred tools with no tool search, a
    deferred tool search, MCP servers without the beta or without their toolset."""
    tools = [t for t in raw.get("tools") or [] if isinstance(t, dict)]
    search = next((t for t in tools if str(t.get("type", "")).startswith(_SEARCH_TYPES)), None)
    for i, tool in enumerate(tools):
        if not tool.get("defer_loading"):
            continue
        if tool is search:
            raise ApiError(
                "invalid_request_error", f"tools.{i}: the tool search tool cannot set `defer_loading`."
            )
        if search is None:
            raise ApiError(
                "invalid_request_error",
                f"tools.{i}: `defer_loading` needs a tool search tool (tool_search_tool_regex_20251119 or "
                "tool_search_tool_bm25_20251119) in `tools`.",
            )
    _check_mcp(raw, tools, enabled)


def _check_mcp(raw: dict[str, Any], tools: list[dict[str, Any]], enabled: set[str]) -> None:
    servers = raw.get("mcp_servers")
    toolsets = [(i, t) for i, t in enumerate(tools) if t.get("type") == "mcp_toolset"]
    if servers is None and not toolsets:
        return
    if not enabled & {MCP_BETA, MCP_BETA_OLD}:
        raise ApiError(
            "invalid_request_error",
            f"mcp_servers: the MCP connector is in beta; add `anthropic-beta: {MCP_BETA}` to use it.",
        )
    if not isinstance(servers, list):
        servers = []
    names: list[str] = []
    for i, server in enumerate(servers):
        where = f"mcp_servers.{i}"
        if not isinstance(server, dict):
            raise ApiError("invalid_request_error", f"{where}: Input should be an object")
        if server.get("type") != "url":
            raise ApiError("invalid_request_error", f"{where}.type: Input should be 'url'")
        if not isinstance(server.get("name"), str) or not server["name"]:
            raise ApiError("invalid_request_error", f"{where}.name: Field required")
        url = server.get("url")
        if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme != "https":
            raise ApiError("invalid_request_error", f"{where}.url: MCP server URLs must start with https://")
        if server["name"] in names:
            raise ApiError(
                "invalid_request_error", f"{where}.name: duplicate MCP server name {server['name']!r}"
            )
        names.append(server["name"])
    for i, toolset in toolsets:
        name = toolset.get("mcp_server_name")
        if name not in names:
            raise ApiError(
                "invalid_request_error",
                f"tools.{i}.mcp_server_name: MCP server {name!r} is not defined in `mcp_servers`.",
            )
    if MCP_BETA in enabled:
        referenced = [t.get("mcp_server_name") for _, t in toolsets]
        for name in names:
            if referenced.count(name) != 1:
                raise ApiError(
                    "invalid_request_error",
                    f"mcp_servers: MCP server {name!r} must be referenced by exactly one `mcp_toolset` in "
                    f"`tools` (found {referenced.count(name)}).",
                )


# -- the calls ---------------------------------------------------------------------------------------


def fetch_call(tools: list[dict[str, Any]], text: str, rng: random.Random) -> ServerCall | None:
    """A fetch of the first URL in the text, when a web fetch tool is declared."""
    tool = _tool_of(tools, "web_fetch")
    found = _URL.search(text)
    if tool is None or found is None:
        return None
    url = found.group(0).rstrip(".,;:!?")
    call_id = _id(rng, "srvtoolu_01")
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    allowed, blocked = tool.get("allowed_domains"), tool.get("blocked_domains")
    if (allowed and not any(_within(host, d) for d in allowed)) or (
        blocked and any(_within(host, d) for d in blocked)
    ):
        content: dict[str, Any] = {"type": "web_fetch_tool_result_error", "error_code": "url_not_allowed"}
    else:
        page = f"The page at {url} is an emulated document. It says what the emulator says about {host}."
        content = {
            "type": "web_fetch_result",
            "url": url,
            "retrieved_at": "2026-01-01T00:00:00Z",
            "content": {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": page},
                "title": host or url,
                "citations": None,
            },
        }
    result = {"type": "web_fetch_tool_result", "tool_use_id": call_id, "content": content}
    return ServerCall(call_id, "web_fetch", {"url": url}, result)


def _within(host: str, domain: Any) -> bool:
    domain = str(domain).lower().removeprefix("https://").removeprefix("http://").split("/")[0]
    return host == domain or host.endswith("." + domain)


def code_calls(tools: list[dict[str, Any]], text: str, rng: random.Random) -> list[ServerCall]:
    """A script written and run in the sandbox, when the text asks for code to run."""
    tool = _tool_of(tools, "code_execution")
    if tool is None or not _CODE.search(text):
        return []
    found = _EXPR.search(text)
    value = _arithmetic(found.group(1).strip()) if found else None
    if found is None or value is None:
        source, stdout = "print('hello from the sandbox')\n", "hello from the sandbox\n"
    else:
        source, stdout = f"print({found.group(1).strip()})\n", f"{value}\n"
    if tool.get("type") == "code_execution_20250522":
        call_id = _id(rng, "srvtoolu_01")
        result = {
            "type": "code_execution_tool_result",
            "tool_use_id": call_id,
            "content": {
                "type": "code_execution_result",
                "stdout": stdout,
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
        }
        return [ServerCall(call_id, "code_execution", {"code": source}, result)]
    write_id, run_id = _id(rng, "srvtoolu_01"), _id(rng, "srvtoolu_01")
    write = ServerCall(
        write_id,
        "text_editor_code_execution",
        {"command": "create", "path": "main.py", "file_text": source},
        {
            "type": "text_editor_code_execution_tool_result",
            "tool_use_id": write_id,
            "content": {"type": "text_editor_code_execution_create_result", "is_file_update": False},
        },
    )
    run = ServerCall(
        run_id,
        "bash_code_execution",
        {"command": "python3 main.py"},
        {
            "type": "bash_code_execution_tool_result",
            "tool_use_id": run_id,
            "content": {
                "type": "bash_code_execution_result",
                "stdout": stdout,
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
        },
    )
    return [write, run]


_EXPR = re.compile(r"(?<![\w.])(\(*\s*-?\d+(?:\.\d+)?(?:\s*(?:\*\*|[-+*/%])\s*\(*\s*-?\d+(?:\.\d+)?\s*\)*)+)")
_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
}


def _arithmetic(expression: str) -> str | None:
    """What Python prints for an arithmetic expression (`2*(3+4)`), or None when it cannot run."""
    try:
        return str(_eval(ast.parse(expression, mode="eval").body))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, KeyError):
        return None


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        return _OPS[type(node.op)](_eval(node.operand))
    raise ValueError("not arithmetic")


def deferred(tools: list[dict[str, Any]]) -> bool:
    """Whether a tool search tool is declared (deferred tools are then found before they are called)."""
    return any(str(t.get("type", "")).startswith(_SEARCH_TYPES) for t in tools)


def tool_search_call(
    tools: list[dict[str, Any]], wanted: str, rng: random.Random, found_before: set[str]
) -> ServerCall | None:
    """The search that finds the deferred tool `wanted`, unless an earlier search found it."""
    search = next((t for t in tools if str(t.get("type", "")).startswith(_SEARCH_TYPES)), None)
    tool = next((t for t in tools if t.get("name") == wanted), None)
    if search is None or tool is None or not tool.get("defer_loading") or wanted in found_before:
        return None
    name = str(search.get("name"))
    call_id = _id(rng, "srvtoolu_01")
    words = [w for w in re.split(r"[_\W]+", wanted) if w]
    query = "|".join(words) if name == "tool_search_tool_regex" else " ".join(words)
    result = {
        "type": "tool_search_tool_result",
        "tool_use_id": call_id,
        "content": {
            "type": "tool_search_tool_search_result",
            "tool_references": [{"type": "tool_reference", "tool_name": wanted}],
        },
    }
    return ServerCall(call_id, name, {"query": query}, result)


def found_tools(messages: list[dict[str, Any]]) -> set[str]:
    """The deferred tools earlier searches of the conversation found (they stay loaded)."""
    names: set[str] = set()
    for msg in messages:
        content = msg.get("content")
        if msg.get("role") != "assistant" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_search_tool_result":
                inner = block.get("content") or {}
                for ref in inner.get("tool_references") or []:
                    names.add(str(ref.get("tool_name")))
    return names


def mcp_call(raw: dict[str, Any], text: str, topic: str, rng: random.Random) -> ServerCall | None:
    """A call of the MCP server (or of its configured tool) the text names."""
    servers = [s for s in raw.get("mcp_servers") or [] if isinstance(s, dict)]
    toolsets = {
        str(t.get("mcp_server_name")): t
        for t in raw.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "mcp_toolset"
    }
    lowered = text.lower()
    for server in servers:
        name = str(server.get("name"))
        offered = _offered(toolsets.get(name), server)
        named = next((tool for tool in offered if tool.lower() in lowered), None)
        if named is None and name.lower() not in lowered:
            continue
        tool = named or (offered[0] if offered else "search")
        call_id = _id(rng, "mcptoolu_01")
        result = {
            "type": "mcp_tool_result",
            "tool_use_id": call_id,
            "is_error": False,
            "content": [{"type": "text", "text": f"{name}.{tool} found what it knows about {topic}."}],
        }
        return ServerCall(call_id, tool, {"query": topic}, result, kind="mcp_tool_use", server_name=name)
    return None


def _offered(toolset: dict[str, Any] | None, server: dict[str, Any]) -> list[str]:
    """The tool names a server is configured with: a toolset's pinned listing or per-tool configs,
    the older beta's `tool_configuration.allowed_tools`; none when the server is left to list them."""
    if toolset is not None:
        listed = [str(t.get("name")) for t in toolset.get("tools") or [] if isinstance(t, dict)]
        configs = toolset.get("configs") or {}
        enabled = [n for n, c in configs.items() if not isinstance(c, dict) or c.get("enabled", True)]
        return listed or enabled
    allowed = (server.get("tool_configuration") or {}).get("allowed_tools")
    return [str(t) for t in allowed or []]


# -- pause_turn --------------------------------------------------------------------------------------


def pauses(text: str) -> bool:
    """Whether the answer's server-side loop runs long enough to pause (the text says "in depth")."""
    return bool(_PAUSE.search(text))


def continues_paused_turn(messages: list[dict[str, Any]]) -> bool:
    """Whether the conversation ends with a paused assistant turn sent back as is: its last block is
    a server tool's result (or a server tool call the API had not run yet)."""
    last = messages[-1]
    content = last.get("content")
    if last.get("role") != "assistant" or not isinstance(content, list) or not content:
        return False
    kind = str(content[-1].get("type", "")) if isinstance(content[-1], dict) else ""
    return bool(_RESULT.search(kind)) or kind in ("server_tool_use", "mcp_tool_use")


def server_tool_usage(names: list[str]) -> dict[str, int]:
    """`usage.server_tool_use` for the calls an answer made (the SDK's `ServerToolUsage` fields)."""
    return {
        "web_search_requests": names.count("web_search"),
        "web_fetch_requests": names.count("web_fetch"),
    }
