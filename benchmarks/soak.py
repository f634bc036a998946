"""Issue 19's soak, long mode: each framework's production server under many concurrent streams
with 10% dropped clients, 10% injected 529s and 5% mid-stream errors on the primary model, Redis
killed half-way and restarted at three quarters (the driver is `tests/e2e/soak.py`, the quick mode
`tests/e2e/test_soak.py`).

For each framework it runs the same load twice, side by side: "clean" (no faults, no drops, Redis
left alone) and "chaos"; it prints the chaos run's checks (problems must be 0) and the throughput
ratio chaos / clean of the same run, since absolute rates on a shared machine mean little.

    .venv/bin/python benchmarks/soak.py [--streams 1000] [--seconds 300] [--concurrency 50]
        [--frameworks starlette,fastapi,django-asgi,django-wsgi,flask]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.soak import PRODUCTION, problems, run_soak, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="streams per framework and run")
    parser.add_argument("--seconds", type=float, default=300.0, help="stop starting streams after this")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="identical rounds the streams run in")
    parser.add_argument("--frameworks", default=",".join(PRODUCTION))
    args = parser.parse_args()
    failed = False
    rows = []
    for framework in args.frameworks.split(","):
        common = {
            "streams": args.streams,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "rounds": args.rounds,
        }
        clean = run_soak(framework, chaos=False, **common)
        chaos = run_soak(framework, **common)
        found = problems(chaos) + [f"clean run: {p}" for p in problems(clean)]
        figures = summary(chaos)
        figures["clean_streams_per_second"] = round(clean.streams / clean.seconds, 1)
        figures["throughput_vs_clean"] = round(
            figures["streams_per_second"] / figures["clean_streams_per_second"], 2
        )
        print(json.dumps(figures), flush=True)
        for problem in found[:20]:
            print("  PROBLEM:", problem, flush=True)
        failed = failed or bool(found)
        rows.append(figures)
    print()
    print(
        "| framework | streams | dropped | 529s → fallback answers | mid-stream errors "
        "| fds (pooled) / threads: warmed up → after each round | problems | chaos / clean throughput |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for f in rows:
        by_model = f["completed_by_model"]
        print(
            f"| {f['framework']} | {f['streams']} | {f['dropped']} | {f['overloaded_529s']} → "
            f"{by_model.get('claude-haiku-5-5', 0)} | "
            f"{f['midstream_faults']} fired, {f['error_events']} seen | "
            + " → ".join(_level(level) for level in [f["baseline"], *f["after_each_round"]])
            + f" | {f['problems']} | "
            f"{f['throughput_vs_clean']}x ({f['streams_per_second']} vs {f['clean_streams_per_second']} /s) |"
        )
    return 1 if failed else 0


def _level(level: dict[str, int]) -> str:
    return f"{level['fds']} ({level['pooled']}) / {level['threads']}"


if __name__ == "__main__":
    raise SystemExit(main())
