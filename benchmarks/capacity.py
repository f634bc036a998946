"""Streams per core: the most concurrent answers one server process on one core sustains.

    .venv/bin/python benchmarks/capacity.py            # four setups, ~25 min
    .venv/bin/python benchmarks/capacity.py --quick    # shorter trials, coarser search, ~8 min
    .venv/bin/python benchmarks/capacity.py --setups starlette,flask --json

The rig (`_rig.py`): each setup's server pinned to core 0, the emulator and this script, the load
generator, on core 1; trials of N streams at the API's pace (answers of `--tokens` tokens) with
probes of the added time to first token. N is sustained when the added p99 is under 20 ms and no
gap between tokens at the client is over 3x the emulator's own (3 x 11.1 ms). The search doubles N
from `--start` until a trial fails, then bisects, within a time cap per endpoint, for firsttoken's
relay (`/api/chat`) and the hand-written one (`/api/bare`); then each gets a trial at `--cpu-at`
streams, so the two compare at one load, and (unless `--no-ttft`) added-TTFT rows with 1, 64 and 256
streams open.

The load generator's headroom is checked by the same trials run straight at the emulator (no
server between): the "rig" row is the most streams the emulator and load generator sustain by
themselves on their core, so a server figure at that ceiling means "at least".

The other measurements on this rig: `cpu_per_token.py` (CPU per token beside the SDK helper's
relay and the bare floor), `ttft_open_streams.py` (added TTFT with slow streams held open),
`cpu_full_speed.py` (CPU per token at time-scale 0) and `coalescing.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rig import (
    LABELS,
    PROFILES,
    RIG_CORE,
    TPS,
    Target,
    Trial,
    added_ttft,
    arguments,
    pct,
    rig_process,
    run_facts,
    run_trial,
    server,
    ttft_targets,
)
from _support import emulator_process

GAP_LIMIT_MS = 3 * 1000 / TPS
ADDED_P99_LIMIT_MS = 20.0


def verdict(trial: Trial, through: str) -> dict[str, Any]:
    """The trial's figures, and whether it sustained its streams."""
    added = (
        {q: pct(trial.probe_ms[through], q) - pct(trial.probe_ms["direct"], q) for q in (50, 99)}
        if through != "direct"
        else {50: 0.0, 99: 0.0}
    )
    max_gap = max(trial.gaps_ms, default=float("inf"))
    ok = (
        trial.errors == 0
        and added[99] < ADDED_P99_LIMIT_MS
        and max_gap <= GAP_LIMIT_MS
        and len(trial.probe_ms["direct"]) >= 5
    )
    return {
        "streams": trial.streams,
        "ok": ok,
        "added_p50_ms": round(added[50], 2),
        "added_p99_ms": round(added[99], 2),
        "max_gap_ms": round(max_gap, 1),
        "gap_p999_ms": round(pct(trial.gaps_ms, 99.9), 1),
        "errors": trial.errors,
        "probes": len(trial.probe_ms[through]),
        "cpu_us_per_token": round(trial.cpu_s / trial.tokens * 1e6, 1) if trial.tokens else None,
        "tokens": trial.tokens,
        "cpu_s": round(trial.cpu_s, 3),
    }


async def search(
    background: Target,
    probes: dict[str, Target],
    through: str,
    proc: psutil.Process | None,
    emulator_url: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Double N until a trial fails, then bisect, within the time cap."""
    started = time.monotonic()
    trials: list[dict[str, Any]] = []

    async def attempt(n: int) -> bool:
        trial = await run_trial(background, probes, n, args.tokens, args.seconds, proc, emulator_url)
        result = verdict(trial, through)
        trials.append(result)
        print(f"    {through:>6} {n:>5} streams: {json.dumps(result)}", flush=True)
        return result["ok"] is True

    def out_of_time() -> bool:
        return bool(time.monotonic() - started > args.time_cap)

    lo, hi = 0, None
    n = args.start
    while n <= args.max_streams and not out_of_time():
        if await attempt(n):
            lo = n
            n *= 2
        else:
            hi = n
            break
    if hi is None and lo == 0:
        hi = args.start
    if lo == 0 and hi is not None:
        # Failed at the start: halve until a trial passes.
        n = hi // 2
        while n >= 1 and not out_of_time():
            if await attempt(n):
                lo = n
                break
            hi = n
            n //= 2
    while hi is not None and lo and hi - lo > max(1, lo * args.resolution) and not out_of_time():
        mid = (lo + hi) // 2
        if await attempt(mid):
            lo = mid
        else:
            hi = mid
    # CPU per token and added TTFT at one load for every endpoint, passed or not, so the two
    # relays compare at the same number of streams even where the search ends apart.
    if not any(t["streams"] == args.cpu_at for t in trials):
        await attempt(args.cpu_at)
    best = next((t for t in trials if t["streams"] == lo and t["ok"]), None)
    return {
        "at_fixed": next(t for t in trials if t["streams"] == args.cpu_at),
        "streams_per_core": lo,
        "capped": hi is None,
        "at_best": best,
        "trials": trials,
        "seconds": round(time.monotonic() - started, 1),
    }


async def ttft_rows(
    port: int, emulator_port: int, rows: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    """Added TTFT through firsttoken and the hand-written relay, N-1 streams held on firsttoken."""
    probes = ttft_targets(port, emulator_port)
    out: dict[str, Any] = {}
    for n in rows:
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        trial = await run_trial(
            probes["chat"],
            probes,
            n - 1,
            args.tokens,
            args.ttft_seconds,
            None,
            emulator_url,
            args.ttft_probes,
        )
        row = {"open": n, "probes": len(trial.probe_ms["direct"]), **added_ttft(trial.probe_ms)}
        out[str(n)] = row
        print(f"    TTFT {n:>4} open: {json.dumps(row)}", flush=True)
    return out


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter trials and a coarser search")
    parser.add_argument("--no-ttft", action="store_true", help="skip the TTFT table")
    parser.add_argument("--ttft-open", default="1,64,256", help="open streams per TTFT row")
    parser.add_argument("--start", type=int, default=32, help="streams of the first trial (default 32)")
    parser.add_argument("--max-streams", type=int, default=2048, help="stop doubling here (default 2048)")
    parser.add_argument(
        "--time-cap", type=float, help="seconds of search per endpoint (default 240, quick 75)"
    )
    parser.add_argument("--cpu-at", type=int, default=32, help="streams of the fixed-load trial (default 32)")
    parser.add_argument("--rig-ceiling", type=int, help="skip the rig search and take this as its ceiling")
    args = parser.parse_args()
    args.tokens = 180 if args.quick else 270  # 2 s or 3 s answers
    args.seconds = 3.0 if args.quick else 6.0
    args.ttft_seconds = 4.0 if args.quick else 10.0
    args.ttft_probes = 25 if args.quick else 100
    args.resolution = 0.25 if args.quick else 0.12
    args.time_cap = args.time_cap or (75.0 if args.quick else 240.0)
    rig_process()
    started = time.monotonic()
    results: dict[str, Any] = {
        **run_facts("capacity.py"),
        "tokens_per_answer": args.tokens,
        "trial_seconds": args.seconds,
    }
    with emulator_process(time_scale=1.0, cpu=RIG_CORE, extra=PROFILES) as base_url:
        emulator_port = int(base_url.rsplit(":", 1)[1])
        direct = Target(emulator_port, "/v1/messages", True)
        if args.rig_ceiling:
            results["rig"] = {"streams_per_core": args.rig_ceiling, "capped": False, "given": True}
        else:
            print("rig (emulator + load generator, no server):", flush=True)
            results["rig"] = asyncio.run(search(direct, {"direct": direct}, "direct", None, base_url, args))
        for setup in args.setups.split(","):
            print(f"{LABELS[setup]}:", flush=True)
            entry: dict[str, Any] = {}
            with server(setup, base_url) as (port, proc):
                for name, path in (("firsttoken", "/api/chat"), ("hand-written", "/api/bare")):
                    target = Target(port, path, False)
                    entry[name] = asyncio.run(
                        search(target, {"through": target, "direct": direct}, "through", proc, base_url, args)
                    )
                if not args.no_ttft:
                    rows = [int(n) for n in args.ttft_open.split(",")]
                    entry["ttft"] = asyncio.run(ttft_rows(port, emulator_port, rows, args))
            results[setup] = entry
    results["seconds"] = round(time.monotonic() - started, 1)
    results["load_average_at_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(json.dumps(results))
    print()
    print(table(results, args.setups.split(","), args.cpu_at))


def table(results: dict[str, Any], setups: list[str], cpu_at: int) -> str:
    def cell(found: dict[str, Any]) -> dict[str, str]:
        fixed = found["at_fixed"]
        cpu = fixed["cpu_us_per_token"]
        return {
            "streams": f"{found['streams_per_core']}{'+' if found['capped'] else ''}",
            "cpu": f"{cpu} µs" if cpu else "n/a",
            # What the CPU per token alone allows: one core's second over 90 tokens/s per stream.
            "implied": f"{1e6 / (cpu * TPS):.0f}" if cpu else "n/a",
            "ttft": f"+{fixed['added_p50_ms']} / +{fixed['added_p99_ms']} ms",
            "gap": f"{fixed['max_gap_ms']} ms",
        }

    lines = [
        f"| setup | streams per core (criteria met) | CPU per token at {cpu_at} streams | streams per core "
        f"that CPU allows | added TTFT p50 / p99 at {cpu_at} streams | largest gap at {cpu_at} streams |",
        "|---|---|---|---|---|---|",
    ]
    for setup in setups:
        fw, bare = cell(results[setup]["firsttoken"]), cell(results[setup]["hand-written"])
        lines.append(
            f"| {LABELS[setup]}: firsttoken / hand-written | **{fw['streams']}** / {bare['streams']} "
            f"| **{fw['cpu']}** / {bare['cpu']} | {fw['implied']} / {bare['implied']} "
            f"| {fw['ttft']} / {bare['ttft']} | {fw['gap']} / {bare['gap']} |"
        )
    rig = results["rig"]
    lines.append(f"| rig alone (emulator + load generator, no server) | {rig['streams_per_core']} | | | | |")
    out = "\n".join(lines)
    if any("ttft" in results[s] for s in setups):
        rows = [
            "",
            "",
            "| setup | open streams | firsttoken added p50 / p99 | hand-written added p50 / p99 |",
            "|---|---|---|---|",
        ]
        for setup in setups:
            for n, row in results[setup].get("ttft", {}).items():
                rows.append(
                    f"| {LABELS[setup]} | {n} | +{row['chat_added_p50_ms']} / +{row['chat_added_p99_ms']} ms "
                    f"| +{row['bare_added_p50_ms']} / +{row['bare_added_p99_ms']} ms |"
                )
        out += "\n".join(rows)
    return out


if __name__ == "__main__":
    main()
