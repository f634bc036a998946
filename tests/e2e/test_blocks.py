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

PROFILES = json.dumps(
    {"chat": {"thinking": "adaptive", "thinking_display": "summarized", "prefix_tools": [WEATHER]}}
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
