"""CPU per token at the API's pace: firsttoken's relay beside the relay the SDK's helper leads a user
to write and the bare floor, in each framework.

    .venv/bin/python benchmarks/cpu_per_token.py --rounds 3            # ~10 min
    .venv/bin/python benchmarks/cpu_per_token.py --rounds 3 --quick    # shorter trials, ~6 min
    .venv/bin/python benchmarks/cpu_per_token.py --setups starlette --rounds 1 --cpu-at 8 --quick

The rig is `capacity.py`'s (`_rig.py`). For each setup's server in turn, a trial of `--cpu-at`
streams at the API's pace through each of three endpoints, `--rounds` times: firsttoken
(`/api/chat`), the relay the SDK's helper leads a user to write (`/api/helper`: `messages.stream()`
and its `text_stream`), and the bare floor (`/api/bare`). It reports the medians, and
firsttoken's CPU above the floor as a share of the helper's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rig import LABELS, PROFILES, RIG_CORE, Target, arguments, rig_process, run_facts, run_trial, server
from _support import emulator_process

ENDPOINTS = {"firsttoken": "/api/chat", "sdk helper": "/api/helper", "bare": "/api/bare"}


def cpu_side_by_side(setup: str, base_url: str, direct: Target, args: argparse.Namespace) -> dict[str, Any]:
    """CPU per token of the three endpoints of one server at `--cpu-at` streams, in turns."""
    samples: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    with server(setup, base_url) as (port, proc):
        for _ in range(args.rounds):
            for name, path in ENDPOINTS.items():
                trial = asyncio.run(
                    run_trial(
                        Target(port, path, False),
                        {"direct": direct},
                        args.cpu_at,
                        args.tokens,
                        args.seconds,
                        proc,
                        base_url,
                    )
                )
                if trial.tokens and not trial.errors:
                    samples[name].append(trial.cpu_s / trial.tokens * 1e6)
    medians = {name: round(statistics.median(v), 1) if v else None for name, v in samples.items()}
    ours, helper, bare = medians["firsttoken"], medians["sdk helper"], medians["bare"]
    above = None
    if ours is not None and helper is not None and bare is not None and helper > bare:
        above = round((ours - bare) / (helper - bare), 2)
    return {
        "cpu_us_per_token": medians,
        "samples": {name: [round(x, 1) for x in v] for name, v in samples.items()},
        "firsttoken_over_helper": round(ours / helper, 2) if ours and helper else None,
        "above_floor_share": above,
    }


def cpu_table(results: dict[str, Any], setups: list[str], cpu_at: int) -> str:
    lines = [
        f"| setup | CPU per token at {cpu_at} streams: firsttoken / SDK helper / bare floor | firsttoken ÷ "
        "helper | firsttoken's CPU above the floor ÷ the helper's |",
        "|---|---|---|---|",
    ]
    for setup in setups:
        row = results[setup]
        cpu = row["cpu_us_per_token"]
        lines.append(
            f"| {LABELS[setup]} | **{cpu['firsttoken']}** / {cpu['sdk helper']} / {cpu['bare']} µs "
            f"| {row['firsttoken_over_helper']}x | {row['above_floor_share']}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter trials")
    parser.add_argument("--cpu-at", type=int, default=32, help="streams of each trial (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="trials per endpoint (default 3)")
    args = parser.parse_args()
    args.tokens = 180 if args.quick else 270  # 2 s or 3 s answers
    args.seconds = 3.0 if args.quick else 6.0
    rig_process()
    setups = args.setups.split(",")
    results: dict[str, Any] = {
        **run_facts("cpu_per_token.py"),
        "tokens_per_answer": args.tokens,
        "trial_seconds": args.seconds,
    }
    with emulator_process(time_scale=1.0, cpu=RIG_CORE, extra=PROFILES) as base_url:
        direct = Target(int(base_url.rsplit(":", 1)[1]), "/v1/messages", True)
        for setup in setups:
            results[setup] = cpu_side_by_side(setup, base_url, direct, args)
            print(f"{LABELS[setup]}: {json.dumps(results[setup])}", flush=True)
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results) if args.json else cpu_table(results, setups, args.cpu_at))


if __name__ == "__main__":
    main()
