"""Added time to first token with streams held open: firsttoken beside the hand-written relay, with 1,
64 and 256 streams open on firsttoken's endpoint.

    .venv/bin/python benchmarks/ttft_open_streams.py --probes 200    # four setups, ~6 min
    .venv/bin/python benchmarks/ttft_open_streams.py --setups starlette --open 1,8 --probes 10

The issue's TTFT goal, measured the way it was first measured (`starlette_relay.py`), on
`capacity.py`'s rig (`_rig.py`): N-1 streams held through firsttoken's endpoint, each mid-answer at
2 tokens/s (an opus answer the emulator paces so; 256 streams of the API's 90 tokens/s would be past
every server's core, see `capacity.py`), while probes take turns through firsttoken, the
hand-written relay and straight at the emulator, one at a time (first token due 20 ms after the
request). A row has firsttoken's added TTFT p50 minus the hand-written relay's (goal: at most
+0.3 ms) and the ratio of their added p99s (goal: at most 1.5x).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rig import (
    LABELS,
    PROBE_MODEL,
    PROFILES,
    RIG_CORE,
    Target,
    added_ttft,
    arguments,
    ignore,
    read_stream,
    rig_process,
    run_facts,
    server,
    ttft_targets,
)
from _support import emulator_process, hold_streams

# The open streams: answers that stay open for minutes at 2 tokens/s.
HOLD_MODEL = "claude-opus-5"
HOLD_PROFILE = ("--model-profile", "opus:20,20,2")


async def held_ttft_rows(port: int, emulator_port: int, rows: list[int], probes: int) -> dict[str, Any]:
    """TTFT through firsttoken, the hand-written relay and straight, N-1 slow streams held open."""
    targets = ttft_targets(port, emulator_port)
    out: dict[str, Any] = {}
    for n in rows:
        for _ in range(5):  # warm both relays' pools and code before the row's clock
            for target in targets.values():
                await read_stream(target, PROBE_MODEL, 1, ignore, first_only=True)
        # In batches, so that opening them is not what the first probes measure.
        request = Target(port, "/api/chat", False).request(HOLD_MODEL, 100_000)
        writers = await hold_streams(port, request, n - 1, batch=32)
        await asyncio.sleep(1.0)
        samples: dict[str, list[float]] = {name: [] for name in targets}
        try:
            # One at a time, in turns, so the machine's noise falls on the three alike.
            for _ in range(probes):
                for name, target in targets.items():
                    ttft = await read_stream(target, PROBE_MODEL, 1, ignore, first_only=True)
                    assert ttft is not None
                    samples[name].append(ttft * 1000)
        finally:
            for writer in writers:
                writer.close()
            await asyncio.sleep(1.0)  # the server sees the disconnects before the next row
        row: dict[str, Any] = {"open": n, "probes": probes, **added_ttft(samples)}
        row["p50_over_bare_ms"] = round(row["chat_added_p50_ms"] - row["bare_added_p50_ms"], 2)
        bare99 = row["bare_added_p99_ms"]
        row["p99_ratio"] = round(row["chat_added_p99_ms"] / bare99, 2) if bare99 > 0 else None
        out[str(n)] = row
        print(f"    TTFT {n:>4} open: {json.dumps(row)}", flush=True)
    return out


def ttft_table(results: dict[str, Any], setups: list[str]) -> str:
    lines = [
        "| setup | open streams | firsttoken added p50 / p99 | hand-written added p50 / p99 "
        "| p50: firsttoken minus hand-written | p99: firsttoken ÷ hand-written |",
        "|---|---|---|---|---|---|",
    ]
    for setup in setups:
        for n, row in results[setup].items():
            ratio = (
                "n/a (hand-written p99 at or under the emulator's)"
                if row["p99_ratio"] is None
                else f"{row['p99_ratio']}x"
            )
            lines.append(
                f"| {LABELS[setup]} | {n} | {row['chat_added_p50_ms']:+} / {row['chat_added_p99_ms']:+} ms "
                f"| {row['bare_added_p50_ms']:+} / {row['bare_added_p99_ms']:+} ms "
                f"| {row['p50_over_bare_ms']:+} ms | {ratio} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer probes (default 60 rather than 200)")
    parser.add_argument("--open", default="1,64,256", help="open streams per row (default 1,64,256)")
    parser.add_argument("--probes", type=int, help="probes per endpoint and row (default 200)")
    args = parser.parse_args()
    rig_process()
    setups = args.setups.split(",")
    rows = [int(n) for n in args.open.split(",")]
    probes = args.probes or (60 if args.quick else 200)
    results: dict[str, Any] = {
        **run_facts("ttft_open_streams.py"),
    }
    with emulator_process(time_scale=1.0, cpu=RIG_CORE, extra=(*PROFILES, *HOLD_PROFILE)) as base_url:
        emulator_port = int(base_url.rsplit(":", 1)[1])
        for setup in setups:
            print(f"{LABELS[setup]}:", flush=True)
            with server(setup, base_url) as (port, _proc):
                results[setup] = asyncio.run(held_ttft_rows(port, emulator_port, rows, probes))
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results) if args.json else ttft_table(results, setups))


if __name__ == "__main__":
    main()
