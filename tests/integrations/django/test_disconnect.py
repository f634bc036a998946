"""A client that leaves mid-answer stops generation at once, under WSGI and ASGI, without leaks."""

from __future__ import annotations

import json
import socket
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from firsttoken.testing.emulator import Emulator

from .servers import django_server

pytestmark = pytest.mark.slow

BODY = json.dumps({"messages": [{"role": "user", "content": "Tell me a long story about latency."}]}).encode()
# The leak test drops 200 clients: the fast profile's shorter first token keeps it short.
FAST_BODY = json.dumps({**json.loads(BODY), "profile": "fast"}).encode()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    # Real time: tokens flow at the Anthropic Performance Tuning guide's rates, so "while tokens flow" means
    # something.
    with Emulator(time_scale=1.0, seed=0) as emu:
        yield emu


@pytest.fixture(
    scope="module",
    params=["gunicorn", "uvicorn"],
)
def server(request, emulator):
    with django_server(request.param, emulator.base_url) as srv:
        yield srv


def _drop_after_tokens(port: int, route: str, tokens: int, body: bytes = BODY) -> float:
    """Read `tokens` token events, then close the socket; returns when it was closed."""
    request = (
        f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        seen = b""
        while seen.count(b"event: token") < tokens:
            chunk = sock.recv(65536)
            assert chunk, f"server closed early: {seen[:300]!r}"
            seen += chunk
        assert seen.startswith(b"HTTP/1.1 200")
    return time.monotonic()


def _wait_closed(emulator: Emulator, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    while emulator.stats()["streams_open"] > 0:
        assert time.monotonic() < deadline, "the upstream stream was never closed"
        time.sleep(0.002)
    return time.monotonic()


@pytest.mark.parametrize("route", ["/api/chat", "/test/sync-chat"])
def test_a_dropped_client_stops_generation_within_100ms(server, emulator, route):
    delays = []
    for _ in range(5):
        _wait_closed(emulator)
        dropped = _drop_after_tokens(server.port, route, tokens=3)
        delays.append(_wait_closed(emulator) - dropped)
    # The median, so one scheduling hiccup on a shared machine does not decide the test.
    assert statistics.median(delays) < 0.1, delays
    stats = emulator.stats()
    assert stats["client_disconnects"] >= 5


def _resources(pid: int) -> tuple[int, int]:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(p.num_fds() for p in procs), sum(p.num_threads() for p in procs)


def test_200_drops_leak_nothing(server, emulator):
    _wait_closed(emulator)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: _drop_after_tokens(server.port, "/api/chat", 1, FAST_BODY), range(16)))
    _wait_closed(emulator)
    fds, threads = _resources(server.pid)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: _drop_after_tokens(server.port, "/api/chat", 1, FAST_BODY), range(200)))
    _wait_closed(emulator)
    time.sleep(0.5)
    fds_after, threads_after = _resources(server.pid)
    assert fds_after <= fds + 8, (fds, fds_after)
    assert threads_after <= threads + 4, (threads, threads_after)
    assert emulator.stats()["streams_open"] == 0
