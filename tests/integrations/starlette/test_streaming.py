"""The adapter's streaming response under a real uvicorn: formats, refusals, heartbeats, errors."""

from __future__ import annotations

import json
import time

import httpx2
import pytest

from tests.e2e.sse import named, parse

QUESTION = [{"role": "user", "content": "Why stream answers?"}]
SHORT = {"x-emulator-output-tokens": "12"}


def test_sse_format(client: httpx2.Client) -> None:
    response = client.post("/chat", json={"messages": QUESTION}, headers=SHORT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    events = named(parse(response.content))
    assert events[0].name == "start"
    assert events[0].data == {"response_id": response.headers["x-response-id"]}
    assert [e.name for e in events[1:]] == ["token"] * 12 + ["done"]
    assert events[-1].data["usage"]["output_tokens"] == 12


def test_text_format(client: httpx2.Client) -> None:
    response = client.post("/chat", params={"format": "text"}, json={"messages": QUESTION}, headers=SHORT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    # Plain text has no heartbeat and no summary: the body is the answer and nothing else.
    assert response.text.strip()
    assert ": ping" not in response.text
    assert "[error]" not in response.text


def test_ndjson_format(client: httpx2.Client) -> None:
    response = client.post("/chat", params={"format": "ndjson"}, json={"messages": QUESTION}, headers=SHORT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    kinds = [line["type"] for line in lines if line["type"] != "ping"]
    assert kinds == ["token"] * 12 + ["done"]
    assert lines[-1]["usage"]["output_tokens"] == 12


def test_ai_sdk_format(client: httpx2.Client) -> None:
    response = client.post("/chat", params={"format": "ai-sdk"}, json={"messages": QUESTION}, headers=SHORT)
    assert response.status_code == 200
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.content.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("fault", "status"), [("overloaded", 503), ("rate_limit", 429), ("server_error", 502)]
)
def test_refusal_before_first_token_is_its_status(client: httpx2.Client, fault: str, status: int) -> None:
    response = client.post("/chat", json={"messages": QUESTION}, headers={"x-emulator-fault": fault})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert set(response.json()) == {"error", "type"}


def test_failure_after_first_token_is_an_error_event_and_a_clean_end(client: httpx2.Client) -> None:
    headers = {"x-emulator-fault": "midstream_overloaded"}
    with client.stream("POST", "/chat", json={"messages": QUESTION}, headers=headers) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_bytes())  # ends without a transport error: a clean close
    events = named(parse(raw))[1:]  # after `start`
    assert events[0].name == "token"
    assert events[-1].name == "error"
    assert events[-1].data["type"] == "overloaded_error"
    assert "done" not in [e.name for e in events]


def test_idle_stream_gets_heartbeats(client: httpx2.Client) -> None:
    # Opus's first token takes 0.8 s at the median; beats every 0.1 s fill that silence.
    body = {"messages": QUESTION, "profile": "deep"}
    started = time.monotonic()
    with client.stream("POST", "/chat", json=body, headers=SHORT) as response:
        raw = b"".join(response.iter_bytes())
    elapsed = time.monotonic() - started
    events = parse(raw)
    first_token = next(i for i, e in enumerate(events) if e.name == "token")
    beats_before = sum(1 for e in events[:first_token] if e.comment)
    # One beat goes with the headers; the rest come from the idle timer, about one per 0.1 s.
    assert beats_before >= 3, (beats_before, elapsed)
    assert all(e.data == "ping" for e in events if e.comment)


def test_a_finished_answer_leaves_nothing_to_the_garbage_collector(client: httpx2.Client) -> None:
    # Heartbeats are on (every 0.1 s here) and several beats pass during each answer: the
    # heartbeat task must end by being woken, not cancelled, or each request leaves a cycle.
    client.post("/chat", json={"messages": QUESTION}, headers=SHORT)
    client.get("/debug/garbage", params={"start": ""})
    for _ in range(5):
        assert client.post("/chat", json={"messages": QUESTION}, headers=SHORT).status_code == 200
    assert client.get("/debug/garbage").json() == {}
