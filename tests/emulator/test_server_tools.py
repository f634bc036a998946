"""The tools the API runs itself, read by the official SDK with strict response validation: web fetch,
code execution (current and older), tool search, the MCP connector and `pause_turn`, streamed and
not, with `messages.stream()` accumulating every block; and the API's 400s for malformed uses."""

from __future__ import annotations

import typing
from typing import Any

import anthropic
import pytest
from anthropic.types.beta.beta_tool_union_param import BetaToolUnionParam
from anthropic.types.tool_union_param import ToolUnionParam

from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator.protocol import TOOL_TYPES
from firsttoken.testing.emulator.servertools import MCP_BETA
from tests.tools import WEATHER

MODEL = "claude-sonnet-5"

FETCH = {"type": "web_fetch_20250910", "name": "web_fetch"}
CODE = {"type": "code_execution_20250825", "name": "code_execution"}
SEARCH = {"type": "web_search_20250305", "name": "web_search"}
REGEX = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
MCP_SERVERS = [{"type": "url", "url": "https://mcp.example.com/mcp", "name": "docs"}]
TOOLSET = {"type": "mcp_toolset", "mcp_server_name": "docs"}


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


CASES: dict[str, dict[str, Any]] = {
    "web fetch": {"tools": [FETCH], "messages": ask("Read https://docs.example.org/guide and sum it up.")},
    "web fetch refused": {
        "tools": [{**FETCH, "blocked_domains": ["example.org"]}],
        "messages": ask("Read https://docs.example.org/guide and sum it up."),
    },
    "code execution": {"tools": [CODE], "messages": ask("Run 2*(3+4) in python.")},
    "code execution 20250522": {
        "tools": [{"type": "code_execution_20250522", "name": "code_execution"}],
        "messages": ask("Run a script that says hello."),
    },
    "tool search": {
        "tools": [REGEX, {**WEATHER, "defer_loading": True}],
        "messages": ask("What is the weather in Paris? Use get_weather."),
    },
    "tool search bm25": {
        "tools": [
            {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
            {**WEATHER, "defer_loading": True},
        ],
        "messages": ask("What is the weather in Paris? Use get_weather."),
    },
    "pause_turn": {"tools": [SEARCH], "messages": ask("Research streaming latency in depth.")},
}
BLOCKS = {
    "web fetch": ["server_tool_use", "web_fetch_tool_result", "text", "text"],
    "web fetch refused": ["server_tool_use", "web_fetch_tool_result", "text", "text"],
    "code execution": [
        "server_tool_use",
        "text_editor_code_execution_tool_result",
        "server_tool_use",
        "bash_code_execution_tool_result",
        "text",
        "text",
    ],
    "code execution 20250522": ["server_tool_use", "code_execution_tool_result", "text", "text"],
    "tool search": ["text", "server_tool_use", "tool_search_tool_result", "tool_use"],
    "tool search bm25": ["text", "server_tool_use", "tool_search_tool_result", "tool_use"],
    "pause_turn": ["server_tool_use", "web_search_tool_result"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_server_tool_block_is_valid_streamed_and_not(client: anthropic.Anthropic, case: str) -> None:
    call = {"model": MODEL, "max_tokens": 1024, **CASES[case]}
    with client.messages.stream(**call) as stream:
        events = list(stream)
        final = stream.get_final_message()
    whole = client.messages.create(**call)
    assert [b.type for b in final.content] == [b.type for b in whole.content] == BLOCKS[case]
    assert final.model_dump(exclude={"id", "container"}) == whole.model_dump(exclude={"id", "container"})
    # The calls' input streamed as JSON fragments the SDK's accumulator joined.
    assert any(e.type == "input_json" for e in events)
    uses = [b for b in final.content if b.type == "server_tool_use"]
    results = [b for b in final.content if b.type.endswith("_tool_result")]
    assert [getattr(r, "tool_use_id", None) for r in results] == [u.id for u in uses]
    content: Any = results[0].content
    if case == "web fetch":
        assert uses[0].name == "web_fetch" and uses[0].input == {"url": "https://docs.example.org/guide"}
        assert content.type == "web_fetch_result" and content.content.source.data
        assert final.usage.server_tool_use is not None
        assert final.usage.server_tool_use.web_fetch_requests == 1
    if case == "web fetch refused":
        assert content.type == "web_fetch_tool_result_error" and content.error_code == "url_not_allowed"
    if case == "code execution":
        assert [u.name for u in uses] == ["text_editor_code_execution", "bash_code_execution"]
        assert content.type == "text_editor_code_execution_create_result"
        ran: Any = results[1].content
        assert ran.type == "bash_code_execution_result" and ran.stdout == "14\n" and ran.return_code == 0
        assert final.container is not None and final.container.id.startswith("container_")
        assert final.usage.server_tool_use is None  # billed by container time, not counted per call
    if case == "code execution 20250522":
        assert uses[0].name == "code_execution" and content.type == "code_execution_result"
    if case.startswith("tool search"):
        assert uses[0].name == CASES[case]["tools"][0]["name"]
        assert [r.tool_name for r in content.tool_references] == ["get_weather"]
        assert final.content[-1].type == "tool_use" and final.stop_reason == "tool_use"
    if case == "pause_turn":
        assert final.stop_reason == "pause_turn"
        assert final.usage.server_tool_use is not None
        assert final.usage.server_tool_use.web_search_requests == 1


def test_a_paused_turn_sent_back_as_is_continues(client: anthropic.Anthropic, emu: Emulator) -> None:
    call = {"model": "claude-sonnet-4-6", "max_tokens": 1024, **CASES["pause_turn"]}
    paused = client.messages.create(**call)
    assert paused.stop_reason == "pause_turn"
    # The assistant turn goes back unchanged and no user message follows: on a model that refuses
    # prefill, this is a continuation, not a prefill.
    messages = [*call["messages"], {"role": "assistant", "content": paused.content}]
    with client.messages.stream(**{**call, "messages": messages}) as stream:
        resumed = stream.get_final_message()
    assert resumed.stop_reason == "end_turn"
    assert [b.type for b in resumed.content] == ["text"]
    assert len(emu.requests) == 2
    with pytest.raises(anthropic.BadRequestError, match="prefill"):
        client.messages.create(**{**call, "messages": [*messages, {"role": "assistant", "content": "So"}]})


def test_a_deferred_tool_found_earlier_is_called_without_a_new_search(client: anthropic.Anthropic) -> None:
    call = {"model": MODEL, "max_tokens": 1024, **CASES["tool search"]}
    first = client.messages.create(**call)
    use = first.content[-1]
    assert use.type == "tool_use"
    messages = [
        *call["messages"],
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C"}]},
        {"role": "assistant", "content": "It is 18C in Paris."},
        {"role": "user", "content": "And the weather in Tokyo? Use get_weather."},
    ]
    again = client.messages.create(**{**call, "messages": messages})
    kinds = [b.type for b in again.content]
    assert kinds[-1] == "tool_use" and "tool_search_tool_result" not in kinds


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
def test_the_mcp_connector_through_the_beta_resource(client: anthropic.Anthropic, streamed: bool) -> None:
    call: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1024,
        "mcp_servers": MCP_SERVERS,
        "tools": [{**TOOLSET, "configs": {"lookup": {"enabled": True}}}],
        "messages": ask("Use lookup to find how caching works."),
        "betas": [MCP_BETA],
    }
    if streamed:
        with client.beta.messages.stream(**call) as stream:
            message = stream.get_final_message()
    else:
        message = client.beta.messages.create(**call)
    assert [b.type for b in message.content][:2] == ["mcp_tool_use", "mcp_tool_result"]
    use, result = message.content[0], message.content[1]
    assert use.type == "mcp_tool_use" and result.type == "mcp_tool_result"
    assert (
        use.name == "lookup" and use.server_name == "docs" and use.input == {"query": "lookup find caching"}
    )
    assert result.tool_use_id == use.id and not result.is_error
    assert isinstance(result.content, list) and "docs.lookup" in result.content[0].text


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"tools": [{"type": "web_fetch_20991231", "name": "web_fetch"}]}, "Input tag 'web_fetch_20991231'"),
        ({"tools": [{"type": "web_fetch_20250910", "name": "fetch"}]}, "Input should be 'web_fetch'"),
        ({"tools": [{**WEATHER, "defer_loading": True}]}, "`defer_loading` needs a tool search tool"),
        ({"tools": [{**REGEX, "defer_loading": True}, WEATHER]}, "cannot set `defer_loading`"),
        ({"tools": [TOOLSET], "betas": [MCP_BETA]}, "'docs' is not defined in `mcp_servers`"),
        ({"mcp_servers": MCP_SERVERS, "tools": [TOOLSET]}, "MCP connector is in beta"),
        ({"mcp_servers": MCP_SERVERS, "betas": [MCP_BETA]}, "referenced by exactly one `mcp_toolset`"),
        (
            {"mcp_servers": [{**MCP_SERVERS[0], "url": "http://mcp.example.com"}], "betas": [MCP_BETA]},
            "must start with https://",
        ),
        ({"tools": [{"type": "mcp_toolset"}], "betas": [MCP_BETA]}, "mcp_server_name: Field required"),
    ],
)
def test_malformed_server_tool_uses_are_the_apis_400s(
    client: anthropic.Anthropic, call: dict[str, Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.beta.messages.create(model=MODEL, max_tokens=64, messages=ask("hello"), **call)


def _declared(union: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for param in typing.get_args(union):
        hints = typing.get_type_hints(param)
        names = _literals(hints["name"]) if "name" in hints else []
        for kind in _literals(hints["type"]):
            out[kind] = names[0] if names else None
    return out


def _literals(hint: Any) -> list[str]:
    found: list[str] = []
    for arg in typing.get_args(hint):
        found += [arg] if isinstance(arg, str) else _literals(arg)
    return found


def test_every_tool_type_the_sdk_declares_is_taken_with_its_name() -> None:
    declared = {**_declared(ToolUnionParam), **_declared(BetaToolUnionParam)}
    # A custom tool's name is the caller's own ("" in the table: any non-empty name). The table may
    # hold types a newer SDK declares than the one installed (`make oldest`), never fewer.
    assert {k: TOOL_TYPES.get(k, "missing") for k in declared if k != "custom"} == {
        k: v for k, v in declared.items() if k != "custom"
    }
