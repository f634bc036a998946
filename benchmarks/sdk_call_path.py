"""From an SDK call to its request's first socket write: a plain SDK client, the same client with
one pass-through SDK middleware, and the client a firsttoken call goes out on, in turn.

    .venv/bin/python benchmarks/sdk_call_path.py [--calls N] [--json]

Each call is `messages.with_streaming_response.create(stream=True)` of a one-token answer from the
emulator (time-scale 0, its own process), read to its end; the instant is httpcore's first write
of the request. The middleware row is what any SDK middleware costs per attempt (the SDK copies
the request's options and builds its headers again on that path): the rate-limit governor was
one until it moved to the clients' httpx hooks (BENCHMARKS.md, "The governor off the SDK's
middleware path").
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import emulator_process

_written: list[float] = []


def _note_writes() -> None:
    from httpcore2._backends import sync as backend

    write = backend.SyncStream.write

    def noted(self: Any, buffer: bytes, timeout: float | None = None) -> None:
        if not _written:
            _written.append(time.perf_counter())
        write(self, buffer, timeout)

    backend.SyncStream.write = noted  # type: ignore[method-assign]


def _pass_through(request: Any, call_next: Any) -> Any:
    return call_next(request)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="per client (default 2,000)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    _note_writes()
    from firsttoken import Engine, Settings

    with emulator_process(time_scale=0.0) as base_url:
        plain = anthropic.Anthropic(api_key="bench", base_url=base_url, max_retries=0)
        settings = Settings.from_mapping({"base_url": base_url, "api_key": "bench", "advisor": False})
        with Engine(settings) as engine:
            clients = {
                "plain SDK client": plain,
                "with one pass-through middleware": plain.with_options(middleware=[_pass_through]),
                "firsttoken's call client": engine._dispatch.client(),
            }
            call = {
                "model": "claude-haiku-5-5",
                "max_tokens": 100,
                "messages": [{"role": "user", "content": "Hi."}],
                "extra_headers": {"x-emulator-output-tokens": "1"},
            }
            samples: dict[str, list[float]] = {name: [] for name in clients}
            for n in range(args.calls + 200):
                for name, client in clients.items():
                    _written.clear()
                    started = time.perf_counter()
                    with client.messages.with_streaming_response.create(stream=True, **call) as response:
                        for _ in response.http_response.iter_bytes():
                            pass
                    if n >= 200:  # the first ones warm every path
                        samples[name].append(_written[0] - started)
    base = statistics.median(samples["plain SDK client"])
    rows = {
        name: {
            "p50_us": round(statistics.median(values) * 1e6, 1),
            "ratio": round(statistics.median(values) / base, 2),
        }
        for name, values in samples.items()
    }
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| client | call to first write, p50 | ÷ plain |")
    print("|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['p50_us']} µs | {row['ratio']}x |")


if __name__ == "__main__":
    os.environ.setdefault("FIRSTTOKEN_ADVISOR", "0")
    main()
