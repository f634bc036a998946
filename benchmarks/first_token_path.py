"""The two halves of a relay's added TTFT: before the upstream request goes out, and from the first
token's arrival to its write. firsttoken's relay beside a hand-written one.

    .venv/bin/python benchmarks/first_token_path.py [--requests N] [--turns N] [--json]

Each of the four apps of `capacity.py` (`_capacity_apps.py`: Starlette and Django under ASGI,
Flask and Django under WSGI) is called in this process, as its server would call it, for one-token
answers from the emulator (first token 20 ms after the request, as the capacity probes ask), the
two endpoints taking turns. Two instants are taken per request: when the socket read that holds the
first `text_delta` returns (httpcore's read, patched to note it), and when the body's first token
event reaches the server (ASGI `send`, or the WSGI iterator's yield). Their difference is the work
between the API's token and the browser's, without the server's own socket write, which both relays
share. A thread or task that reads the upstream on the relay's behalf (for the heartbeat) sits on
this path, which is why it hands the first token over before it reads on.

The other half, "before the send", is from the app being called to the first write of the upstream
request on its socket (httpcore's write, patched the same way): the framework's routing, the body,
and everything the relay does before the SDK sends (the engine's preparation, the cache policy,
the rate-limit governor's admission), besides the SDK's own work, which both relays share.

`--turns N` asks with N earlier exchanges in the conversation (about 1.9 KB each: a question and a
300-word answer), as a chat's later turns do; both relays send the same history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _support import emulator_process  # noqa: E402

PROFILE = ("--model-profile", "haiku:20,20,90")
HEADERS = {"x-bench-model": "claude-haiku-5-5", "x-emulator-output-tokens": "1"}
ENDPOINTS = ("/api/chat", "/api/bare")

_arrived: list[float] = []
_sent: list[float] = []


def _note_arrivals() -> None:
    """Patch httpcore's sync and async sockets to note when the request is first written and
    when the first text delta arrives."""
    from httpcore2._backends import anyio as async_backend
    from httpcore2._backends import sync as sync_backend

    sync_read = sync_backend.SyncStream.read
    async_read = async_backend.AnyIOStream.read
    sync_write = sync_backend.SyncStream.write
    async_write = async_backend.AnyIOStream.write

    def write(self: Any, buffer: bytes, timeout: float | None = None) -> None:
        if not _sent:
            _sent.append(time.perf_counter())
        sync_write(self, buffer, timeout)

    async def awrite(self: Any, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not _sent:
            _sent.append(time.perf_counter())
        await async_write(self, buffer, timeout)

    def read(self: Any, max_bytes: int, timeout: float | None = None) -> bytes:
        data = sync_read(self, max_bytes, timeout)
        if not _arrived and b"text_delta" in data:
            _arrived.append(time.perf_counter())
        return data

    async def aread(self: Any, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        data = await async_read(self, max_bytes, timeout)
        if not _arrived and b"text_delta" in data:
            _arrived.append(time.perf_counter())
        return data

    sync_backend.SyncStream.read = read  # type: ignore[method-assign]
    async_backend.AnyIOStream.read = aread  # type: ignore[method-assign]
    sync_backend.SyncStream.write = write  # type: ignore[method-assign]
    async_backend.AnyIOStream.write = awrite  # type: ignore[method-assign]


def conversation(turns: int) -> list[dict[str, Any]]:
    """`turns` earlier exchanges, then the question `_capacity_apps` asks."""
    messages: list[dict[str, Any]] = []
    for n in range(turns):
        messages.append({"role": "user", "content": f"Tell me more about streaming, part {n}. " * 12})
        answer = "Streaming sends each token to the page as the model writes it. " * 22
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return [*messages, {"role": "user", "content": "Explain streaming."}]


def wsgi_once(app: Callable[..., Any], path: str) -> tuple[float, float]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, method="POST", data=b"{}", headers=HEADERS).get_environ()
    _arrived.clear()
    _sent.clear()
    called = time.perf_counter()
    body = app(environ, lambda status, headers, exc_info=None: None)
    written = None
    try:
        for chunk in body:
            if written is None and b"event: token" in chunk:
                written = time.perf_counter()
    finally:
        getattr(body, "close", lambda: None)()
    assert written is not None and _arrived and _sent
    return _sent[0] - called, written - _arrived[0]


async def asgi_once(app: Callable[..., Any], path: str) -> tuple[float, float]:
    headers = [(k.encode(), v.encode()) for k, v in {**HEADERS, "content-type": "application/json"}.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [*headers, (b"content-length", b"2")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    ended = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await ended.wait()
        return {"type": "http.disconnect"}

    written: list[float] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if not written and b"event: token" in message.get("body", b""):
                written.append(time.perf_counter())
            if not message.get("more_body"):
                ended.set()

    _arrived.clear()
    _sent.clear()
    called = time.perf_counter()
    await app(scope, receive, send)
    ended.set()
    assert written and _arrived and _sent
    return _sent[0] - called, written[0] - _arrived[0]


async def lifespan(app: Callable[..., Any]) -> None:
    """Start a Starlette app's lifespan (firsttoken's engine lives in it); it is never shut down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    asyncio.get_running_loop().create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    )
    await started.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="per endpoint and app (default 300)")
    parser.add_argument("--turns", type=int, default=0, help="earlier exchanges in the conversation")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    _note_arrivals()
    results: dict[str, Any] = {}
    with emulator_process(time_scale=1.0, extra=PROFILE) as base_url:
        os.environ.update(
            {
                "ANTHROPIC_BASE_URL": base_url,
                "ANTHROPIC_API_KEY": "bench",
                "FIRSTTOKEN_MAX_RETRIES": "0",
                "FIRSTTOKEN_ADVISOR": "0",
            }
        )
        import _capacity_apps

        _capacity_apps.QUESTION[:] = conversation(args.turns)
        size = len(json.dumps(_capacity_apps.QUESTION))
        print(f"{args.turns} earlier exchanges, {size:,} bytes of messages", flush=True)

        for name, make, kind in (
            ("Starlette (ASGI)", _capacity_apps.starlette_app, "asgi"),
            ("Django ASGI", _capacity_apps.django_asgi, "asgi"),
            ("Flask (WSGI)", lambda: _capacity_apps.flask_app().wsgi_app, "wsgi"),
            ("Django WSGI", _capacity_apps.django_wsgi, "wsgi"),
        ):
            app = make()
            samples: dict[str, list[tuple[float, float]]] = {path: [] for path in ENDPOINTS}

            async def run_asgi(
                app: Any = app,
                samples: dict[str, list[tuple[float, float]]] = samples,
                has_lifespan: bool = name.startswith("Starlette"),
            ) -> None:
                if has_lifespan:
                    await lifespan(app)
                for n in range(args.requests + 20):
                    for path in ENDPOINTS:
                        seconds = await asgi_once(app, path)
                        if n >= 20:  # the first ones warm both paths
                            samples[path].append(seconds)

            if kind == "asgi":
                asyncio.run(run_asgi())
            else:
                for n in range(args.requests + 20):
                    for path in ENDPOINTS:
                        seconds = wsgi_once(app, path)
                        if n >= 20:
                            samples[path].append(seconds)
            row = {}
            for path, label in zip(ENDPOINTS, ("firsttoken", "hand-written"), strict=True):
                values = [after for _, after in samples[path]]
                before = [before for before, _ in samples[path]]
                row[label] = {
                    "p50_ms": round(statistics.median(values) * 1000, 3),
                    "p90_ms": round(statistics.quantiles(values, n=10)[8] * 1000, 3),
                    "send_p50_ms": round(statistics.median(before) * 1000, 3),
                    "send_p90_ms": round(statistics.quantiles(before, n=10)[8] * 1000, 3),
                }
            results[name] = row
            print(f"{name}: {json.dumps(row)}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        "| app | half | firsttoken p50 / p90 | hand-written p50 / p90 | firsttoken minus hand-written, p50 |"
    )
    print("|---|---|---|---|---|")
    for name, row in results.items():
        ours, theirs = row["firsttoken"], row["hand-written"]
        for half, key in (("before the send", "send_"), ("arrival to write", "")):
            p50, p90 = f"{key}p50_ms", f"{key}p90_ms"
            print(
                f"| {name} | {half} | {ours[p50]} / {ours[p90]} ms | {theirs[p50]} / {theirs[p90]} ms "
                f"| {ours[p50] - theirs[p50]:+.3f} ms |"
            )


if __name__ == "__main__":
    main()
