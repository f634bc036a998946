"""Idle heartbeats from Django's views under WSGI (gunicorn) and ASGI (uvicorn), from the core's timer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator

from .servers import django_server

# Opus's first token takes about 0.8 s at the emulator's real-time pace: several beats' worth.
BODY = {"messages": [{"role": "user", "content": "Hello there"}], "profile": "deep"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=0) as emu:
        yield emu


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[httpx2.Client]:
    extra = {"FIRSTTOKEN_HEARTBEAT_INTERVAL": "0.1"}
    with (
        django_server(request.param, emulator.base_url, extra) as srv,
        httpx2.Client(base_url=srv.url, timeout=30) as client,
    ):
        yield client


@pytest.mark.parametrize("route", ["/test/sync-chat", "/test/async-chat"])
def test_idle_stream_gets_heartbeats(server: httpx2.Client, route: str) -> None:
    response = server.post(route, params={"max_tokens": 12}, json=BODY)
    assert response.status_code == 200
    blocks = [block for block in response.content.split(b"\n\n") if block]
    first_token = next(i for i, b in enumerate(blocks) if b.startswith(b"event: token"))
    beats = [b for b in blocks[:first_token] if b == b": ping"]
    # Without the idle timer there are two: one sent with the headers, one the API's own `ping`.
    assert len(beats) >= 4, blocks[: first_token + 1]
    assert blocks[-1].startswith(b"event: done")
