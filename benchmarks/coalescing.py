"""What coalescing saves: writes and server CPU per token at the API's pace, by `coalesce_window`.

    .venv/bin/python benchmarks/coalescing.py            # Flask (gthread) and Starlette, 4 windows
    .venv/bin/python benchmarks/coalescing.py --streams 64 --seconds 8 --json

The rig of `capacity.py` (`_rig.py`: its servers, emulator and load generator): N streams at the API's
pace (sonnet, 90 tokens/s) through firsttoken's relay, one server process pinned to core 0, the
emulator and the load generator on core 1. Each window is its own server process, one after the
other. "Events per token" is the token events the browser received over the tokens the emulator
sent; CPU per token is the server's, as in `capacity.py`. `off` is one event per upstream delta.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rig import LABELS, PROFILES, RIG_CORE, Target, rig_process, run_trial, server
from _support import emulator_process

WINDOWS = ("off", "0", "0.02", "0.05")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setups", default="flask,starlette")
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rig_process()
    results: dict[str, Any] = {"streams": args.streams, "load_average_at_start": os.getloadavg()}
    with emulator_process(time_scale=1.0, cpu=RIG_CORE, extra=PROFILES) as base_url:
        emulator_port = int(base_url.rsplit(":", 1)[1])
        direct = Target(emulator_port, "/v1/messages", True)
        for setup in args.setups.split(","):
            results[setup] = {}
            for window in WINDOWS:
                with server(setup, base_url, {"FIRSTTOKEN_COALESCE_WINDOW": window}) as (port, proc):
                    target = Target(port, "/api/chat", False)
                    trial = asyncio.run(
                        run_trial(
                            target,
                            {"through": target, "direct": direct},
                            args.streams,
                            270,
                            args.seconds,
                            proc,
                            base_url,
                        )
                    )
                row = {
                    "cpu_us_per_token": round(trial.cpu_s / trial.tokens * 1e6, 1) if trial.tokens else None,
                    "events_per_token": round(trial.events / trial.tokens, 3) if trial.tokens else None,
                    "max_gap_ms": round(max(trial.gaps_ms, default=0.0), 1),
                    "tokens": trial.tokens,
                }
                results[setup][window] = row
                print(f"{LABELS[setup]}, window {window}: {json.dumps(row)}", flush=True)
    results["load_average_at_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(json.dumps(results))
    print("\n| setup | coalesce_window | token events per token | server CPU per token | largest gap |")
    print("|---|---|---|---|---|")
    for setup in args.setups.split(","):
        for window, row in results[setup].items():
            print(
                f"| {LABELS[setup]} | {window} | {row['events_per_token']} | {row['cpu_us_per_token']} µs "
                f"| {row['max_gap_ms']} ms |"
            )


if __name__ == "__main__":
    main()
