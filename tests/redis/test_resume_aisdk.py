"""The AI SDK's own resume flow against a resumable example (#17).

`tests/e2e/aisdk/resume.mjs` sends a chat with the AI SDK's `DefaultChatTransport`, drops the
connection after a few parts, and resumes with `reconnectToStream` (what `useChat`'s
`resumeStream()` calls: `GET /api/chat/{chat id}/stream?protocol=ai-sdk`). The message the AI
SDK rebuilds must be the one an unbroken request gives, generated once.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server, run_server
from tests.redis.server import RedisServer

pytestmark = pytest.mark.redis

AISDK = Path(__file__).resolve().parents[1] / "e2e" / "aisdk"
QUESTION = "Describe Redis streams."  # about 230 tokens from the seeded emulator: a few seconds


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=3) as emu:
        yield emu


@pytest.fixture(scope="module", params=["starlette", "flask"])
def example(
    request: pytest.FixtureRequest, upstream: Emulator, redis_server: RedisServer
) -> Iterator[Server]:
    if shutil.which("node") is None or not (AISDK / "node_modules" / "ai").is_dir():
        pytest.skip("needs node and the AI SDK: run `npm ci` in tests/e2e/aisdk")
    pytest.importorskip(request.param)
    if redis_server.process is None:
        redis_server.start()
    env = {
        "ANTHROPIC_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-aisdk-resume",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_REDIS_URL": redis_server.url,
        "FIRSTTOKEN_REDIS_PREFIX": f"aisdk-{request.param}:",
        "FIRSTTOKEN_REDIS_TIMEOUT": "0.5",
    }
    with run_server(["-m", f"example_projects.{request.param}_chat"], env=env) as server:
        yield server


def _node(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(AISDK / script), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _text(message: dict[str, Any]) -> str:
    return "".join(part["text"] for part in message["parts"] if part["type"] == "text")


def test_the_ai_sdk_resumes_a_dropped_answer(example: Server, upstream: Emulator) -> None:
    api = f"{example.url}/api/chat?protocol=ai-sdk"
    body = {
        "id": "unbroken",
        "messages": [{"id": "user-1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}],
    }
    unbroken = _node("rebuild.mjs", api, json.dumps(body))["message"]
    before = upstream.stats()["requests_total"]
    result = _node("resume.mjs", api, f"chat-{secrets.token_hex(6)}", QUESTION, "6")
    assert result["resumed"] is True, result
    assert "text-delta" in result["seen"]
    message = result["message"]
    assert _text(message) == _text(unbroken)
    assert message["metadata"]["usage"] == unbroken["metadata"]["usage"]
    assert result["afterEnd"] is None  # an answer that ended is not resumed again
    assert upstream.stats()["requests_total"] - before == 1


def test_the_ai_sdk_sends_only_the_last_message_and_resumes_by_chat_id(
    example: Server, upstream: Emulator, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.params["example"] != "starlette":
        pytest.skip("one framework is enough here: the held chat is the core's, under every adapter alike")
    api = f"{example.url}/api/chat?protocol=ai-sdk"
    chat_id = f"threaded-{secrets.token_hex(6)}"
    result = _node("threaded.mjs", api, chat_id, "Hello there.", "Tell me more.", QUESTION)
    # Each request carried the chat id and its one new message, never the conversation.
    assert [sorted(body) for body in result["sent"]] == [["id", "message"]] * 3
    assert [body["message"]["role"] for body in result["sent"]] == ["user"] * 3
    asked = [r for r in upstream.requests if r["path"] == "/v1/messages"][-3:]
    # The example's `chat` profile: firsttoken holds the chat and sends it whole upstream.
    assert [(r.get("thread"), r.get("sent_messages")) for r in asked] == [(None, 1), (None, 3), (None, 5)]
    assert result["resumed"] is True
    answers = [m for m in result["messages"] if m["role"] == "assistant"]
    assert len(answers) == 3 and all(_text(m) for m in answers)
    assert all(m["metadata"]["chat_id"] == chat_id for m in answers)
    held = httpx2.get(f"{example.url}/api/chat/{chat_id}/messages", timeout=30).json()["messages"]
    assert [m["content"] for m in held if m["role"] == "user"] == ["Hello there.", "Tell me more.", QUESTION]
    assert held[-1]["content"] == _text(answers[-1])
