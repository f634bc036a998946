"""The example contract (`EXAMPLE_CONTRACT.md`), checked over HTTP against every example app."""

from __future__ import annotations

import json

import pytest

from .conftest import RunningExample
from .sse import named, parse

HELLO = {"messages": [{"role": "user", "content": "How do I make my endpoint fast?"}], "profile": "fast"}


def test_page_and_its_assets(example: RunningExample) -> None:
    page = example.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for marker in (
        'id="prompt"',
        'id="send"',
        'id="conversation"',
        'id="banner"',
        "static/chat.js",
        "static/chat.css",
    ):
        assert marker in page.text
    script = example.client.get("/static/chat.js")
    assert script.status_code == 200
    assert "/api/chat" in script.text
    assert example.client.get("/static/chat.css").status_code == 200


def test_healthz(example: RunningExample) -> None:
    response = example.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_chat_streams_tokens_then_done(example: RunningExample) -> None:
    response = example.client.post("/api/chat", json=HELLO)
    assert response.status_code == 200, response.text
    headers = response.headers
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-store"
    assert headers["x-accel-buffering"] == "no"
    assert "upstream;dur=" in headers["server-timing"]
    events = named(parse(response.content))
    # First the answer's name, the same as its header's (the key to resume or stop it).
    assert events[0].name == "start"
    assert events[0].data == {"response_id": headers["x-response-id"]}
    events = events[1:]
    tokens = [e for e in events if e.name == "token"]
    # Deltas that arrived together share one event (`coalesce_window`): at least one, at most one
    # a delta.
    assert len(tokens) >= 1
    assert "".join(e.data["text"] for e in tokens).strip()
    assert all(isinstance(e.data["text"], str) for e in tokens)
    assert [e.name for e in events[len(tokens) :]] == ["done"]
    done = events[-1].data
    assert done["model"].startswith("claude-haiku")
    assert done["stop_reason"] == "end_turn"
    assert set(done["usage"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    }
    assert 1 <= len(tokens) <= done["usage"]["output_tokens"]
    assert done["ttft_ms"] >= 0
    assert done["tps"] > 0


def test_ai_sdk_protocol(example: RunningExample) -> None:
    body = {
        "id": "chat-1",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hello there"}]}],
        "trigger": "submit-message",
    }
    response = example.client.post("/api/chat", params={"protocol": "ai-sdk"}, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["content-type"].startswith("text/event-stream")
    parts = [e.data for e in named(parse(response.content))]
    kinds = [p["type"] if isinstance(p, dict) else p for p in parts]
    assert kinds[:3] == ["start", "start-step", "text-start"]
    # The answer's metadata, then firsttoken's extras as (transient) data parts, then the end.
    end = ["text-end", "message-metadata", "data-cache", "finish-step", "finish", "[DONE]"]
    assert kinds[-6:] == end
    assert set(kinds[3:-6]) == {"text-delta"}
    assert 1 <= len(kinds[3:-6]) <= parts[-2]["messageMetadata"]["usage"]["output_tokens"]
    assert parts[-5]["messageMetadata"]["ttft_ms"] == parts[-2]["messageMetadata"]["ttft_ms"]


def test_metrics_count_the_calls(example: RunningExample) -> None:
    assert example.client.post("/api/chat", json=HELLO).status_code == 200
    metrics = example.client.get("/api/metrics")
    assert metrics.status_code == 200
    data = metrics.json()
    assert data["profiles"]["fast"]["count"] >= 1
    model = next(m for m in data["models"] if m.startswith("claude-haiku"))
    for key in ("count", "ttft_p50_ms", "ttft_p95_ms", "tps_p50", "cache_read_ratio"):
        assert key in data["models"][model]
    assert example.emulator is not None
    assert data["upstream"] == {
        "kind": "base_url",
        "base_url": example.emulator.base_url,
        "description": f"the endpoint at {example.emulator.base_url}",
    }
    assert "sk-ant" not in metrics.text


@pytest.mark.parametrize(
    ("body", "named_problem"),
    [
        pytest.param(b"{not json", "JSON", id="not-json"),
        pytest.param(json.dumps({"profile": "chat"}).encode(), "messages", id="no-messages"),
        pytest.param(json.dumps({"messages": []}).encode(), "messages", id="empty-messages"),
        pytest.param(
            json.dumps({"messages": [{"role": "robot", "content": "hi"}]}).encode(), "role", id="wrong-role"
        ),
        pytest.param(
            json.dumps({"messages": [{"role": "user", "content": "  "}]}).encode(), "content", id="empty-text"
        ),
        pytest.param(
            json.dumps({"messages": [{"role": "user", "content": "hi"}], "profile": "nope"}).encode(),
            "profile",
            id="unknown-profile",
        ),
    ],
)
def test_bad_body_is_400_naming_the_problem(example: RunningExample, body: bytes, named_problem: str) -> None:
    response = example.client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str)
    assert named_problem in error


@pytest.mark.parametrize(("fault", "status"), [("overloaded", 503), ("rate_limit", 429)])
def test_upstream_refusal_before_first_token_is_an_http_status(
    example: RunningExample, fault: str, status: int
) -> None:
    assert example.emulator is not None
    example.emulator.set_faults([fault])
    response = example.client.post("/api/chat", json=HELLO)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["error"], str)


def test_upstream_failure_after_first_token_is_an_error_event(example: RunningExample) -> None:
    assert example.emulator is not None
    example.emulator.set_faults(["midstream_overloaded"])
    response = example.client.post("/api/chat", json=HELLO)
    assert response.status_code == 200
    events = named(parse(response.content))[1:]  # after `start`
    assert [e.name for e in events[:-1]] == ["token"] * (len(events) - 1)
    assert len(events) > 1
    assert events[-1].name == "error"
    assert events[-1].data["type"] == "overloaded_error"
    assert isinstance(events[-1].data["message"], str)
