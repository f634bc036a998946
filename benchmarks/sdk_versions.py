"""The relay's CPU per stream event beside the SDK's own `messages.stream()` helper, on each SDK
version in a list: a venv per version, the comparison run in each, one table.

    .venv/bin/python benchmarks/sdk_versions.py                       # the floor and the lock's
    .venv/bin/python benchmarks/sdk_versions.py --versions 2.10.0,2.14.0,2.17.0 --rounds 3

For each version, `.venv-sdk/<version>/` is made with uv (as `make oldest/latest` make theirs):
every other runtime dependency at the lock's version (`uv export`), `anthropic==<version>`, this
tree installed editable. In that venv, one process with the emulator in a child process pinned to
core 1 (time-scale 0, so CPU per event is what shows, not the API's pace) reads `--tokens`-token
answers, interleaved, `--rounds` times:

- the SDK helper: `client.messages.stream()`, every event iterated, then `get_final_message()`;
- firsttoken: `engine.stream()` / `engine.astream()` and every event of `events()` (usage, stop
  reason and the message kept, as the relay keeps them).

CPU is the consuming thread's own (`time.thread_time`), per event; the figures are medians. The
goal is firsttoken at most 1/3 of the helper, sync and async, on every version.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "uv-0.13.9" / "bin" / "uv"
VENVS = ROOT / ".venv-sdk"
MESSAGES = [{"role": "user", "content": "Write a long explanation of streaming."}]
GOAL = 1 / 3


def floor_and_locked() -> list[str]:
    """pyproject.toml's floor for anthropic and the version uv.lock pins."""
    floor = re.search(r'"anthropic>=([\d.]+)', (ROOT / "pyproject.toml").read_text())
    locked = re.search(r'name = "anthropic"\nversion = "([\d.]+)"', (ROOT / "uv.lock").read_text())
    assert floor and locked, "pyproject.toml's anthropic floor or uv.lock's anthropic not found"
    version = floor.group(1)
    return [version if version.count(".") == 2 else version + ".0", locked.group(1)]


def venv_for(version: str) -> Path:
    """`.venv-sdk/<version>/`, with the lock's runtime set but this anthropic; made once."""
    venv = VENVS / version
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists():
        return python
    subprocess.run([UV, "venv", "--quiet", "--allow-existing", "--python", "3.11", venv], check=True)
    exported = subprocess.run(
        [UV, "export", "--quiet", "--frozen", "--no-dev", "--all-extras", "--no-emit-project", "--no-hashes"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    constraints = venv / "constraints.txt"
    constraints.write_text(
        "".join(line + "\n" for line in exported.splitlines() if not line.startswith(("anthropic==", "#")))
    )
    # psutil: the emulator's child process is pinned to a core with it.
    install = [UV, "pip", "install", "--quiet", "--python", python, "-c", constraints]
    subprocess.run(
        [*install, f"anthropic=={version}", "psutil", "-e", str(ROOT)],
        check=True,
        cwd=ROOT,
    )
    stamp.touch()
    return python


def _timed(samples: list[float], events: int, started: float) -> None:
    samples.append((time.thread_time() - started) / events * 1e6)


def measure(base_url: str, rounds: int, tokens: int) -> dict[str, Any]:
    """In this venv: CPU per event of the helper and of firsttoken, sync and async."""
    import anthropic

    from firsttoken import Engine, Settings

    long = {"x-emulator-output-tokens": str(tokens)}
    engine = Engine(Settings(base_url=base_url))
    model = engine.profile("chat").model
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": tokens,
        "messages": MESSAGES,
        "extra_headers": long,
    }
    sync_client = anthropic.Anthropic(base_url=base_url, api_key="bench")

    def helper() -> int:
        n = 0
        with sync_client.messages.stream(**params) as stream:
            for _ in stream:
                n += 1
            stream.get_final_message()
        return n

    def ours() -> int:
        n = 0
        with engine.stream(messages=MESSAGES, max_tokens=tokens, extra_headers=long) as stream:
            for _ in stream.events():
                n += 1
        assert stream.usage["output_tokens"] and stream.stop_reason
        return n

    async def run_async() -> dict[str, list[float]]:
        client = anthropic.AsyncAnthropic(base_url=base_url, api_key="bench")

        async def ahelper() -> int:
            n = 0
            async with client.messages.stream(**params) as stream:
                async for _ in stream:
                    n += 1
                await stream.get_final_message()
            return n

        async def aours() -> int:
            n = 0
            async with engine.astream(messages=MESSAGES, max_tokens=tokens, extra_headers=long) as stream:
                async for _ in stream.events():
                    n += 1
            assert stream.usage["output_tokens"] and stream.stop_reason
            return n

        cases: dict[str, Callable[[], Awaitable[int]]] = {"async helper": ahelper, "async firsttoken": aours}
        for run in cases.values():
            await run()  # warm: connection, imports, caches
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, run in cases.items():  # interleaved, so drift hits both alike
                gc.collect()
                started = time.thread_time()
                _timed(samples[name], await run(), started)
        await client.close()
        await engine.aclose()
        return samples

    cases: dict[str, Callable[[], int]] = {"sync helper": helper, "sync firsttoken": ours}
    for run in cases.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            gc.collect()
            started = time.thread_time()
            _timed(samples[name], run(), started)
    samples.update(asyncio.run(run_async()))
    engine.close()
    sync_client.close()
    medians = {name: round(statistics.median(v), 2) for name, v in samples.items()}
    return {
        "anthropic": anthropic.__version__,
        "us_per_event": medians,
        "samples": {name: [round(x, 2) for x in v] for name, v in samples.items()},
        "sync_ratio": round(medians["sync firsttoken"] / medians["sync helper"], 3),
        "async_ratio": round(medians["async firsttoken"] / medians["async helper"], 3),
    }


def worker(rounds: int, tokens: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _support import emulator_process

    with emulator_process(time_scale=0.0, cpu=1) as base_url:
        print(json.dumps(measure(base_url, rounds, tokens)))


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| anthropic | sync: firsttoken / helper, µs per event | ratio "
        "| async: firsttoken / helper | ratio |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        us = row["us_per_event"]

        def mark(ratio: float) -> str:
            return f"**{ratio:.2f}x**" + ("" if ratio <= GOAL else " (over 1/3)")

        lines.append(
            f"| {row['anthropic']} | {us['sync firsttoken']} / {us['sync helper']} "
            f"| {mark(row['sync_ratio'])} | {us['async firsttoken']} / {us['async helper']} "
            f"| {mark(row['async_ratio'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--versions", help="comma-separated anthropic versions (default: the floor and the lock's)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--tokens", type=int, default=4000, help="output tokens per answer (default 4000)")
    parser.add_argument("--json", action="store_true", help="print only the JSON results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.rounds, args.tokens)
        return
    versions = args.versions.split(",") if args.versions else floor_and_locked()
    rows = []
    for version in versions:
        python = venv_for(version)
        done = subprocess.run(
            [python, __file__, "--worker", "--rounds", str(args.rounds), "--tokens", str(args.tokens)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if done.returncode:
            sys.exit(f"anthropic {version}: the worker failed\n{done.stderr}")
        out = done.stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    result = {"command": " ".join(sys.argv), "load_average_at_end": os.getloadavg(), "rows": rows}
    print(
        json.dumps(result) if args.json else table(rows) + f"\n\nload average at the end: {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
