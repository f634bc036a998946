"""CPU per token at full speed: each framework's relays beside a bare script reading the same answers
with the SDK's helper (the issue's first CPU measure, `starlette_relay.py`'s, where the 17.6 and
42.9 µs came from).

    .venv/bin/python benchmarks/cpu_full_speed.py --rounds 3       # ~4 min
    .venv/bin/python benchmarks/cpu_full_speed.py --setups flask --rounds 1

The emulator at time-scale 0, writing up to 512 events at a time, 200 answers of 500 tokens, 8 at
once, through each server's firsttoken (`/api/chat`) and hand-written (`/api/bare`) endpoints
(`capacity.py`'s servers, `_rig.py`, on core 0), beside `starlette_relay.py --bare` on the same core
reading the same answers with the SDK's `messages.stream()` helper (the "bare SDK-helper consumer"
the goal of 0.5x is set against). Medians of `--rounds` rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rig import (
    HERE,
    LABELS,
    RIG_CORE,
    arguments,
    cpu_seconds,
    pin_to_server_core,
    rig_process,
    run_facts,
    server,
)
from _support import emulator_process

ENDPOINTS = {"firsttoken": "/api/chat", "sdk helper": "/api/helper", "bare": "/api/bare"}

# Answers, tokens in each, and how many at once: starlette_relay.py's CPU measure.
FULL_SPEED = (200, 500, 8)


def full_speed_cpu(setups: list[str], rounds: int) -> dict[str, Any]:
    """CPU per token at time-scale 0: each setup's two endpoints and the bare SDK-helper consumer."""
    streams, tokens, concurrency = FULL_SPEED
    samples: dict[str, list[float]] = {"consumer": []}
    for setup in setups:
        samples[f"{setup} firsttoken"], samples[f"{setup} hand-written"] = [], []
    with emulator_process(time_scale=0.0, cpu=RIG_CORE) as base_url:
        for _ in range(rounds):
            # The consumer on the servers' core too, so every figure is one core's time.
            cmd = [sys.executable, str(HERE / "starlette_relay.py"), "--bare", base_url]
            cmd += [str(streams), str(tokens), str(concurrency)]
            out = subprocess.run(
                cmd, capture_output=True, text=True, check=True, preexec_fn=pin_to_server_core
            ).stdout
            consumed = json.loads(out)
            assert consumed["tokens"] == streams * tokens, consumed
            samples["consumer"].append(consumed["cpu_s"] / consumed["tokens"] * 1e6)
            for setup in setups:
                with server(setup, base_url) as (port, proc):
                    for name, path in (("firsttoken", "/api/chat"), ("hand-written", "/api/bare")):
                        used = asyncio.run(_full_speed(port, path, proc, streams, tokens, concurrency))
                        samples[f"{setup} {name}"].append(used / (streams * tokens) * 1e6)
    medians = {name: round(statistics.median(v), 1) for name, v in samples.items()}
    return {
        "full_speed": {"streams": streams, "tokens": tokens, "concurrency": concurrency},
        "cpu_us_per_token": medians,
        "samples": {name: [round(x, 1) for x in v] for name, v in samples.items()},
    }


async def _full_speed(
    port: int, path: str, proc: psutil.Process, streams: int, tokens: int, concurrency: int
) -> float:
    """Server CPU seconds over `streams` whole answers read `concurrency` at once."""
    headers = {"x-emulator-output-tokens": str(tokens), "x-bench-model": "claude-haiku-5-5"}
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    url = f"http://127.0.0.1:{port}{path}"
    async with httpx2.AsyncClient(timeout=120, limits=limits) as http:
        limit = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with limit, http.stream("POST", url, json={}, headers=headers) as response:
                assert response.status_code == 200, await response.aread()
                tail = b""
                async for chunk in response.aiter_raw():
                    tail = (tail + chunk)[-4096:]
                # Every answer read to its end: firsttoken's closes with `done`, the bare relay's
                # with the emulator's last token.
                assert b"event: done" in tail or path == "/api/bare", tail

        await one()  # the connection and the first request's imports are not per token
        before = cpu_seconds(proc)
        await asyncio.gather(*(one() for _ in range(streams)))
        return cpu_seconds(proc) - before


def full_speed_table(results: dict[str, Any], setups: list[str]) -> str:
    cpu = results["cpu_us_per_token"]
    consumer = cpu["consumer"]
    lines = [
        "| setup | server CPU per token: firsttoken / hand-written relay | firsttoken ÷ the bare "
        "SDK-helper consumer (goal ≤ 0.5x) | hand-written ÷ consumer |",
        "|---|---|---|---|",
    ]
    for setup in setups:
        ours, floor = cpu[f"{setup} firsttoken"], cpu[f"{setup} hand-written"]
        ratios = f"{ours / consumer:.2f}x | {floor / consumer:.2f}x"
        lines.append(f"| {LABELS[setup]} | **{ours}** / {floor} µs | {ratios} |")
    lines.append(f"| the bare SDK-helper consumer (a script, no server) | {consumer} µs | | |")
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    rig_process()
    setups = args.setups.split(",")
    results: dict[str, Any] = {
        **run_facts("cpu_full_speed.py"),
    }
    results.update(full_speed_cpu(setups, args.rounds))
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results))
    if not args.json:
        print(full_speed_table(results, setups))


if __name__ == "__main__":
    main()
