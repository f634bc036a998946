"""Where the Starlette endpoint's added time to first token goes, timed inside the server.

    .venv/bin/python benchmarks/starlette_ttft_breakdown.py [--requests 300]

Serves the Starlette example under uvicorn in this process, with the relay's opening wrapped in
timestamps, against `firsttoken emulate --time-scale 0` in its own process; a client in a third
process sends one chat request at a time and times its first token. Prints medians, in ms since
the request reached the app: when the upstream call starts, when its response headers arrive,
when our response starts, when the first token leaves; and the same `engine.astream().open()`
timed alone in this process for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from _support import emulator_process

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_projects.starlette_chat.app import create_app
from firsttoken import Engine, Relay, Settings

CLIENT = r"""
import json, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "profile": "fast"}).encode()
req = (b"POST /api/chat HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
       b"content-length: %d\r\n\r\n" % len(body)) + body
times = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    started = time.perf_counter(); s.sendall(req); buf = b""
    while b"event: token" not in buf:
        buf += s.recv(65536)
    times.append((time.perf_counter() - started) * 1000)
    while b"event: done" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
times.sort()
print(f"{times[len(times) // 2]:.3f}")
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    marks: list[dict[str, float]] = []
    current: dict[str, Any] = {}

    def timed(app: Any) -> Any:
        async def wrapper(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            rec = {"started": started}
            current["rec"] = rec

            async def send_timed(message: Any) -> None:
                now = time.perf_counter() - started
                if message["type"] == "http.response.start":
                    rec["response_start"] = now
                elif message.get("body", b"").startswith(b"event: token") and "first_token" not in rec:
                    rec["first_token"] = now
                await send(message)

            await app(scope, receive, send_timed)
            marks.append(rec)

        return wrapper

    original = Relay.aopen

    async def aopen(self: Relay) -> Any:
        rec = current["rec"]
        rec["upstream_call"] = time.perf_counter() - rec["started"]
        start = await original(self)
        rec["upstream_headers"] = time.perf_counter() - rec["started"]
        return start

    Relay.aopen = aopen  # type: ignore[method-assign]
    port = free_port()
    with emulator_process(time_scale=0.0, cpu=1) as base_url:
        engine = Engine(Settings(base_url=base_url, advisor=False))
        server = uvicorn.Server(
            uvicorn.Config(timed(create_app(engine=engine)), port=port, log_level="warning", http="httptools")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        client = subprocess.run(
            [sys.executable, "-c", CLIENT, str(port), str(args.requests)],
            capture_output=True,
            text=True,
            check=True,
        )
        server.should_exit = True
        thread.join()

        async def alone() -> float:
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                stream = engine.astream(messages=[{"role": "user", "content": "hi"}], profile="fast")
                await stream.open()
                times.append(time.perf_counter() - started)
                async for _ in stream.events():
                    pass
                await stream.aclose()
            return statistics.median(times[20:]) * 1000

        open_alone = asyncio.run(alone())
        engine.close()
    recs = [r for r in marks if "first_token" in r][20:]
    print(f"client's time to first token, p50: {float(client.stdout):.3f} ms")
    for key in ("upstream_call", "upstream_headers", "response_start", "first_token"):
        median = statistics.median(r[key] for r in recs) * 1000
        print(f"{key:>16}: {median:.3f} ms after the request reached the app")
    print(f"engine.astream().open() alone in this process: {open_alone:.3f} ms")


if __name__ == "__main__":
    main()
