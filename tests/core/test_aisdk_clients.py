"""The AI SDK format for each client major it supports (`aisdk_protocol`: 5, 6, 7), read by that
major's own client code (`tests/e2e/aisdk/stream.mjs` under node, with `ai`, `ai6` and `ai7`
installed side by side): the answer's metadata and firsttoken's data parts, a paused approval and
its answer, an answer that restarts on a fallback model. The engine streams from the emulator
through the real SDK; only the HTTP server is left out (tests/e2e/test_agent.py has them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firsttoken import Engine, Settings, parse_chat_request
from firsttoken.testing.emulator import Emulator

AISDK = Path(__file__).resolve().parents[1] / "e2e" / "aisdk"
PACKAGES = {"5": "ai", "6": "ai6", "7": "ai7"}
REMINDER = 'Please set_reminder({"text": "call mom", "at": "2026-12-24T09:00"}) now.'
TOOLS = ["example_projects.agent_tools:set_reminder"]
PRIMARY, FALLBACK = "claude-sonnet-5-5", "claude-haiku-5-5"


def client(version: str, body: bytes, message: dict[str, Any] | None = None) -> dict[str, Any]:
    package = PACKAGES[version]
    if shutil.which("node") is None or not (AISDK / "node_modules" / package).is_dir():
        pytest.skip("needs node and the AI SDKs: run `npm ci` in tests/e2e/aisdk")
    args = ["node", str(AISDK / "stream.mjs"), package, *([json.dumps(message)] if message else [])]
    done = subprocess.run(args, input=body, capture_output=True, timeout=60, check=True, cwd=AISDK)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=3) as emulator:
        yield emulator


@pytest.fixture(scope="module", params=sorted(PACKAGES))
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def engine(emu: Emulator, version: str) -> Iterator[Engine]:
    profiles = {
        "chat": {"fallbacks": [FALLBACK]},
        "agent": {"model": PRIMARY, "max_tokens": 512, "tools": TOOLS},
    }
    settings = Settings.from_mapping(
        {"base_url": emu.base_url, "max_retries": 0, "aisdk_protocol": version, "profiles": profiles}
    )
    with Engine(settings) as eng:
        yield eng


def answer(engine: Engine, body: dict[str, Any]) -> bytes:
    chat = parse_chat_request(body, protocol="ai-sdk")
    relay = engine.relay(format="ai-sdk", **chat.call_kwargs())
    start = relay.open()
    assert start.status == 200, start.body
    return b"".join(relay)


def user(text: str) -> dict[str, Any]:
    return {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}


def test_metadata_and_data_parts(engine: Engine, version: str) -> None:
    rebuilt = client(version, answer(engine, {"messages": [user("Say something short.")]}))
    message = rebuilt["message"]
    # firsttoken's extras are transient: parsed, handed to `onData`, kept out of the message.
    assert [p["type"] for p in message["parts"]] == ["step-start", "text"], rebuilt
    assert rebuilt["data"] == [{"type": "data-cache", "data": {"read": 0, "written": 0}, "transient": True}]
    metadata = message["metadata"]
    assert metadata["model"] == PRIMARY and metadata["ttft_ms"] > 0 and metadata["usage"]["output_tokens"] > 0


def test_a_restart_on_the_fallback_model(engine: Engine, emu: Emulator, version: str) -> None:
    emu.set_faults([f"midstream_overloaded@{PRIMARY}"])
    try:
        rebuilt = client(version, answer(engine, {"messages": [user("Explain streaming briefly.")]}))
    finally:
        emu.set_faults([])
    with engine.stream(
        messages=[{"role": "user", "content": "Explain streaming briefly."}], model=FALLBACK
    ) as s:
        fallback_text = s.text()
    message = rebuilt["message"]
    assert "error" not in rebuilt and message["metadata"]["served_by"] == FALLBACK
    kinds = [p["type"] for p in message["parts"]]
    texts = [p["text"] for p in message["parts"] if p["type"] == "text"]
    fallback = next(d for d in rebuilt["data"] if d["type"] == "data-fallback")
    assert fallback["data"] == {"served_by": FALLBACK, "fallbacks": 1, "retries": 0}
    reset = next(p for p in message["parts"] if p["type"] == "data-reset")
    assert reset["data"] == {"reason": "fallback", "model": FALLBACK}
    if version == "7":
        # reset-step dropped the primary's words: only the fallback's answer is left.
        assert kinds == ["step-start", "data-reset", "text"] and texts == [fallback_text]
    else:
        # An older client keeps the first text part; the app drops what comes before data-reset.
        assert kinds == ["step-start", "text", "data-reset", "text"]
        assert texts[1] == fallback_text and texts[0] and not fallback_text.startswith(texts[0])


def test_an_approval_and_its_answer(engine: Engine, version: str) -> None:
    # A denial's parts are an error output (tests/e2e/test_agent.py reads one with the 7 client).
    first = client(version, answer(engine, {"id": "c1", "profile": "agent", "messages": [user(REMINDER)]}))
    message = first["message"]
    tool = next(p for p in message["parts"] if p["type"] == "tool-set_reminder")
    assert tool["input"] == {"text": "call mom", "at": "2026-12-24T09:00"}
    assert message["metadata"]["awaiting_approval"] == [tool["toolCallId"]]
    if version == "5":
        # No approval parts in 5: the request travels as a data part, the answer as the body's own.
        assert tool["state"] == "input-available"
        data = next(p for p in message["parts"] if p["type"] == "data-tool-approval")
        assert data["data"] == {"id": tool["toolCallId"], "name": "set_reminder", "input": tool["input"]}
        body = {"profile": "agent", "messages": [user(REMINDER), message]}
        body["approvals"] = [{"id": tool["toolCallId"], "approved": True}]
    else:
        assert tool["state"] == "approval-requested" and tool["approval"]["id"] == tool["toolCallId"]
        # What `addToolApprovalResponse` makes of the part, sent back with the conversation.
        tool.update(state="approval-responded", approval={"id": tool["approval"]["id"], "approved": True})
        body = {"id": "c1", "profile": "agent", "messages": [user(REMINDER), message]}
    second = client(version, answer(engine, body), message)
    assert "error" not in second, second
    resumed = second["message"]
    assert resumed["id"] == message["id"]
    tool = next(p for p in resumed["parts"] if p["type"] == "tool-set_reminder")
    final = [p["text"] for p in resumed["parts"] if p["type"] == "text"][-1]
    assert tool["state"] == "output-available"
    assert tool["output"].startswith("reminder set for 2026-12-24")
    assert "set_reminder tool says reminder set" in final
    assert resumed["metadata"]["awaiting_approval"] == []
