"""An answer that restarts on its fallback model: the time from the overload to the fallback's
first token, beside the fallback model's own time to first token, side by side in one run.

One emulator at time-scale 1 (the Anthropic Performance Tuning guide's latency table). The primary
(`claude-sonnet-5-5`) breaks off with `overloaded_error` after its fifth token (the emulator's
`midstream_overloaded` fault); the fallback is a newer-than-4.6 model of the same tier
(`claude-sonnet-4-6`), which refuses a continuation's prefill, so the answer starts again on it.
"overload -> fallback's first token" runs from the primary's last token (the overload arrives in
the same write) to the first token after the `Reset`; the baseline is a fresh call to the
fallback, from the call to its first token. The breaker is kept from tripping, so every restart
is measured, not skipped by a cooldown. Rounds alternate the two, one at a time.

    .venv/bin/python benchmarks/restart.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from firsttoken import Engine, Reset, Settings, TextDelta
from firsttoken._metrics import percentile
from firsttoken.testing.emulator import Emulator

PRIMARY = "claude-sonnet-5-5"
FALLBACK = "claude-sonnet-4-6"
USER = [{"role": "user", "content": "Explain why streaming makes a chat feel fast."}]
HEADERS = {"x-emulator-output-tokens": "24"}


async def restarted(engine: Engine) -> float:
    """Seconds from the primary's last token to the fallback's first, in one restarted answer."""
    last = reset = None
    async with engine.astream(messages=USER, extra_headers=HEADERS) as stream:
        async for event in stream.typed_events():
            now = time.perf_counter()
            if isinstance(event, Reset):
                reset = now
            elif isinstance(event, TextDelta):
                if reset is None:
                    last = now
                else:
                    assert last is not None and stream.model == FALLBACK
                    return now - last
    raise AssertionError("the answer did not restart")


async def fresh(engine: Engine) -> float:
    """Seconds from a call to the fallback model to its first token."""
    started = time.perf_counter()
    async with engine.astream(messages=USER, model=FALLBACK, extra_headers=HEADERS) as stream:
        async for _ in stream:
            return time.perf_counter() - started
    raise AssertionError("no token")


def ms(values: list[float], q: float) -> float:
    value = percentile(values, q)
    return float("nan") if value is None else value * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("firsttoken").setLevel(logging.ERROR)
    profiles = {"chat": {"model": PRIMARY, "max_tokens": 64, "fallbacks": [FALLBACK]}}
    gaps: list[float] = []
    baseline: list[float] = []
    with Emulator(time_scale=1.0, seed=7) as emu:
        emu.set_faults([f"midstream_overloaded@{PRIMARY}"])
        settings = Settings.from_mapping(
            {"base_url": emu.base_url, "profiles": profiles, "advisor": False, "breaker_failures": 1_000_000}
        )
        async with Engine(settings) as engine:
            await fresh(engine)  # the connection opened, for both sides alike
            for _ in range(args.rounds):
                gaps.append(await restarted(engine))
                baseline.append(await fresh(engine))
    print(f"{args.rounds} rounds, emulator time-scale 1; primary {PRIMARY}, fallback {FALLBACK}\n")
    print("| measure | p50 ms | p95 ms |")
    print("|---|---|---|")
    print(f"| overload -> fallback's first token (restart) | {ms(gaps, 50):.0f} | {ms(gaps, 95):.0f} |")
    print(
        f"| fallback's own TTFT (a fresh call, baseline) | {ms(baseline, 50):.0f} | {ms(baseline, 95):.0f} |"
    )
    print(f"| ratio | {ms(gaps, 50) / ms(baseline, 50):.2f}x | {ms(gaps, 95) / ms(baseline, 95):.2f}x |")


if __name__ == "__main__":
    asyncio.run(main())
