"""The stall a full garbage collection puts in every open stream, with and without `gc_freeze`.

    .venv/bin/python benchmarks/gc_pauses.py                      # ~2 min
    .venv/bin/python benchmarks/gc_pauses.py --streams 2,8 --rounds 1 --setups django-asgi/aiohttp

The rig is `capacity.py`'s (`_rig.py`): Django ASGI on uvicorn, on the SDK's httpx transport and on
its aiohttp one (`django-asgi/aiohttp`), each started twice, with `FIRSTTOKEN_GC_FREEZE=0` (before)
and `1` (after; the default). In each trial N streams of firsttoken's relay (`/api/chat`) run at the
API's pace (sonnet, 90 tokens/s) and, once all of them stream, the server runs one full collection
(`POST /api/gc`: `gc.collect()`, what CPython starts by itself whenever the objects that outlived
two younger collections reach a quarter of the older ones, about every 50,000 of them in this
server). Each row: the largest gap between two reads of a stream (the worst stream and the median
stream's worst, medians over `--rounds`), beside the collection's own duration and the objects
a full collection walks (those it left tracked). The emulator's own gap is at most 1.5 x 11.1 ms
(16.7 ms: its ±25% jitter).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rig import (
    LABELS,
    PROFILES,
    RIG_CORE,
    STREAM_MODEL,
    Target,
    arguments,
    read_stream,
    rig_process,
    run_facts,
    server,
)
from _support import emulator_process

TOKENS = 180  # 2 s answers: the collection lands in the middle of every stream


async def full_collection(port: int) -> dict[str, Any]:
    """`POST /api/gc` on a raw socket: an HTTP client's first request (its imports, its SSL context)
    would block this loop, and so the streams' reads, for longer than the collection itself."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/gc HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode(errors="replace"))
    # The JSON object, whether or not the server chunked it.
    result: dict[str, Any] = json.loads(body[body.index(b"{") : body.rindex(b"}") + 1])
    return result


async def trial(port: int, streams: int) -> dict[str, Any]:
    """N streams through `/api/chat`, one full collection in the server while they all run."""
    target = Target(port, "/api/chat", False)
    worst: list[float] = []
    started = [0]
    streaming = asyncio.Event()  # every stream has had its first token

    async def one(index: int) -> None:
        await asyncio.sleep(0.2 * index / streams)
        last: list[float] = []
        gaps: list[float] = []

        def on_token(now: float, count: int) -> None:
            if last:
                gaps.append((now - last[0]) * 1000)
            else:
                started[0] += 1
                if started[0] == streams:
                    streaming.set()
            last[:] = [now]

        await read_stream(target, STREAM_MODEL, TOKENS, on_token)
        worst.append(max(gaps))

    tasks = [asyncio.ensure_future(one(i)) for i in range(streams)]
    await streaming.wait()
    await asyncio.sleep(0.3)
    collection = await full_collection(port)
    await asyncio.gather(*tasks)
    worst.sort()
    return {
        "largest_gap_ms": round(worst[-1], 1),
        "median_stream_largest_gap_ms": round(statistics.median(worst), 1),
        "collection_ms": round(collection["ms"], 1),
        "objects_walked": collection["tracked"],
    }


def run_setup(setup: str, base_url: str, freeze: bool, args: Any) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with server(setup, base_url, {"FIRSTTOKEN_GC_FREEZE": "1" if freeze else "0"}) as (port, _proc):
        # The first answers load what a served call needs (warm-up, lazy imports): not measured.
        asyncio.run(trial(port, 2))
        for n in args.streams:
            runs = [asyncio.run(trial(port, n)) for _ in range(args.rounds)]
            rows[str(n)] = {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}
            rows[str(n)]["rounds"] = runs
            time.sleep(0.5)
    return rows


def table(results: dict[str, Any], setups: list[str], streams: list[int]) -> str:
    lines = [
        "| setup | streams | largest gap: worst stream / median stream, `gc_freeze` off | on "
        "| full collection, off | on (objects walked) |",
        "|---|---|---|---|---|---|",
    ]
    for setup in setups:
        for n in streams:
            off, on = results[setup]["off"][str(n)], results[setup]["on"][str(n)]
            lines.append(
                f"| {LABELS[setup]} | {n} "
                f"| {off['largest_gap_ms']} / {off['median_stream_largest_gap_ms']} ms "
                f"| {on['largest_gap_ms']} / {on['median_stream_largest_gap_ms']} ms "
                f"| {off['collection_ms']} ms ({off['objects_walked']:,.0f}) | {on['collection_ms']} ms "
                f"({on['objects_walked']:,.0f}) |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.set_defaults(setups="django-asgi,django-asgi/aiohttp")
    parser.add_argument("--streams", default="2,8,32", help="streams per trial (default 2,8,32)")
    parser.add_argument("--rounds", type=int, default=3, help="trials per row (default 3)")
    args = parser.parse_args()
    args.streams = [int(n) for n in args.streams.split(",")]
    rig_process()
    setups = args.setups.split(",")
    if any(not setup.startswith("django-") for setup in setups):
        parser.error(
            "--setups: the Django apps only (django-asgi, django-wsgi and their variants) serve /api/gc"
        )
    results: dict[str, Any] = {**run_facts("gc_pauses.py"), "tokens_per_answer": TOKENS}
    with emulator_process(time_scale=1.0, cpu=RIG_CORE, extra=PROFILES) as base_url:
        for setup in setups:
            results[setup] = {}
            for freeze in (False, True):
                results[setup]["on" if freeze else "off"] = run_setup(setup, base_url, freeze, args)
                row = {
                    n: {k: v for k, v in r.items() if k != "rounds"}
                    for n, r in results[setup]["on" if freeze else "off"].items()
                }
                print(f"{LABELS[setup]}, gc_freeze {freeze}: {json.dumps(row)}", flush=True)
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results) if args.json else table(results, setups, args.streams))


if __name__ == "__main__":
    main()
