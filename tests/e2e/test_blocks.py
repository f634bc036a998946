"""Thinking and tool calls through every example app's real server: the SSE events of the contract,
the AI SDK parts rebuilt by the AI SDK's own client (`readUIMessageStream`, run by node), the
rebuilt message accepted back, and the chat page showing both as they stream.

The apps run unchanged; their `chat` profile gets summarized adaptive thinking and a weather tool
through `FIRSTTOKEN_PROFILES`, the way an operator would configure one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from firsttoken.testing.emulator import Emulator
from tests.browser import chromium
from tests.tools import WEATHER

from .conftest import EXAMPLE_APPS, RunningExample, _pick, _start_all
from .sse import named, parse

# `fast` gets the tools the API runs (and a deferred weather tool that a search finds).
SERVER_TOOLS = [
    {"type": "web_search_20250305", "name": "web_search"},
    {"type": "web_fetch_20250910", "name": "web_fetch"},
    {"type": "code_execution_20250825", "name": "code_execution"},
    {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
    {**WEATHER, "defer_loading": True},
]
# An MCP server the emulator makes up answers for: it is never contacted.
MCP_SERVER = {"type": "url", "url": "https://mcp.example.com/mcp", "name": "docs"}
PROFILES = json.dumps(
    {
        "chat": {"thinking": "adaptive", "thinking_display": "summarized", "prefix_tools": [WEATHER]},
        "fast": {"max_tokens": 400, "prefix_tools": SERVER_TOOLS, "mcp_servers": [MCP_SERVER]},
    }
)
QUESTION = "What is the weather in Paris? Use get_weather."
AISDK = Path(__file__).parent / "aisdk"


@pytest.fixture(scope="module")
def blocks_emulator() -> Iterator[Emulator]:
    # A fifth of real time: slow enough that the page shows thinking and input while they stream.
    with Emulator(time_scale=0.2, seed=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def thinking_examples(blocks_emulator: Emulator) -> Iterator[dict[str, RunningExample]]:
    apps = [replace(app, env={**app.env, "FIRSTTOKEN_PROFILES": PROFILES}) for app in EXAMPLE_APPS]
    yield from _start_all(apps, blocks_emulator)


@pytest.fixture(scope="module", params=EXAMPLE_APPS, ids=lambda app: app.name)
def thinking_example(
    request: pytest.FixtureRequest, thinking_examples: dict[str, RunningExample]
) -> RunningExample:
    return _pick(thinking_examples, request.param)


def test_sse_streams_thinking_tool_input_and_the_call(thinking_example: RunningExample) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}], "profile": "chat"}
    response = thinking_example.client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    events = named(parse(response.content))
    names = [e.name for e in events]
    assert {"thinking", "token", "tool_input", "tool_call", "done"} <= set(names)
    assert (
        names.index("thinking") < names.index("token") < names.index("tool_input") < names.index("tool_call")
    )
    fragments = [e.data["delta"] for e in events if e.name == "tool_input"]
    call = next(e.data for e in events if e.name == "tool_call")
    assert len(fragments) >= 3 and json.loads("".join(fragments)) == call["input"]
    assert call["name"] == "get_weather" and set(call["input"]) == {"location", "unit"}
    assert events[-1].name == "done" and events[-1].data["stop_reason"] == "tool_use"


def rebuild(
    example: RunningExample,
    body: dict[str, Any],
    *,
    package: str = "ai",
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer as that AI SDK client rebuilds it (`package`: `ai` is 5, `ai6`, `ai7`), continuing
    `message` when given (as `useChat` continues its last assistant message)."""
    if shutil.which("node") is None or not (AISDK / "node_modules" / package).is_dir():
        pytest.skip("needs node and the AI SDK: run `npm ci` in tests/e2e/aisdk")
    env = {**os.environ, "AISDK_PACKAGE": package, "AISDK_MESSAGE": json.dumps(message) if message else ""}
    done = subprocess.run(
        ["node", str(AISDK / "rebuild.mjs"), f"{example.url}/api/chat?protocol=ai-sdk", json.dumps(body)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_ai_sdk_client_rebuilds_reasoning_and_tool_parts(thinking_example: RunningExample) -> None:
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}
    first = rebuild(thinking_example, {"id": "chat-1", "messages": [user], "trigger": "submit-message"})
    assert first["status"] == 200 and first["snapshots"] > 5
    message = first["message"]
    kinds = [p["type"] for p in message["parts"]]
    assert kinds == ["step-start", "reasoning", "text", "tool-get_weather"]
    reasoning, text, tool = message["parts"][1:]
    assert reasoning["state"] == "done" and reasoning["text"].startswith("Let me think")
    assert reasoning["providerMetadata"]["anthropic"]["signature"]
    assert text["state"] == "done" and "get_weather" in text["text"]
    assert tool["state"] == "input-available" and set(tool["input"]) == {"location", "unit"}

    # The page runs the tool and sends the conversation back: reasoning (signed) and the call with
    # its output go upstream as the API's blocks, which the emulator checks as the API does.
    tool.update(state="output-available", output={"temperature_c": 18, "sky": "clear"})
    follow = {
        "id": "chat-1",
        "messages": [
            user,
            message,
            {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "Thanks!"}]},
        ],
        "trigger": "submit-message",
    }
    second = rebuild(thinking_example, follow)
    assert second["status"] == 200, second
    assert [p["type"] for p in second["message"]["parts"]][:2] == ["step-start", "reasoning"]

    # A reasoning part edited in the browser is refused upstream, before any byte streams.
    reasoning["text"] += " (edited)"
    edited = rebuild(thinking_example, follow)
    assert edited["status"] == 502 and "signature" in edited["error"]


WATCH = """() => {
  window.__seen = {thinking: false, toolInput: false};
  new MutationObserver(() => {
    const answer = document.querySelector('.answer');
    if (!answer || answer.dataset.state !== 'streaming') return;
    const box = answer.querySelector('details.thinking[data-state="streaming"] .thinking-text');
    const closed = !answer.querySelector('details.thinking')?.open;
    if (box && box.textContent && closed) window.__seen.thinking = true;
    const input = answer.querySelector('.tool[data-state="streaming"] .tool-input');
    if (input && input.textContent) window.__seen.toolInput = true;
  }).observe(document.getElementById('conversation'), {subtree: true, childList: true,
                                                       characterData: true, attributes: true});
}"""


@pytest.mark.browser
def test_the_page_shows_thinking_and_tool_calls_as_they_stream(thinking_example: RunningExample) -> None:
    for browser in chromium():
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        try:
            page = context.new_page()
            page.goto(thinking_example.url + "/")
            page.wait_for_function("() => document.readyState === 'complete'")
            page.evaluate(WATCH)
            page.fill("#prompt", QUESTION)
            page.click("#send")
            page.wait_for_selector(".answer[data-state='done']", timeout=30_000)
            seen = page.evaluate("window.__seen")
            assert seen == {"thinking": True, "toolInput": True}
            thinking = page.locator(".answer details.thinking")
            assert thinking.get_attribute("open") is None  # collapsed
            assert thinking.locator("summary").inner_text() == "Thought"
            assert thinking.locator(".thinking-text").text_content().startswith("Let me think")
            tool = page.locator(".answer .tool")
            assert tool.get_attribute("data-state") == "done"
            assert "get_weather" in tool.locator(".tool-name").inner_text()
            shown = json.loads(tool.locator(".tool-input").inner_text())
            assert set(shown) == {"location", "unit"}
        finally:
            context.close()


# -- tools the API runs ----------------------------------------------------------------------------

# A web fetch, a script run in the sandbox and a web search; "in depth" makes the emulated server
# loop long, so the API pauses the turn and the server continues it (servertools.py's triggers).
FAST = {"profile": "fast"}
SERVER_QUESTION = "Read https://example.com/latency, ask docs and run 6*7 in python, in depth."


def test_server_tools_stream_marked_and_priced_through_every_server(
    thinking_example: RunningExample, blocks_emulator: Emulator
) -> None:
    before = len([r for r in blocks_emulator.requests if r["path"] == "/v1/messages"])
    body = {"messages": [{"role": "user", "content": SERVER_QUESTION}], "profile": "fast"}
    response = thinking_example.client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    events = named(parse(response.content))
    calls = [e.data for e in events if e.name == "tool_call"]
    results = [e.data for e in events if e.name == "tool_result"]
    names = ["web_search", "web_fetch", "text_editor_code_execution", "bash_code_execution", "search"]
    assert [c["name"] for c in calls] == names and all(c["server"] is True for c in calls)
    assert [r["id"] for r in results] == [c["id"] for c in calls]
    assert all(r["server"] is True and not r["is_error"] for r in results)
    assert all(e.data["server"] is True for e in events if e.name == "tool_input")
    assert results[3]["output"]["stdout"] == "42\n"
    assert calls[-1]["server_name"] == "docs" and results[-1]["output"][0]["type"] == "text"
    done = events[-1].data
    assert events[-1].name == "done" and done["stop_reason"] == "end_turn"
    # pause_turn continued: two upstream requests, one answer, its text after the tools'.
    assert done["steps"] == 2
    after = [r for r in blocks_emulator.requests if r["path"] == "/v1/messages"]
    assert len(after) - before == 2
    assert [e.name for e in events].index("token") > [e.name for e in events].index("tool_result")
    assert done["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 1}
    assert done["cost_usd"] > 0.01  # the search alone is a cent


def test_the_ai_sdk_client_rebuilds_provider_executed_tool_parts(thinking_example: RunningExample) -> None:
    text = (
        "What is the weather in Paris? Use get_weather. Read https://example.com/weather and ask docs first."
    )
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
    rebuilt = rebuild(
        thinking_example, {"id": "chat-s", "messages": [user], "trigger": "submit-message", **FAST}
    )
    assert rebuilt["status"] == 200, rebuilt
    tools = [p for p in rebuilt["message"]["parts"] if p["type"].startswith("tool-")]
    kinds = [p["type"] for p in tools]
    assert kinds == [
        "tool-web_search",
        "tool-web_fetch",
        "tool-search",  # the MCP server's tool
        "tool-tool_search_tool_regex",
        "tool-get_weather",
    ]
    server, client = tools[:4], tools[4]
    assert all(p["providerExecuted"] is True and p["state"] == "output-available" for p in server)
    assert server[2]["callProviderMetadata"] == {"anthropic": {"mcpServerName": "docs"}}
    assert server[3]["output"]["tool_references"] == [{"type": "tool_reference", "tool_name": "get_weather"}]
    assert "providerExecuted" not in client and client["state"] == "input-available"
    # The page answers the client tool; the server tools' parts go back as the API's blocks.
    client.update(state="output-available", output={"temperature_c": 18})
    follow = {
        "id": "chat-s",
        "messages": [
            user,
            rebuilt["message"],
            {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "Thanks!"}]},
        ],
        "trigger": "submit-message",
        **FAST,
    }
    assert rebuild(thinking_example, follow)["status"] == 200


@pytest.mark.browser
def test_the_page_marks_server_tools_and_shows_the_cost(thinking_examples: dict[str, RunningExample]) -> None:
    example = _pick(thinking_examples, EXAMPLE_APPS[0])
    for browser in chromium():
        context = browser.new_context(viewport={"width": 1000, "height": 760})
        try:
            page = context.new_page()
            page.goto(example.url + "/")
            page.wait_for_function("() => document.readyState === 'complete'")
            page.select_option("#profile", "fast")
            page.fill("#prompt", SERVER_QUESTION)
            page.click("#send")
            page.wait_for_selector(".answer[data-state='done']", timeout=30_000)
            boxes = page.locator(".answer .tool[data-server='true']")
            assert boxes.count() == 5
            assert boxes.first.locator(".tool-server").inner_text() == "server"
            assert "web_fetch" in boxes.nth(1).locator(".tool-name").inner_text()
            assert boxes.last.locator(".tool-server").inner_text() == "server · docs"
            stats = page.locator(".turn .stats").last
            assert float(stats.get_attribute("data-cost-usd") or 0) > 0.01
            assert "~$0.0" in stats.inner_text() and "1 web search" in stats.inner_text()
        finally:
            context.close()
