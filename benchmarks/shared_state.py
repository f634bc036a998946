"""Shared state on Redis vs per-process memory, with four gunicorn workers against the emulator.

1. An overloaded model (every call to opus answers 529; haiku is the fallback) and a rate-limited
   one (sonnet, 30 requests a minute, profile on_rate_limit="fail"), under the same load twice:
   memory state (each worker learns alone) and Redis state (one cooldown, one budget). Counted at
   the emulator: requests wasted on the overloaded model, and upstream 429s.
2. The latency Redis adds to one engine call: the same create() against the emulator at time
   scale 0, memory and Redis engines alternating in blocks, p50 of each and the difference.

Run: .venv/bin/python benchmarks/shared_state.py   (needs redis-server on PATH; about a minute)
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firsttoken import Engine, Settings
from firsttoken.testing.emulator import Emulator, RateLimit
from tests.e2e.servers import free_port, run_server
from tests.redis.server import RedisServer

WORKERS = 4
REQUESTS = 240
CLIENTS = 8
SONNET_RPM = 30
LATENCY_CALLS = 600
USER = [{"role": "user", "content": "Hello there."}]


def load(redis_url: str | None) -> dict[str, int]:
    with Emulator(
        time_scale=0.0,
        seed=3,
        faults=["overloaded@*opus*"],
        rate_limits=[RateLimit(model="*sonnet*", requests_per_minute=SONNET_RPM)],
    ) as upstream:
        port = free_port()
        env = {
            "ANTHROPIC_BASE_URL": upstream.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-bench",
            "FIRSTTOKEN_REDIS_URL": redis_url,
        }
        argv = [
            "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
            "--worker-class", "gthread", "--threads", "4", "--log-level", "warning",
            "tests.redis.worker_app:app",
        ]  # fmt: skip
        with (
            run_server(argv, env=env, port=port) as server,
            httpx2.Client(
                base_url=server.url, timeout=60, limits=httpx2.Limits(max_keepalive_connections=0)
            ) as http,
        ):

            def one(i: int) -> int:
                if i % 2:
                    body: dict[str, Any] = {"model": "claude-opus-5", "fallbacks": ["claude-haiku-5"]}
                else:
                    body = {"model": "claude-sonnet-5", "on_rate_limit": "fail"}
                return http.post("/call", json=body).status_code

            with ThreadPoolExecutor(CLIENTS) as pool:
                statuses = list(pool.map(one, range(REQUESTS)))
        stats = upstream.stats()
    return {
        "answered_200": statuses.count(200),
        "refused_locally_429": statuses.count(429),
        "wasted_on_overloaded": int(stats["requests_by_model"].get("claude-opus-5", 0)),
        "upstream_429": int(stats["requests_by_status"].get("429", 0)),
        "upstream_requests": int(stats["requests_total"]),
    }


def latency(redis_url: str) -> dict[str, float]:
    samples: dict[str, list[float]] = {"memory": [], "redis": []}
    with Emulator(time_scale=0.0, seed=3) as upstream:
        base = {"base_url": upstream.base_url, "api_key": "sk-ant-bench", "advisor": False}
        with Engine(Settings(**base)) as memory, Engine(Settings(**base, redis_url=redis_url)) as shared:
            for engine in (memory, shared):
                for _ in range(20):
                    engine.create(profile="fast", messages=USER)
            for block in range(LATENCY_CALLS // 20):
                order = [("memory", memory), ("redis", shared)]
                for name, engine in order if block % 2 else reversed(order):
                    for _ in range(10):
                        started = time.perf_counter()
                        engine.create(profile="fast", messages=USER)
                        samples[name].append(time.perf_counter() - started)
    p50 = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {
        "memory_p50_ms": p50["memory"],
        "redis_p50_ms": p50["redis"],
        "added_p50_ms": p50["redis"] - p50["memory"],
    }


def main() -> None:
    server = RedisServer().start()
    try:
        results = {"memory": load(None), "redis": load(server.url)}
        added = latency(server.url)
    finally:
        server.close()
    print(
        f"{WORKERS} gunicorn workers, {REQUESTS} requests from {CLIENTS} clients, half to opus (overloaded)"
    )
    keys = list(results["memory"])
    print(f"{'':24}" + "".join(f"{k:>22}" for k in keys))
    for mode, row in results.items():
        print(f"{mode:24}" + "".join(f"{row[k]:>22}" for k in keys))
    for key in ("wasted_on_overloaded", "upstream_429"):
        mem, red = results["memory"][key], results["redis"][key]
        print(f"{key}: redis/memory = {red}/{mem} = {red / mem if mem else float('nan'):.2f}")
    print(
        f"one create() at time scale 0: memory p50 {added['memory_p50_ms']:.2f} ms, "
        f"redis p50 {added['redis_p50_ms']:.2f} ms, added by Redis {added['added_p50_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
