"""Streaming under real WSGI servers: no buffering, every format, and a vanished client stops generation."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server

from .conftest import TEST_APP, gunicorn_server, werkzeug_server
from .rawhttp import drop, open_stream, read_until
from .sse import sse_events

SERVERS = ["werkzeug", "gunicorn-gthread", "gunicorn-sync"]


@pytest.fixture(scope="module")
def werkzeug(emulator: Emulator) -> Iterator[Server]:
    with werkzeug_server(TEST_APP, emulator) as server:
        yield server


@pytest.fixture(scope="module")
def gthread(emulator: Emulator) -> Iterator[Server]:
    with gunicorn_server(f"{TEST_APP}:create_app()", emulator, WARM_BEFORE_FORK="1") as server:
        yield server


@pytest.fixture(scope="module")
def sync(emulator: Emulator) -> Iterator[Server]:
    with gunicorn_server(f"{TEST_APP}:create_app()", emulator, worker="sync") as server:
        yield server


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Server:
    name = {"werkzeug": "werkzeug", "gunicorn-gthread": "gthread", "gunicorn-sync": "sync"}[request.param]
    running: Server = request.getfixturevalue(name)
    return running


def test_text_format(server: Server) -> None:
    response = httpx2.post(f"{server.url}/stream/text", json={"tokens": 30}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert len(response.text.split()) >= 20
    assert "[error]" not in response.text


def test_ndjson_format(server: Server) -> None:
    response = httpx2.post(f"{server.url}/stream/ndjson", json={"tokens": 30}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    import json

    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0] == {"type": "ping"}
    # Deltas that queued while the server thread wrote share one event (`coalesce_window`).
    assert {line["type"] for line in lines[1:-1]} == {"token"}
    assert 1 <= len(lines[1:-1]) <= 30
    assert lines[-1]["type"] == "done"
    assert lines[-1]["usage"]["output_tokens"] == 30


def test_ndjson_error_after_first_token(server: Server) -> None:
    response = httpx2.post(
        f"{server.url}/stream/ndjson", json={"tokens": 30, "fault": "midstream_overloaded"}, timeout=30
    )
    assert response.status_code == 200
    last = response.text.splitlines()[-1]
    assert '"type":"error"' in last
    assert "overloaded_error" in last


def test_streams_without_buffering(server: Server) -> None:
    # 300 haiku tokens at 200/s: about 1.5 s of tokens; a buffered response arrives all at the end.
    arrivals: list[float] = []
    body = b""
    started = time.perf_counter()
    with (
        httpx2.Client(timeout=30) as client,
        client.stream("POST", f"{server.url}/stream/sse", json={"tokens": 300}) as response,
    ):
        for chunk in response.iter_raw():
            body += chunk
            if b"event: token" in chunk:
                arrivals.append(time.perf_counter() - started)
    total = time.perf_counter() - started
    events = sse_events(body)
    # Deltas that queued while the server thread wrote share one event (`coalesce_window`).
    assert 20 < sum(1 for name, _ in events if name == "token") <= 300
    assert events[-1][0] == "done"
    assert len(arrivals) > 20, "tokens arrived in a few big chunks: something buffers"
    # Haiku's own first token takes about a quarter of the answer's time here, so the bound is
    # half: a buffered response would deliver its first token at the end.
    assert arrivals[0] < total / 2, f"first token at {arrivals[0]:.3f}s of {total:.3f}s"


def _stop_delay(server: Server, emulator: Emulator) -> tuple[float, dict[str, object]]:
    """Drop a client mid-stream; seconds until the emulator's stream ended, and its request log entry."""
    sock = open_stream(server.port, "/stream/sse", {"tokens": 5000})
    try:
        received = read_until(sock, b"event: token", 10)
        assert received.startswith(b"HTTP/1.1 200"), received[:200]
    finally:
        dropped = time.perf_counter()
        drop(sock)
    deadline = dropped + 10
    while emulator.stats()["streams_open"] and time.perf_counter() < deadline:
        time.sleep(0.001)
    stopped = time.perf_counter() - dropped
    entry = emulator.requests[-1]
    return stopped, entry


def test_dropped_client_stops_generation(server: Server, emulator: Emulator) -> None:
    before = emulator.stats()["output_tokens_after_disconnect"]
    delays = []
    for _ in range(5):
        delay, entry = _stop_delay(server, emulator)
        delays.append(delay)
        assert entry["disconnected"] is True
        # 5000 tokens take 25 s; the emulator stopped after the few the client saw, plus ~100 ms.
        assert entry["output_tokens"] < 200
    assert emulator.stats()["output_tokens_after_disconnect"] - before <= 5
    # The median shrugs off a scheduling hiccup of the shared test machine.
    assert statistics.median(delays) < 0.1, f"generation went on {delays} s after the client left"


def test_calls_finished_before_the_response_are_server_timing_entries_in_development(server: Server) -> None:
    # Served under pytest, which is development: an async view's two calls (run by asgiref in
    # another thread) are listed in the devtools' timing panel, in the order they finished.
    response = httpx2.get(server.url + "/async-create", timeout=30.0)
    assert response.status_code == 200
    timing = response.headers["server-timing"]
    # Entry names, not the commas inside the quoted descriptions.
    assert re.findall(r"(?:^|, )(firsttoken-[\w-]+);", timing) == ["firsttoken-1", "firsttoken-2"]
    assert "claude-haiku" in timing and "~$" in timing
