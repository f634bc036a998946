"""The test project under gunicorn (2 workers) and uvicorn; runserver is covered by tests/e2e."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2
import psutil
import pytest

from firsttoken.testing.emulator import Emulator

from .servers import django_server
from .sse import events, text_of

BODY = {"messages": [{"role": "user", "content": "Hello there"}], "profile": "fast"}
ROUTES = ["/api/chat", "/test/sync-chat", "/test/async-chat"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=0) as emu:
        yield emu


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request, emulator) -> Iterator[httpx2.Client]:
    with (
        django_server(request.param, emulator.base_url) as srv,
        httpx2.Client(base_url=srv.url, timeout=30) as client,
    ):
        yield client


@pytest.mark.parametrize("route", ROUTES)
def test_chat_streams_under_the_server(server, route):
    response = server.post(route, json=BODY, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers, "GZipMiddleware must leave the stream alone"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert text_of(response.content)
    assert events(response.content)[-1][0] == "done"


def test_every_route_of_the_contract(server):
    page = server.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    for asset in ("chat.js", "chat.css"):
        assert server.get(f"/static/{asset}").status_code == 200
    assert server.get("/healthz").json() == {"ok": True}
    assert "upstream" in server.get("/api/metrics").json()
    assert server.get("/api/chat").status_code == 405
    assert server.post("/api/chat", content=b"{").status_code == 400
    ai = server.post(
        "/api/chat?protocol=ai-sdk",
        json={"messages": [{"role": "user", "parts": [{"type": "text", "text": "Hi"}]}]},
    )
    assert ai.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert ai.content.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("route", ["/test/sync-chat", "/test/async-chat"])
@pytest.mark.parametrize(("fault", "status"), [("overloaded", 503), ("rate_limit", 429)])
def test_refusal_before_the_first_token(server, route, fault, status):
    response = server.post(route, json=BODY, headers={"x-test-fault": fault})
    assert response.status_code == status
    assert response.json()["error"]


@pytest.mark.parametrize("route", ["/test/sync-chat", "/test/async-chat"])
def test_failure_after_the_first_token(server, route):
    response = server.post(route, json=BODY, headers={"x-test-fault": "midstream_overloaded"})
    assert response.status_code == 200
    names = [name for name, _ in events(response.content)]
    assert "token" in names
    assert names[-1] == "error"


def test_workers_forked_after_a_call_in_the_master_make_their_own_connections(emulator):
    """--preload: the master's engine has a pooled connection when gunicorn forks two workers."""
    with (
        django_server("gunicorn", emulator.base_url, {"FORK_TEST": "1"}, ("--preload",)) as srv,
        httpx2.Client(base_url=srv.url, timeout=30) as client,
    ):
        master = psutil.Process(srv.pid)
        deadline = time.monotonic() + 30
        while len(master.children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(master.children()) == 2
        results = [client.post("/test/sync-chat", json=BODY) for _ in range(12)]
        assert all(r.status_code == 200 and events(r.content)[-1][0] == "done" for r in results)
        assert "Traceback" not in srv.output()


@pytest.mark.parametrize("route", ["/test/sync-chat", "/test/async-chat"])
def test_structured_answers_under_the_server(server, route):
    """The `extract` profile under WSGI and ASGI: NDJSON's objects and `done.object`, and an
    answer cut short at max_tokens as an `invalid_output` error event."""
    body = {**BODY, "profile": "extract"}
    lines = [
        json.loads(line) for line in server.post(f"{route}?format=ndjson", json=body).content.splitlines()
    ]
    objects = [line["partial"] for line in lines if line["type"] == "object"]
    assert objects and lines[-1]["type"] == "done" and lines[-1]["object"] == objects[-1]
    name, data = events(server.post(f"{route}?max_tokens=12", json=body).content)[-1]
    assert name == "error" and data["type"] == "invalid_output" and "max_tokens" in data["message"]
