"""What the request limits cost per chat request (issue 19), against the parse they replaced.

Baseline: `parse_chat_request(body)` as it was before (loaded from git's HEAD~ copy of
`_chat.py` when this checkout has one, else the current parse alone). Measured: the whole
`accept_chat` (size, nesting and surrogate checks, content type, browser profiles, message and
token limits) plus the per-client budget in memory. Both run interleaved in one process, on the
same bodies, so the machine's noise hits both alike; the figure is the ratio of medians.

    .venv/bin/python benchmarks/request_limits.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

from firsttoken import Limits, Settings, accept_chat, parse_chat_request
from firsttoken._state.client_budgets import MemoryClientBudgets

ROUNDS = 15
PER_ROUND = 400


def body(turns: int, words: int) -> bytes:
    messages = [
        {"role": ("user", "assistant")[i % 2], "content": " ".join(["word"] * words)} for i in range(turns)
    ]
    return json.dumps({"messages": messages, "profile": "chat"}).encode()


def timed(run: Callable[[bytes], None], raw: bytes) -> float:
    start = time.perf_counter()
    for _ in range(PER_ROUND):
        run(raw)
    return (time.perf_counter() - start) / PER_ROUND


def parse_before(rev: str = "c8ffdaf") -> tuple[Callable[..., object], str]:
    """The chat parser of `rev` (the commit before issue 19), run as a module of the package."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{rev}:src/firsttoken/_chat.py"],
            cwd=root,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return parse_chat_request, "the current parse (no git history here)"
    module = types.ModuleType("firsttoken._chat_before")
    module.__package__ = "firsttoken"
    sys.modules[module.__name__] = module
    exec(compile(source, f"{rev}:_chat.py", "exec"), module.__dict__)
    return module.parse_chat_request, f"parse_chat_request of {rev}"


def main() -> None:
    limits = Limits(
        Settings(client_requests_per_minute=10**9, client_tokens_per_minute=10**12), MemoryClientBudgets()
    )

    before, what = parse_before()

    def baseline(raw: bytes) -> None:
        before(raw, profiles=("fast", "chat", "deep"))

    def limited(raw: bytes) -> None:
        _, tokens = accept_chat(limits, raw, content_type="application/json", protocols=[])
        limits.admit("203.0.113.7", tokens)

    print(f"baseline: {what}")
    print("| body | parse before (µs) | parse + every limit (µs) | ratio |")
    print("|---|---|---|---|")
    for label, raw in [
        ("1 turn, 20 words", body(1, 20)),
        ("20 turns, 100 words each", body(20, 100)),
        ("99 turns, 200 words each", body(99, 200)),
    ]:
        base, lim = [], []
        for _ in range(ROUNDS):
            base.append(timed(baseline, raw))
            lim.append(timed(limited, raw))
        b, m = statistics.median(base) * 1e6, statistics.median(lim) * 1e6
        print(f"| {label} ({len(raw):,} B) | {b:.1f} | {m:.1f} | {m / b:.2f}x |")


if __name__ == "__main__":
    main()
