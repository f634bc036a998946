"""What the Django relay adds: TTFT over a raw SDK stream, under uvicorn (ASGI) and gunicorn (WSGI),
and server CPU per relayed token.

    .venv/bin/python benchmarks/django_relay.py [--requests 40] [--json]

Against an in-process emulator at time-scale 0 (no simulated latency, so every millisecond
measured is software). TTFT is measured at the client: request sent → first token event read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firsttoken.testing.emulator import Emulator  # noqa: E402
from tests.integrations.django.servers import django_server  # noqa: E402

BODY = {"messages": [{"role": "user", "content": "Explain streaming in a paragraph."}], "profile": "fast"}


def _p(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def raw_sdk(base_url: str, requests: int) -> list[float]:
    ttfts = []
    with anthropic.Anthropic(base_url=base_url, api_key="sk-ant-bench", max_retries=0) as client:
        for _ in range(requests + 3):
            started = time.perf_counter()
            with client.messages.with_streaming_response.create(
                model="claude-haiku-5-5", max_tokens=256, stream=True, messages=BODY["messages"]
            ) as response:
                first = None
                for line in response.iter_lines():
                    if first is None and line.startswith("data: ") and '"text_delta"' in line:
                        first = time.perf_counter() - started
                ttfts.append((first or 0.0) * 1000)
    return ttfts[3:]


def relayed(url: str, requests: int, pid: int) -> tuple[list[float], float]:
    ttfts, tokens = [], 0
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    with httpx2.Client(base_url=url, timeout=30) as client:
        for _ in range(3):
            client.post("/api/chat", json=BODY).read()
        cpu_before = sum(sum(p.cpu_times()[:2]) for p in procs)
        for _ in range(requests):
            started = time.perf_counter()
            first = None
            with client.stream("POST", "/api/chat", json=BODY) as response:
                for line in response.iter_lines():
                    if line == "event: token":
                        tokens += 1
                        if first is None:
                            first = time.perf_counter() - started
            ttfts.append((first or 0.0) * 1000)
        cpu = sum(sum(p.cpu_times()[:2]) for p in procs) - cpu_before
    return ttfts, cpu / max(tokens, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.chdir(ROOT)
    results: dict[str, Any] = {}
    with Emulator(time_scale=0.0, seed=0) as emulator:
        raw = raw_sdk(emulator.base_url, args.requests)
        results["raw_sdk"] = {"ttft_p50_ms": _p(raw, 50), "ttft_p95_ms": _p(raw, 95)}
        for kind in ("uvicorn", "gunicorn"):
            with django_server(kind, emulator.base_url) as server:
                ttfts, cpu_us = relayed(server.url, args.requests, server.pid)
            results[kind] = {
                "ttft_p50_ms": _p(ttfts, 50),
                "ttft_p95_ms": _p(ttfts, 95),
                "added_p50_ms": round(_p(ttfts, 50) - results["raw_sdk"]["ttft_p50_ms"], 2),
                "cpu_us_per_token": round(cpu_us, 1),
            }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        print(f"{name:<9} " + "  ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
