"""One shared client per process and loop (the Anthropic Performance Tuning guide's step 4), fork safety, and
the engine's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from urllib.parse import urlsplit

import pytest

from firsttoken import Engine, EngineClosedError, Settings
from firsttoken._upstream import resolve
from firsttoken._upstream.shards import SHARD_STREAMS
from firsttoken.testing.emulator import Emulator

from .conftest import USER


def test_the_sync_client_is_shared(engine: Engine) -> None:
    assert engine.state == "unopened"
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(engine.client)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1
    assert engine.state == "open"
    assert engine.client.max_retries == 0


def test_settings_size_the_pool_and_timeout(emulator: Emulator) -> None:
    settings = Settings(base_url=emulator.base_url, timeout=33.0, max_retries=4, max_connections=7)
    with Engine(settings) as engine:
        client = engine.client
        assert client.max_retries == 4
        assert client.timeout.read == 33.0  # type: ignore[union-attr]
        pool = client._client._transport._pool
        assert pool._max_connections == 7


def test_each_event_loop_gets_its_own_async_client(engine: Engine) -> None:
    async def one_call() -> tuple[int, str]:
        message = await engine.acreate(messages=USER, profile="fast")
        return id(engine.async_client), message.stop_reason or ""

    # asyncio.run makes a new loop each time, as Django's async_to_sync and test runners do.
    first = asyncio.run(one_call())
    second = asyncio.run(one_call())
    assert first[1] == second[1] == "end_turn"
    assert first[0] != second[0]

    async def same_loop() -> set[int]:
        return {id(engine.async_client) for _ in range(3)}

    assert len(asyncio.run(same_loop())) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_builds_its_own_client(engine: Engine) -> None:
    parent_client = engine.client
    with engine.stream(messages=USER, profile="fast") as s:
        s.text()  # the pool now holds a live keep-alive connection
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            child_client = engine.client
            with engine.stream(messages=USER, profile="fast") as s:
                text = s.text()
            report = {"same": child_client is parent_client, "text": bool(text), "pid": os.getpid()}
            os.write(write, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        report = json.loads(pipe.read())
    assert status == 0
    assert report == {"same": False, "text": True, "pid": pid}
    # The parent's client and its pooled connection still work after the child used its own.
    assert engine.client is parent_client
    with engine.stream(messages=USER, profile="fast") as s:
        assert s.text()


def test_close_is_idempotent_and_a_closed_engine_says_so(emulator: Emulator) -> None:
    engine = Engine(Settings(base_url=emulator.base_url))
    engine.client  # noqa: B018 - opens it
    engine.close()
    engine.close()
    assert engine.state == "closed"
    with pytest.raises(EngineClosedError, match="closed"):
        engine.stream(messages=USER)
    with pytest.raises(EngineClosedError):
        engine.gather([{"messages": USER}])


async def test_aclose_is_idempotent(emulator: Emulator) -> None:
    engine = Engine(Settings(base_url=emulator.base_url))
    await engine.acreate(messages=USER, profile="fast")
    await engine.aclose()
    await engine.aclose()
    with pytest.raises(EngineClosedError):
        engine.async_client  # noqa: B018


def test_the_embedded_emulator_starts_without_key_or_url(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The notice is said once per process; an earlier test in this worker may have had it said.
    monkeypatch.setattr(resolve, "_told", threading.Event())
    with Engine(Settings(emulator_time_scale=0.0)) as engine:
        assert engine.upstream.kind == "emulator"
        assert "embedded emulator" in caplog.text
        with engine.stream(messages=USER, profile="fast") as s:
            assert s.text()
        emulator = engine.upstream.emulator
        assert emulator is not None
    with pytest.raises(RuntimeError, match="not running"):
        emulator.base_url  # noqa: B018 - closing the engine stopped it


def test_the_api_key_is_never_in_repr_or_description() -> None:
    secret = "sk-ant-secret-value-123"
    settings = Settings(api_key=secret)
    engine = Engine(settings)
    try:
        assert engine.upstream.kind == "anthropic"
        for text in (
            repr(settings),
            repr(engine),
            repr(engine.upstream),
            json.dumps(engine.metrics_snapshot()),
        ):
            assert secret not in text
    finally:
        engine.close()


def test_close_from_sync_code_closes_async_clients_on_their_running_loop(emulator: Emulator) -> None:
    engine = Engine(Settings(base_url=emulator.base_url))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:

        async def use() -> object:
            await engine.acreate(messages=USER, profile="fast")
            return engine.async_client

        client = asyncio.run_coroutine_threadsafe(use(), loop).result(timeout=10)
        assert not client.is_closed()
        engine.close()  # from this thread, as Django's setting_changed rebuild does
        deadline = time.monotonic() + 5
        while not client.is_closed() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.is_closed()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def test_under_load_new_requests_go_to_a_fresh_shard_of_the_pool(realtime_emulator: Emulator) -> None:
    # httpcore walks every connection of a pool per request; a loop's clients split into shards
    # of SHARD_STREAMS open responses so that walk stays short (see src/firsttoken/_upstream/shards.py).
    long = {"x-emulator-output-tokens": "2000"}
    async with Engine(Settings(base_url=realtime_emulator.base_url, max_retries=0)) as engine:
        first = engine.async_client
        assert engine.async_client is first  # idle: always the one client
        streams = [
            engine.astream(messages=USER, profile="fast", extra_headers=long) for _ in range(SHARD_STREAMS)
        ]
        try:
            await asyncio.gather(*(s.open() for s in streams))
            second = engine.async_client
            assert second is not first
            extra = engine.astream(messages=USER, profile="fast", max_tokens=5)
            assert (await extra.text()) and engine.async_client is second
        finally:
            await asyncio.gather(*(s.aclose() for s in streams))
        # Answers closed: the first shard has room again and gets the next request.
        assert engine.async_client is first
        message = await engine.acreate(messages=USER, profile="fast", max_tokens=5)
        assert message.stop_reason == "max_tokens"
    assert first.is_closed() and second.is_closed()


async def test_async_calls_go_through_the_proxy_the_environment_names(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shard builds its own transport (to count its responses), and httpx reads the environment's
    # proxies only when it builds one itself: the shard mounts them, as the SDK's client would.
    seen: list[bytes] = []
    ends: list[asyncio.StreamWriter] = []

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ends.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        line, rest = head.split(b"\r\n", 1)
        method, target, version = line.split(b" ")
        seen.append(target)
        url = urlsplit(target.decode())
        upstream_reader, upstream_writer = await asyncio.open_connection(url.hostname, url.port)
        ends.append(upstream_writer)
        upstream_writer.write(b" ".join([method, url.path.encode(), version]) + b"\r\n" + rest)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    proxy = await asyncio.start_server(forward, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    settings = Settings(base_url=emulator.base_url, max_retries=0, advisor=False)
    async with proxy, Engine(settings) as engine, engine.astream(messages=USER, max_tokens=20) as stream:
        text = await stream.text()
    for end in ends:
        end.close()
        with contextlib.suppress(ConnectionError):
            await end.wait_closed()
    assert text
    assert seen == [f"{emulator.base_url}/v1/messages".encode()]
