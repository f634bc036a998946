"""The flask_chat example keeps EXAMPLE_CONTRACT.md under Werkzeug and under gunicorn (gthread, --preload)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server

from .conftest import EXAMPLE, gunicorn_server, werkzeug_server
from .sse import sse_events

CHAT = {"messages": [{"role": "user", "content": "Why does streaming feel fast?"}]}


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn"])
def server(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Server]:
    if request.param == "werkzeug":
        with werkzeug_server(EXAMPLE, emulator) as running:
            yield running
    else:
        with gunicorn_server(f"{EXAMPLE}.wsgi:app", emulator) as running:
            yield running


@pytest.fixture
def http(server: Server) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url, timeout=30.0) as client:
        yield client


def test_page_and_its_assets(http: httpx2.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "static/chat.js" in page.text
    assert "static/chat.css" in page.text
    script = http.get("/static/chat.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert http.get("/static/chat.css").headers["content-type"].startswith("text/css")
    assert http.get("/static/../app.py").status_code == 404


def test_healthz(http: httpx2.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_chat_streams_tokens_then_done(http: httpx2.Client) -> None:
    response = http.post("/api/chat", json=CHAT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["server-timing"].startswith("upstream;dur=")
    events = sse_events(response.content)
    assert events[0] == ("start", {"response_id": response.headers["x-response-id"]})
    names = [name for name, _ in events]
    tokens = [data["text"] for name, data in events if name == "token"]
    assert len(tokens) > 5
    assert names[-1] == "done"
    done = events[-1][1]
    assert done["model"].startswith("claude-sonnet")
    assert done["stop_reason"] == "end_turn"
    assert set(done["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    }
    assert done["usage"]["output_tokens"] >= len(tokens)
    assert done["ttft_ms"] > 0
    assert done["tps"] > 0


def test_ai_sdk_protocol(http: httpx2.Client) -> None:
    body = {"messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hello there"}]}]}
    response = http.post("/api/chat", params={"protocol": "ai-sdk"}, json=body)
    assert response.status_code == 200
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    parts = [data for name, data in sse_events(response.content) if name == "data"]
    types = [p["type"] if isinstance(p, dict) else p for p in parts]
    assert types[:3] == ["start", "start-step", "text-start"]
    assert "text-delta" in types
    assert types[-6:] == ["text-end", "message-metadata", "data-cache", "finish-step", "finish", "[DONE]"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"messages": []}', "'messages' must be a non-empty list"),
        (b'{"messages": [{"role": "system", "content": "hi"}]}', "role must be 'user' or 'assistant'"),
        (b'{"messages": [{"role": "user", "content": "  "}]}', "content must be non-empty text"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "profile": "nope"}', "unknown profile 'nope'"),
    ],
)
def test_bad_body_is_400_naming_the_problem(http: httpx2.Client, body: bytes, problem: str) -> None:
    response = http.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert problem in response.json()["error"]


@pytest.mark.parametrize(("fault", "status"), [("overloaded", 503), ("rate_limit", 429)])
def test_refusal_before_first_token_is_an_http_status(
    http: httpx2.Client, faults: Emulator, fault: str, status: int
) -> None:
    faults.set_faults([fault])
    response = http.post("/api/chat", json=CHAT)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]


def test_failure_after_first_token_is_an_error_event_and_a_clean_end(
    http: httpx2.Client, faults: Emulator
) -> None:
    faults.set_faults(["midstream_overloaded"])
    with http.stream("POST", "/api/chat", json=CHAT) as response:
        assert response.status_code == 200
        # A clean end: the chunked body completes (httpx raises on a cut connection).
        body = response.read()
    events = sse_events(body)
    assert [name for name, _ in events if name == "token"]
    assert events[-1] == ("error", {"type": "overloaded_error", "message": "Overloaded"})
    assert "done" not in [name for name, _ in events]


def test_metrics_count_the_chats(http: httpx2.Client) -> None:
    assert http.post("/api/chat", json={**CHAT, "profile": "fast"}).status_code == 200
    snapshot = http.get("/api/metrics").json()
    assert snapshot["upstream"]["kind"] == "base_url"
    # gunicorn: each worker keeps its own metrics, so only this worker's share is visible.
    fast = snapshot["profiles"]["fast"]
    assert fast["count"] >= 1
    assert fast["ttft_p50_ms"] > 0
    assert fast["ttft_p95_ms"] >= fast["ttft_p50_ms"]
    assert fast["tps_p50"] > 0
    assert "cache_read_ratio" in fast
    assert any(model.startswith("claude-haiku") for model in snapshot["models"])
