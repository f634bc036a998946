"""The chat page resumes an answer by itself when the browser's connection drops (#17).

Each example runs with Redis set (so its answers are resumable) against a real-time emulator.
Chromium talks to it through a small TCP proxy, as through a load balancer; halfway through an
answer the proxy cuts every connection (Chromium's own offline mode leaves a streaming fetch
running). The page must finish the answer through `GET /api/chat/{id}/stream` with
`Last-Event-ID`, showing exactly the text an unbroken connection shows, and the emulator must
have generated it once.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.browser import chromium
from tests.e2e.conftest import EXAMPLE_APPS, ExampleApp
from tests.e2e.servers import Server, free_port, run_server
from tests.redis.server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.browser]

QUESTION = "Describe Redis streams."  # about 230 tokens from the seeded emulator: a few seconds


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=3) as emu:
        yield emu


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture(
    scope="module",
    params=[app for app in EXAMPLE_APPS if app.name != "fastapi"],
    ids=lambda app: app.name,
)
def example(
    request: pytest.FixtureRequest, upstream: Emulator, redis_server: RedisServer
) -> Iterator[Server]:
    app: ExampleApp = request.param
    pytest.importorskip(app.requires or "firsttoken")
    if redis_server.process is None:
        redis_server.start()
    env = {
        **app.env,
        "ANTHROPIC_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-browser-resume",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_REDIS_URL": redis_server.url,
        "FIRSTTOKEN_REDIS_PREFIX": f"browser-{app.name}:",
        "FIRSTTOKEN_REDIS_TIMEOUT": "0.5",
    }
    with run_server(app.argv, env=env) as server:
        yield server


class CuttingProxy:
    """127.0.0.1:<port> forwarded to `target`; `cut()` drops every connection open now."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, sink):
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for each in sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()
        self.cuts += 1

    def close(self) -> None:
        self._listener.close()
        self.cut()


def _unbroken_text(server: Server) -> str:
    body = {"messages": [{"role": "user", "content": QUESTION}]}
    response = httpx2.post(server.url + "/api/chat", json=body, timeout=60)
    text = []
    for block in response.content.split(b"\n\n"):
        lines = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
        if lines.get("event") == "token":
            text.append(json.loads(lines["data"])["text"])
    return "".join(text)


def test_the_page_resumes_a_dropped_answer(example: Server, upstream: Emulator, browser: Any) -> None:
    reference = _unbroken_text(example)
    proxy = CuttingProxy(example.port)
    context = browser.new_context()
    try:
        page = context.new_page()
        resumes: list[str] = []
        page.on("request", lambda r: resumes.append(r.url) if r.url.endswith("/stream") else None)
        page.goto(proxy.url + "/")
        page.wait_for_function("() => document.readyState === 'complete'")
        before = upstream.stats()["requests_total"]
        page.fill("#prompt", QUESTION)
        page.click("#send")
        page.wait_for_function(
            "() => (document.querySelector('.answer .text') || {textContent: ''}).textContent.length > 40",
            timeout=30_000,
        )
        proxy.cut()  # the phone enters the tunnel: the stream's connection is gone
        page.wait_for_selector(".answer[data-state='done']", timeout=30_000)
        shown = page.locator(".answer .text").text_content()
        assert resumes, "the page never asked to resume"
        assert page.locator(".answer .error").count() == 0
        assert shown == reference
        assert upstream.stats()["requests_total"] - before == 1
    finally:
        context.close()
        proxy.close()
