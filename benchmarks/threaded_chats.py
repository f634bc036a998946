"""Threaded chats against whole-history chats: request bytes and server CPU per turn, side by side.

    .venv/bin/python benchmarks/threaded_chats.py            # 20 chats of 50 turns per mode
    .venv/bin/python benchmarks/threaded_chats.py --quick    # 5 chats, for a smoke run

Three modes of one conversation, interleaved turn by turn in one run on one server process (a
Starlette app with `FirstTokenMiddleware`, pinned to its own core; `firsttoken emulate` at
time-scale 0 in another process):

- `whole`: the browser posts the whole conversation every turn, no chat id (the stateless page);
- `held`: the browser posts its chat id and the new message; firsttoken holds the conversation
  (memory) and sends it whole upstream (a profile without `threads`);
- `threaded`: the same body, on a profile with `threads`: the API's thread holds the conversation
  and each turn sends only the new message upstream.

Per turn: the bytes the app received (the browser's body), the bytes it sent upstream (the
emulator counts each request's body) and the server process's CPU time (user + system, over every
chat's turn at that position, divided by the chats), at turn 10 and turn 50.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import psutil

from _support import emulator_process

MODES = ("whole", "held", "threaded")
PROFILES = {
    "held": {"model": "claude-haiku-5-5", "max_tokens": 200},
    "threaded": {"model": "claude-haiku-5-5", "max_tokens": 200, "threads": True},
}
REPORT_AT = (10, 50)
# Turns averaged for each reported one (its CPU is too short to time alone): it and the two before.
WINDOW = 3


def serve(port: int, base_url: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from firsttoken import Settings
    from firsttoken_starlette import FirstToken, FirstTokenMiddleware

    async def chat(request: Request) -> Response:
        firsttoken: FirstToken = request.state.firsttoken
        return await firsttoken.chat(owner="bench")

    settings = Settings.from_mapping(
        {
            "base_url": base_url,
            "api_key": "sk-ant-bench",
            "max_retries": 0,
            "warm_up": False,
            "profiles": PROFILES,
            "browser_profiles": list(PROFILES),
            "max_messages": 200,
            "max_input_tokens": 200_000,
            "max_body_bytes": 4_000_000,
            "client_requests_per_minute": 10**9,
            "client_tokens_per_minute": 10**12,
            "advisor": False,
        }
    )
    app = Starlette(
        routes=[Route("/api/chat", chat, methods=["POST"])],
        middleware=[Middleware(FirstTokenMiddleware, settings=settings)],
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(base_url: str) -> Iterator[tuple[str, psutil.Process]]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), base_url])
    try:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(process.pid, {1})
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(url + "/", timeout=1.0)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answer(raw: bytes) -> str:
    text = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("event: token\n"):
            text.append(json.loads(block.split("data: ", 1)[1])["text"])
        elif block.startswith("event: error\n"):
            raise RuntimeError(block)
    return "".join(text)


def _body(mode: str, chat: int, history: list[dict[str, str]]) -> bytes:
    if mode == "whole":
        return json.dumps({"messages": history, "profile": "held"}).encode()
    body = {"chat_id": f"{mode}-{chat}", "messages": history[-1:], "profile": mode}
    return json.dumps(body).encode()


def run(chats: int, turns: int) -> dict[str, Any]:
    with emulator_process(time_scale=0.0, cpu=0) as base_url, server(base_url) as (url, process):
        client = httpx2.Client(base_url=url, timeout=60)
        histories = {(mode, c): [] for mode in MODES for c in range(chats)}  # type: dict[tuple[str, int], list[dict[str, str]]]
        rows: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for turn in range(1, turns + 1):
            for mode in MODES:
                cpu_before = sum(process.cpu_times()[:2])
                sent = 0
                for c in range(chats):
                    history = histories[(mode, c)]
                    history.append({"role": "user", "content": f"Question {turn}: tell me something new."})
                    body = _body(mode, c, history)
                    sent += len(body)
                    response = client.post(
                        "/api/chat", content=body, headers={"Content-Type": "application/json"}
                    )
                    if response.status_code != 200:
                        raise RuntimeError(response.text)
                    history.append({"role": "assistant", "content": _answer(response.content)})
                cpu = sum(process.cpu_times()[:2]) - cpu_before
                log = httpx2.get(base_url + "/_emulator/stats").json()["recent_requests"]
                upstream = [r["request_bytes"] for r in log if r["path"] == "/v1/messages"][-chats:]
                rows[mode].append(
                    {
                        "body": sent / chats,
                        "upstream": statistics.fmean(upstream),
                        "cpu_ms": cpu * 1000 / chats,
                    }
                )
        client.close()
    report: dict[str, Any] = {}
    for at in (t for t in REPORT_AT if t <= turns):
        report[str(at)] = {
            mode: {
                "body_bytes": rows[mode][at - 1]["body"],
                "upstream_bytes": rows[mode][at - 1]["upstream"],
                "cpu_ms": statistics.fmean(r["cpu_ms"] for r in rows[mode][max(0, at - WINDOW) : at]),
            }
            for mode in MODES
        }
    return report


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chats = 5 if args.quick else args.chats
    report = run(chats, args.turns)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{chats} chats per mode, interleaved turn by turn")
    print("| turn | mode | browser body | upstream request | server CPU per turn |")
    print("|---|---|---|---|---|")
    for at, modes in report.items():
        for mode, row in modes.items():
            body, upstream = row["body_bytes"] / 1000, row["upstream_bytes"] / 1000
            print(f"| {at} | {mode} | {body:.1f} KB | {upstream:.1f} KB | {row['cpu_ms']:.2f} ms |")


if __name__ == "__main__":
    main()
