"""Resumable answers' cost: TTFT p50 at one stream, and server CPU per token, with and without.

First in-process, where nothing but the relay differs: two engines on one redis-server and one
emulator process, resumable and not, each opening an answer and timing `open()` to its first
token chunk, sync (the thread producer) and async (the task producer), alternating.

Then over HTTP: two Starlette example servers (uvicorn) on one real redis-server and one emulator process: the
same settings but `FIRSTTOKEN_RESUMABLE`, so the only difference is the producer task and its
Redis Stream writes. Requests alternate between the two, one at a time; TTFT is the time from
sending the request to reading the first `token` event; CPU is the server process's user+system
time over the run, divided by the tokens it streamed.

    .venv/bin/python benchmarks/resume.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx2
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import emulator_process
from firsttoken import Engine, Relay, Settings
from tests.e2e.servers import Server, run_server
from tests.redis.server import RedisServer

BODY = {"messages": [{"role": "user", "content": "Describe Redis streams."}]}


def one(client: httpx2.Client, server: Server) -> tuple[float, int]:
    """TTFT in seconds and the number of token events of one answer."""
    started = time.perf_counter()
    ttft = None
    tokens = 0
    buffer = b""
    with client.stream("POST", server.url + "/api/chat", json=BODY) as response:
        for chunk in response.iter_raw():
            buffer += chunk
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                if b"event: token" in block:
                    tokens += 1
                    if ttft is None:
                        ttft = time.perf_counter() - started
    assert ttft is not None
    return ttft, tokens


def _first_token(relay: Relay, chunks: object) -> float:
    for chunk in chunks:  # type: ignore[attr-defined]
        if b"event: token" in chunk:
            return time.perf_counter()
    raise AssertionError("no token")


def in_process(base_url: str, redis_url: str, n: int) -> dict[str, list[float]]:
    """open() to first token chunk, in ms, per (mode, resumable)."""
    engines = {
        flag: Engine(Settings(base_url=base_url, api_key="sk-ant-bench", redis_url=redis_url, resumable=flag,
                              advisor=False))
        for flag in (False, True)
    }  # fmt: skip
    found: dict[str, list[float]] = {}

    def sync_one(engine: Engine) -> float:
        relay = Relay(engine, format="sse", **BODY)
        relay.open()
        started = time.perf_counter()
        iterator = iter(relay)
        got = _first_token(relay, iterator)
        for _ in iterator:
            pass
        relay.close()
        return (got - started) * 1000

    async def async_one(engine: Engine) -> float:
        relay = Relay(engine, format="sse", **BODY)
        await relay.aopen()
        started = time.perf_counter()
        got = None
        async for chunk in relay.__aiter__():
            if got is None and b"event: token" in chunk:
                got = time.perf_counter()
        await relay.aclose()
        assert got is not None
        return (got - started) * 1000

    async def run_async() -> None:
        for i in range(n + 10):
            for flag, engine in engines.items():
                value = await async_one(engine)
                if i >= 10:
                    found.setdefault(f"async {'with' if flag else 'without'}", []).append(value)

    for i in range(n + 10):
        for flag, engine in engines.items():
            value = sync_one(engine)
            if i >= 10:
                found.setdefault(f"sync {'with' if flag else 'without'}", []).append(value)
    asyncio.run(run_async())
    for engine in engines.values():
        engine.close()
    return found


def cpu(server: Server) -> float:
    times = psutil.Process(server.pid).cpu_times()
    return float(times.user + times.system)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    redis_server = RedisServer().start()
    try:
        with emulator_process(time_scale=0.0) as base_url:
            local = in_process(base_url, redis_server.url, args.requests)
            env = {
                "ANTHROPIC_BASE_URL": base_url,
                "ANTHROPIC_API_KEY": "sk-ant-bench",
                "FIRSTTOKEN_REDIS_URL": redis_server.url,
                "FIRSTTOKEN_CLIENT_REQUESTS_PER_MINUTE": "0",
                "FIRSTTOKEN_CLIENT_TOKENS_PER_MINUTE": "0",
                "FIRSTTOKEN_ADVISOR": "false",
            }
            argv = ["-m", "example_projects.starlette_chat"]
            with (
                run_server(argv, env={**env, "FIRSTTOKEN_RESUMABLE": "false"}) as plain,
                run_server(argv, env={**env, "FIRSTTOKEN_RESUMABLE": "true"}) as resumable,
                httpx2.Client(timeout=30) as client,
            ):
                servers = {"without": plain, "with": resumable}
                for server in servers.values():  # warm: imports, pools, the first Redis connection
                    for _ in range(10):
                        one(client, server)
                ttfts: dict[str, list[float]] = {name: [] for name in servers}
                tokens = dict.fromkeys(servers, 0)
                before = {name: cpu(server) for name, server in servers.items()}
                for _ in range(args.requests):
                    for name, server in servers.items():
                        ttft, n = one(client, server)
                        ttfts[name].append(ttft)
                        tokens[name] += n
                spent = {name: cpu(server) - before[name] for name, server in servers.items()}
    finally:
        redis_server.close()
    print(f"in-process, open() to the first token chunk ({args.requests} answers each):")
    for name, values in local.items():
        print(f"  {name:15} p50 {statistics.median(values):6.3f} ms")
    for mode in ("sync", "async"):
        delta = statistics.median(local[f"{mode} with"]) - statistics.median(local[f"{mode} without"])
        print(f"  {mode}: resumable adds {delta:+.3f} ms")
    print("over HTTP, two Starlette example servers:")
    print(f"{'':10} {'TTFT p50':>10} {'TTFT p95':>10} {'CPU/token':>11}   ({args.requests} answers each)")
    for name in servers:
        values = sorted(ttfts[name])
        p50 = statistics.median(values) * 1000
        p95 = values[int(len(values) * 0.95) - 1] * 1000
        per_token = spent[name] / max(tokens[name], 1) * 1e6
        print(f"{name:10} {p50:8.2f}ms {p95:8.2f}ms {per_token:9.1f}us")
    delta = (statistics.median(ttfts["with"]) - statistics.median(ttfts["without"])) * 1000
    print(f"resumable adds {delta:+.2f} ms to TTFT p50")


if __name__ == "__main__":
    main()
