"""Fallbacks and cooldowns under an overloaded primary: success rate and TTFT, with and without.

One emulator at time-scale 1 (the Anthropic Performance Tuning guide's latency table); the primary model
answers 529 overloaded at 0%, 20% and 50% of arrivals. "without" is a plain profile (the SDK's own retries
only); "with" adds firsttoken's fallback model and cooldown. The goal: 100% success, and p95 TTFT no worse
than twice the fallback model's own p95 (measured in the same run, no faults).

    .venv/bin/python benchmarks/resilience.py [--requests 150] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from dataclasses import dataclass

import anthropic

from firsttoken import Engine, Settings, UpstreamFailure
from firsttoken._metrics import percentile
from firsttoken.testing.emulator import Emulator

PRIMARY = "claude-sonnet-5-5"
# A model of the same tier, as a fallback usually is: an older Sonnet (the emulator times it as one).
FALLBACK = "claude-sonnet-4-6"
USER = [{"role": "user", "content": "Explain why streaming makes a chat feel fast."}]
# Short answers: TTFT is the point, and the run stays within a few minutes.
HEADERS = {"x-emulator-output-tokens": "12"}


@dataclass
class Run:
    name: str
    ok: int
    failed: int
    ttfts: list[float]
    fallbacks: int
    retries: int
    seconds: float

    @property
    def success(self) -> float:
        return self.ok / (self.ok + self.failed)

    def p(self, q: float) -> float:
        value = percentile(self.ttfts, q)
        return float("nan") if value is None else value * 1000


async def run(
    emu: Emulator, name: str, *, model: str, fallbacks: list[str], fault_rate: float, n: int, conc: int
) -> Run:
    emu.reset()
    emu.set_faults([f"overloaded:{fault_rate}@{PRIMARY}"] if fault_rate else [])
    profiles = {"chat": {"model": model, "max_tokens": 64, "fallbacks": fallbacks}}
    settings = Settings.from_mapping({"base_url": emu.base_url, "profiles": profiles, "advisor": False})
    ttfts: list[float] = []
    ok = failed = fallbacks_taken = retries = 0
    limit = asyncio.Semaphore(conc)

    async def one() -> None:
        nonlocal ok, failed, fallbacks_taken, retries
        async with limit:
            try:
                async with engine.astream(messages=USER, extra_headers=HEADERS) as s:
                    await s.text()
            except (anthropic.APIError, UpstreamFailure):
                failed += 1
                return
            ok += 1
            if s.timings.ttft is not None:
                ttfts.append(s.timings.ttft)
            fallbacks_taken += s.timings.fallbacks
            retries += s.timings.retries

    started = time.perf_counter()
    async with Engine(settings) as engine:
        await asyncio.gather(*(one() for _ in range(n)))
    return Run(name, ok, failed, ttfts, fallbacks_taken, retries, time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    logging.getLogger("firsttoken").setLevel(logging.ERROR)
    n, conc = args.requests, args.concurrency
    with Emulator(time_scale=1.0, seed=42) as emu:
        base = await run(
            emu, "fallback model alone", model=FALLBACK, fallbacks=[], fault_rate=0, n=n, conc=conc
        )
        rows = [base]
        for rate in (0.0, 0.2, 0.5):
            for label, chain in (("without", []), ("with", [FALLBACK])):
                rows.append(
                    await run(
                        emu,
                        f"{rate:.0%} overloaded, {label}",
                        model=PRIMARY,
                        fallbacks=chain,
                        fault_rate=rate,
                        n=n,
                        conc=conc,
                    )
                )
    target = 2 * base.p(95)
    print(f"{n} streamed requests per row, {conc} at a time; emulator time-scale 1")
    print(f"primary {PRIMARY}, fallback {FALLBACK}")
    print(f"goal: 100% success and p95 TTFT <= 2 x fallback's own p95 = {target:.0f} ms\n")
    columns = ["run", "success", "TTFT p50 ms", "TTFT p95 ms", "p95 / fallback p95", "fallbacks"]
    columns += ["SDK retries", "wall s"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.name} | {r.success:.1%} | {r.p(50):.0f} | {r.p(95):.0f} | {r.p(95) / base.p(95):.2f}x "
            f"| {r.fallbacks} | {r.retries} | {r.seconds:.1f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
