"""What the Flask relay adds: TTFT through gunicorn gthread vs the same stream straight from the API,
at 1 and 32 concurrent streams, and the server's CPU per relayed token.

Rerun: `.venv/bin/python benchmarks/flask_relay.py` (`--json` for machine-readable output).
The emulator (time-scale 0, so every millisecond measured is overhead) and gunicorn (2 gthread
workers, 32 threads each, `--preload`) run in their own processes; the load generator is one
asyncio process with one HTTP client for both paths, so client costs cancel out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import emulator_process

ROOT = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "user", "content": "What makes a web endpoint feel fast?"}]
# The chat profile's model and budget, so both paths ask for the same answer.
RAW_BODY = {"model": "claude-sonnet-5-5", "max_tokens": 1024, "messages": PROMPT, "stream": True}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def one_stream(
    client: httpx2.AsyncClient, url: str, body: dict[str, Any], marker: bytes
) -> tuple[float, int]:
    """Seconds to the first token event, and how many token events the stream carried."""
    started = time.perf_counter()
    ttft = 0.0
    buffer = b""
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            if not ttft and marker in buffer + chunk:
                ttft = time.perf_counter() - started
            buffer += chunk
    return ttft, buffer.count(marker)


async def run(
    url: str, body: dict[str, Any], marker: bytes, headers: dict[str, str], concurrency: int, total: int
) -> tuple[list[float], int]:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    ttfts: list[float] = []
    tokens = 0
    queue = iter(range(total))
    async with httpx2.AsyncClient(timeout=60, limits=limits, headers=headers) as client:

        async def worker() -> None:
            nonlocal tokens
            for _ in queue:
                ttft, count = await one_stream(client, url, body, marker)
                ttfts.append(ttft)
                tokens += count

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ttfts, tokens


def cpu_seconds(master: psutil.Process) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in master.children())


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="streams per measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"rows": []}
    with emulator_process(time_scale=0.0) as base_url:
        port = free_port()
        env = {**os.environ, "ANTHROPIC_BASE_URL": base_url, "FIRSTTOKEN_MAX_RETRIES": "0"}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread",
             "--threads", "32", "--preload", "--log-level", "warning", "--graceful-timeout", "2",
             "example_projects.flask_chat.wsgi:app"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            app = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx2.get(f"{app}/healthz").status_code == 200:
                        break
                except httpx2.TransportError:
                    time.sleep(0.1)
            master = psutil.Process(server.pid)
            raw = (
                f"{base_url}/v1/messages",
                RAW_BODY,
                b"event: content_block_delta",
                {"x-api-key": "bench", "anthropic-version": "2023-06-01"},
            )
            relay = (f"{app}/api/chat", {"messages": PROMPT}, b"event: token", {})
            for concurrency in (1, 32):
                # Warm both paths (connections, imports, the workers' pools) before measuring.
                asyncio.run(run(*raw, concurrency, concurrency * 2))
                asyncio.run(run(*relay, concurrency, concurrency * 4))
                raw_ttfts, _ = asyncio.run(run(*raw, concurrency, args.requests))
                cpu_before = cpu_seconds(master)
                relay_ttfts, tokens = asyncio.run(run(*relay, concurrency, args.requests))
                cpu = cpu_seconds(master) - cpu_before
                row = {
                    "concurrency": concurrency,
                    "raw_ttft_p50_ms": round(p(raw_ttfts, 50), 2),
                    "relay_ttft_p50_ms": round(p(relay_ttfts, 50), 2),
                    "added_ttft_p50_ms": round(p(relay_ttfts, 50) - p(raw_ttfts, 50), 2),
                    "raw_ttft_p95_ms": round(p(raw_ttfts, 95), 2),
                    "relay_ttft_p95_ms": round(p(relay_ttfts, 95), 2),
                    "tokens_relayed": tokens,
                    "server_cpu_us_per_token": round(cpu / tokens * 1e6, 1),
                }
                results["rows"].append(row)
        finally:
            server.terminate()
            server.wait(timeout=15)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    titles = [
        "concurrent streams",
        "raw TTFT p50 / p95",
        "via Flask relay p50 / p95",
        "added p50",
        "CPU/token",
    ]
    print("| " + " | ".join(titles) + " |")
    print("|---" * len(titles) + "|")
    for r in results["rows"]:
        cells = [
            str(r["concurrency"]),
            f"{r['raw_ttft_p50_ms']:.1f} / {r['raw_ttft_p95_ms']:.1f} ms",
            f"{r['relay_ttft_p50_ms']:.1f} / {r['relay_ttft_p95_ms']:.1f} ms",
            f"{r['added_ttft_p50_ms']:.1f} ms",
            f"{r['server_cpu_us_per_token']:.0f} µs ({r['tokens_relayed']} tokens)",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
