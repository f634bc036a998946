"""Idle heartbeats under WSGI: the core's timer beats while the upstream is silent, as under ASGI."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server

from .conftest import TEST_APP, gunicorn_server, werkzeug_server

# Opus's first token takes about 0.8 s at the emulator's real-time pace: several beats' worth.
HEARTBEAT = {"FIRSTTOKEN_HEARTBEAT_INTERVAL": "0.1"}
IDLE = {"tokens": 12, "profile": "deep"}


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn-sync", "gunicorn-gthread"])
def server(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Server]:
    if request.param == "werkzeug":
        running = werkzeug_server(TEST_APP, emulator, **HEARTBEAT)
    else:
        worker = request.param.removeprefix("gunicorn-")
        running = gunicorn_server(f"{TEST_APP}:create_app()", emulator, worker=worker, workers=1, **HEARTBEAT)
    with running as started:
        yield started


def _blocks(body: bytes) -> list[bytes]:
    return [block for block in body.split(b"\n\n") if block]


@pytest.mark.parametrize("fmt", ["sse", "ai-sdk"])
def test_idle_wsgi_stream_gets_heartbeats(server: Server, fmt: str) -> None:
    response = httpx2.post(f"{server.url}/stream/{fmt}", json=IDLE, timeout=30)
    assert response.status_code == 200
    blocks = _blocks(response.content)
    first_text = next(
        i for i, b in enumerate(blocks) if b.startswith((b"event: token", b'data: {"type":"text-'))
    )
    beats = [b for b in blocks[:first_text] if b == b": ping"]
    # Without the idle timer there are two: one sent with the headers, one the API's own `ping`.
    assert len(beats) >= 4, blocks[: first_text + 1]
    assert blocks[-1] == b"data: [DONE]" if fmt == "ai-sdk" else blocks[-1].startswith(b"event: done")


def test_plain_text_gets_no_heartbeat(server: Server) -> None:
    response = httpx2.post(f"{server.url}/stream/text", json=IDLE, timeout=30)
    assert response.status_code == 200
    assert b"ping" not in response.content
    assert len(response.text.split()) >= 6
