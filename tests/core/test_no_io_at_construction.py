"""Building an engine, or setting up any adapter, opens nothing: no thread, no socket, no file.

With no key and no URL the embedded emulator answers; it starts at the first call that needs it,
once per process (two first calls at once start one), again in a forked child, and never again
after the engine closed. The adapters are checked in fresh subprocesses, as `manage.py` or a
server would run them, since a test process already has emulators and clients open.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from firsttoken import Engine, EngineClosedError, Settings
from firsttoken._upstream.resolve import resolve_upstream

from .conftest import USER
from .opened import emulator_threads, opened

ROOT = Path(__file__).resolve().parents[2]


def _no_key() -> Settings:
    return Settings(emulator_time_scale=0.0)


def test_an_engine_with_no_key_opens_nothing_until_its_first_call() -> None:
    before = opened()
    engine = Engine(_no_key())
    try:
        # What start-up lines, page banners and metrics endpoints read starts nothing either.
        description = engine.upstream.describe()
        snapshot = engine.metrics_snapshot()
        text = repr(engine) + repr(engine.upstream)
        assert opened().new_since(before) == {}
        assert engine.state == "unopened" and engine.upstream.emulator is None
        assert description["kind"] == snapshot["upstream"]["kind"] == "emulator"
        assert "started at the first call" in description["description"]
        assert "emulator" in text

        message = engine.create(messages=USER, profile="fast", max_tokens=5)
        assert message.stop_reason == "max_tokens"
        emulator = engine.upstream.emulator
        assert emulator is not None
        serving = f"firsttoken-emulator:{emulator.port}"
        new = opened().new_since(before)
        assert [t.split("#")[0] for t in new["threads"]] == [serving]
        assert any(f"port={emulator.port})" in s and "LISTEN" in s for s in new["sockets"])
        assert engine.upstream.describe()["base_url"] == emulator.base_url == engine.upstream.base_url
    finally:
        engine.close()
    assert serving not in emulator_threads()


def test_an_async_first_call_starts_it_too() -> None:
    async def first_call(engine: Engine) -> str | None:
        async with engine:
            message = await engine.acreate(messages=USER, profile="fast", max_tokens=5)
            assert engine.upstream.emulator is not None
            return message.stop_reason

    before = emulator_threads()
    assert asyncio.run(first_call(Engine(_no_key()))) == "max_tokens"
    assert emulator_threads() == before


def test_two_first_calls_at_once_start_one_emulator() -> None:
    before = set(emulator_threads())
    with Engine(_no_key()) as engine:
        start = threading.Barrier(6)
        answers: list[str | None] = []

        def sync_call() -> None:
            start.wait()
            answers.append(engine.create(messages=USER, profile="fast", max_tokens=3).stop_reason)

        def async_call() -> None:
            start.wait()
            message = asyncio.run(engine.acreate(messages=USER, profile="fast", max_tokens=3))
            answers.append(message.stop_reason)

        threads = [threading.Thread(target=f) for f in (sync_call, async_call) * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert answers == ["max_tokens"] * 6
        assert len(set(emulator_threads()) - before) == 1


def test_threads_reading_the_address_at_once_share_one_emulator() -> None:
    upstream = resolve_upstream(_no_key())
    before = set(emulator_threads())
    start = threading.Barrier(8)
    urls: list[str] = []

    def read() -> None:
        start.wait()
        urls.append(upstream.base_url)

    threads = [threading.Thread(target=read) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(urls) == 8 and len(set(urls)) == 1
        assert len(set(emulator_threads()) - before) == 1
    finally:
        upstream.close()
    assert set(emulator_threads()) == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_emulator() -> None:
    with Engine(_no_key()) as engine:
        engine.create(messages=USER, profile="fast", max_tokens=3)
        parent = engine.upstream.emulator
        assert parent is not None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                # The parent's serving thread is not in this process: it must not count as running.
                forgot = engine.upstream.emulator is None
                message = engine.create(messages=USER, profile="fast", max_tokens=3)
                mine = engine.upstream.emulator
                port = mine.port if mine is not None else None
                report = {
                    "forgot": forgot,
                    "answered": message.stop_reason,
                    "port": port,
                    "serving_here": f"firsttoken-emulator:{port}" in emulator_threads(),
                }
                os.write(write, json.dumps(report).encode())
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read) as pipe:
            report = json.loads(pipe.read())
        assert status == 0
        assert report["forgot"] and report["serving_here"] and report["answered"] == "max_tokens"
        assert report["port"] != parent.port
        # The parent's emulator was not touched by the child.
        assert engine.upstream.emulator is parent
        assert engine.create(messages=USER, profile="fast", max_tokens=3).stop_reason == "max_tokens"


def test_a_closed_engine_never_starts_the_emulator() -> None:
    before = opened()
    engine = Engine(_no_key())
    engine.close()
    with pytest.raises(EngineClosedError):
        engine.create(messages=USER, profile="fast")
    with pytest.raises(EngineClosedError):
        engine.upstream.base_url  # noqa: B018
    assert engine.upstream.describe()["kind"] == "emulator"
    assert opened().new_since(before) == {}


# -- the adapters, each in a fresh process ----------------------------------------------------------

CHAT = json.dumps({"messages": [{"role": "user", "content": "Hello there"}], "profile": "fast"})

PROLOGUE = """
import json, sys
from tests.core.opened import emulator_threads, opened
CHAT = {chat!r}

def report(setup, status, body, emulators=None):
    print(json.dumps({{
        "setup": setup,
        "status": status,
        "answered": b"event: token" in body and b"event: done" in body,
        "emulators": emulator_threads() if emulators is None else emulators,
    }}))
"""

DJANGO = """
import django
from django.test import Client
before = opened()
django.setup()
setup = opened().new_since(before)
response = Client(HTTP_HOST="127.0.0.1").post("/api/chat", CHAT, content_type="application/json")
report(setup, response.status_code, b"".join(response.streaming_content))
"""

FLASK = """
from example_projects.flask_chat.app import create_app
before = opened()
app = create_app()
setup = opened().new_since(before)
response = app.test_client().post("/api/chat", data=CHAT, content_type="application/json")
report(setup, response.status_code, response.get_data())
"""

# A server's lifespan and one request, spoken in ASGI by hand: a test client would add threads.
STARLETTE = """
import asyncio
from example_projects.starlette_chat.app import create_app

async def lifespan(app, started, stop):
    async def receive():
        if not started.is_set():
            return {"type": "lifespan.startup"}
        await stop.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message):
        if message["type"] == "lifespan.startup.complete":
            started.set()
        assert not message["type"].endswith("failed"), message

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

async def post(app, path, body):
    sent, done = [], asyncio.Event()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
    }
    bodies = [{"type": "http.request", "body": body.encode(), "more_body": False}]

    async def receive():
        if bodies:
            return bodies.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

async def main():
    started, stop = asyncio.Event(), asyncio.Event()
    # Inside the loop: the loop's own self-pipe is not the app's doing.
    before = opened()
    app = create_app()
    serving = asyncio.create_task(lifespan(app, started, stop))
    await asyncio.wait_for(started.wait(), 30)
    setup = opened().new_since(before)
    status, body = await post(app, "/api/chat", CHAT)
    emulators = emulator_threads()
    stop.set()
    await serving
    # The lifespan's shutdown closed the engine, and the engine its emulator.
    assert emulator_threads() == [], emulator_threads()
    report(setup, status, body, emulators)

asyncio.run(main())
"""


def _run(script: str, **env: str) -> dict[str, Any]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "FIRSTTOKEN_", "DJANGO_"))
    }
    code = textwrap.dedent(PROLOGUE.format(chat=CHAT)) + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "FIRSTTOKEN_EMULATOR_TIME_SCALE": "0", **env},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _assert_lazy(result: dict[str, Any]) -> None:
    assert result["setup"] == {}, "setting up the app opened something"
    # ...and the first request started the emulator, which answered it.
    assert result["status"] == 200 and result["answered"]
    assert len(result["emulators"]) == 1


def test_django_setup_opens_nothing() -> None:
    pytest.importorskip("django")
    _assert_lazy(_run(DJANGO, DJANGO_SETTINGS_MODULE="tests.integrations.django.project.settings"))


def test_flask_init_app_opens_nothing() -> None:
    pytest.importorskip("flask")
    _assert_lazy(_run(FLASK))


def test_starlette_app_and_its_lifespan_open_nothing_with_warm_up_off() -> None:
    pytest.importorskip("starlette")
    _assert_lazy(_run(STARLETTE, FIRSTTOKEN_WARM_UP="0"))


def test_starlette_lifespan_warms_up_and_opens_nothing_else() -> None:
    # Changed on purpose with warm-up (#16): the lifespan is where a server starts serving, so it
    # warms up there. Building the app still opens nothing (the test above, with warm-up off);
    # with it on, the lifespan starts the embedded emulator (development, no key: the emulator is
    # what was asked for) and opens one connection to it, and nothing else.
    pytest.importorskip("starlette")
    result = _run(STARLETTE)
    setup = result["setup"]
    # The loop's own default executor (`asyncio_0`) resolves the address, as the first request would.
    threads = [t.split("#")[0] for t in setup["threads"] if not t.startswith("asyncio_")]
    assert threads == result["emulators"]
    assert len(result["emulators"]) == 1
    port = result["emulators"][0].rsplit(":", 1)[1]
    listening = [s for s in setup["sockets"] if "LISTEN" in s]
    established = [s for s in setup["sockets"] if "ESTABLISHED" in s]
    assert len(listening) == 1 and f"port={port})" in listening[0]
    # Both ends of the one warmed connection live in this process (the emulator is embedded).
    assert len(established) == 2, setup["sockets"]
    assert set(setup) <= {"threads", "native_threads", "sockets"}
    assert result["status"] == 200 and result["answered"]
