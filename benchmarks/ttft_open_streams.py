"""Added time to first token with streams held open: firsttoken beside the hand-written relay, with 1,
64 and 256 streams open on firsttoken's endpoint.

    .venv/bin/python benchmarks/ttft_open_streams.py --probes 1000   # four setups, ~20 min
    .venv/bin/python benchmarks/ttft_open_streams.py --setups starlette --open 1,8 --probes 10

The issue's TTFT goal, measured the way it was first measured (`starlette_relay.py`), on
`capacity.py`'s rig (`_rig.py`): N-1 streams held through firsttoken's endpoint, each mid-answer at
2 tokens/s (an opus answer the emulator paces so; 256 streams of the API's 90 tokens/s would be past
every server's core, see `capacity.py`), while probes take turns through firsttoken, the
hand-written relay and straight at the emulator, one at a time (first token due 20 ms after the
request). A row has firsttoken's added TTFT p50 minus the hand-written relay's (goal: at most
+0.3 ms) and the ratio of their added p99s (goal: at most 1.5x).

"Added" is a percentile through a relay minus the same percentile straight at the emulator, each
probe's TTFT less the time the emulator held it (its log's `held_ms`: whole request in hand to first
token out). The emulator's own pace (a first token due at 20 ms leaves it 0.6 ms late at p50, up
to 2 ms at p99) is then out of both sides; left in, it is as wide as what the relays add, and a p99
is the difference of two tails of that noise (`ttft_only` in the JSON has the figures measured so).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx2

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
    pct,
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


class HeldLog:
    """The emulator's `held_ms` for each probe, read from its request log in the probes' order.

    The log keeps the last 200 requests, so it is read every `EVERY` turns; a probe's entry is the
    next new one for the probes' model (the held streams use another model and end after the row).
    """

    EVERY = 20

    def __init__(self, http: httpx2.AsyncClient, emulator_port: int) -> None:
        self._http = http
        self._url = f"http://127.0.0.1:{emulator_port}/_emulator/stats"
        self._seen: set[str] = set()
        self.held_ms: list[float] = []

    async def read(self, *, keep: bool = True) -> None:
        for entry in (await self._http.get(self._url)).json()["recent_requests"]:
            if entry["id"] in self._seen:
                continue
            self._seen.add(entry["id"])
            if keep and entry["model"] == PROBE_MODEL and entry["path"] == "/v1/messages":
                self.held_ms.append(entry["held_ms"])


def by_target(sent: list[tuple[str, float]], held_ms: list[float] | None = None) -> dict[str, list[float]]:
    """The probes' TTFTs (ms) by target, in the order sent; with `held_ms` (the emulator's, in the
    same order), each TTFT minus the time the emulator held that probe: what the way there and back
    took, free of the emulator's pace."""
    if held_ms is not None and len(held_ms) != len(sent):
        raise RuntimeError(f"{len(held_ms)} probes in the emulator's log, {len(sent)} sent")
    out: dict[str, list[float]] = {}
    for i, (name, ttft) in enumerate(sent):
        held = 0.0 if held_ms is None else held_ms[i]
        if not 0 <= held < ttft:
            raise RuntimeError(f"probe {i} ({name}): held {held} ms of a {ttft:.3f} ms TTFT")
        out.setdefault(name, []).append(ttft - held)
    return out


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
        sent: list[tuple[str, float]] = []
        order = list(targets.items())
        async with httpx2.AsyncClient() as http:
            log = HeldLog(http, emulator_port)
            await log.read(keep=False)  # what came before the row's probes
            try:
                # One at a time, in turns, so the machine's noise falls on the three alike; each
                # turn starts one further along, so none always follows the same one (the one after
                # firsttoken's probe meets its clean-up, the one after the emulator's an idle core).
                for turn in range(probes):
                    k = turn % len(order)
                    for name, target in order[k:] + order[:k]:
                        ttft = await read_stream(target, PROBE_MODEL, 1, ignore, first_only=True)
                        assert ttft is not None
                        sent.append((name, ttft * 1000))
                    if turn % HeldLog.EVERY == HeldLog.EVERY - 1:
                        await log.read()
                await asyncio.sleep(0.1)  # the last probes' upstream requests have ended
                await log.read()
            finally:
                for writer in writers:
                    writer.close()
                await asyncio.sleep(1.0)  # the server sees the disconnects before the next row
        row: dict[str, Any] = {"open": n, "probes": probes, **added_ttft(by_target(sent, log.held_ms))}
        # The same figures from the TTFTs alone, the emulator's pace left in: how the tables before
        # 2026-12-06 22:00 measured them, kept for comparison.
        only = row["ttft_only"] = added_ttft(by_target(sent))
        only["p99_ratio"] = p99_ratio(only)
        row["emulator_held_p50_p99_ms"] = [round(pct(log.held_ms, 50), 2), round(pct(log.held_ms, 99), 2)]
        row["p50_over_bare_ms"] = round(row["chat_added_p50_ms"] - row["bare_added_p50_ms"], 2)
        row["p99_ratio"] = p99_ratio(row)
        out[str(n)] = row
        print(f"    TTFT {n:>4} open: {json.dumps(row)}", flush=True)
    return out


def ttft_table(results: dict[str, Any], setups: list[str]) -> str:
    lines = [
        "| setup | open streams | firsttoken added p50 / p99 | hand-written added p50 / p99 "
        "| p50: firsttoken minus hand-written | p99: firsttoken ÷ hand-written "
        "| p99 ratio from the TTFTs alone |",
        "|---|---|---|---|---|---|---|",
    ]
    for setup in setups:
        for n, row in results[setup].items():
            lines.append(
                f"| {LABELS[setup]} | {n} | {row['chat_added_p50_ms']:+} / {row['chat_added_p99_ms']:+} ms "
                f"| {row['bare_added_p50_ms']:+} / {row['bare_added_p99_ms']:+} ms "
                f"| {row['p50_over_bare_ms']:+} ms | {_shown(row['p99_ratio'])} "
                f"| {_shown(row['ttft_only']['p99_ratio'])} |"
            )
    return "\n".join(lines)


def p99_ratio(row: dict[str, Any]) -> float | None:
    """firsttoken's added p99 over the hand-written relay's; None where the latter is not above zero."""
    bare99 = row["bare_added_p99_ms"]
    return round(row["chat_added_p99_ms"] / bare99, 2) if bare99 > 0 else None


def _shown(ratio: float | None) -> str:
    return "n/a (hand-written p99 at or under the emulator's)" if ratio is None else f"{ratio}x"


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer probes (default 60 rather than 1000)")
    parser.add_argument("--open", default="1,64,256", help="open streams per row (default 1,64,256)")
    parser.add_argument("--probes", type=int, help="probes per endpoint and row (default 1000)")
    args = parser.parse_args()
    rig_process()
    setups = args.setups.split(",")
    rows = [int(n) for n in args.open.split(",")]
    probes = args.probes or (60 if args.quick else 1000)
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
