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
