"""Hedged first tokens: TTFT p50/p99, extra requests and extra cost, beside the same calls unhedged.

Two emulators (each its own process, the same seed) at time-scale 1 with the seed's latency table
(Sonnet: p50 400 ms, p95 1,200 ms, a lognormal), and two engines side by side in one event loop,
each on its own emulator, sending the same prompts in the same order at the same time, so a prompt
draws the same TTFT on both. A hedge is an identical request in flight beside its original, which
the emulator gives a draw of its own (`copies.py`), as the API gives every request its own wait.
The engines: "plain" (the examples' `chat` profile) and "hedged"
(the same, plus `hedge_after: p90`, `hedge_share: 0.10`: the issue's own worked example hedges
at the p90, which asks for about 10% of calls on the lognormal alone, and the share caps the
hedges at 10% whatever the phase; the 2% stalled requests of the second phase are late past the
p90 too, so they take their hedges out of that same share). The
prompts are the examples' kind: one short user question each, all different (answers cut to 32
tokens: see ANSWER). Three phases:

1. the plain lognormal draws, no fault;
2. the emulator's `slow` fault on 2% of arrivals (that request's TTFT ten times its draw);
3. 529s on 5% of arrivals: the hedged engine must send no hedge at all.

Each engine first sends `--warm` calls (not counted) so the hedged one's TTFT window can tell its p90.

    .venv/bin/python benchmarks/hedging.py [--requests 1000] [--concurrency 16] [--warm 64]
        [--hedge-after p90] [--hedge-share 0.10] [--seed 0]     # about 4 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import httpx

from _support import emulator_process
from firsttoken import Engine, Settings
from firsttoken._metrics import percentile
from firsttoken._pricing import OUTPUT_MULTIPLIER, READ_MULTIPLIER, WRITE_MULTIPLIER, CostModel

MODEL = "claude-sonnet-5-5"
# Answers of 32 tokens: the emulator's natural ones (90 to 240 tokens for these questions) would
# keep four times as many streams open on a shared two-core machine, and the TTFT measured would
# be the client's CPU queue. Shorter answers cost less, so the extra cost measured is an upper
# bound of what the examples' full answers would show.
ANSWER = {"x-emulator-output-tokens": "32"}
TOPICS = [
    "streaming responses",
    "prompt caching",
    "a Python list comprehension",
    "HTTP keep-alive",
    "database indexes",
    "the CAP theorem",
    "unit tests",
    "rate limits",
    "TLS handshakes",
    "garbage collection",
    "event loops",
    "DNS",
]
ASKS = [
    "Explain {t} to a new colleague.",
    "What is a common mistake with {t}?",
    "Give me two tips about {t}.",
    "Why does {t} matter for a web app?",
]


def prompt(i: int) -> list[dict[str, str]]:
    ask = ASKS[i % len(ASKS)].format(t=TOPICS[(i // len(ASKS)) % len(TOPICS)])
    # Every call a different question, as the examples' users send: each its own TTFT draw.
    return [{"role": "user", "content": f"{ask} (question {i})"}]


def engine(base_url: str, **hedging: Any) -> Engine:
    chat = {"model": MODEL, "max_tokens": 1024, **hedging}
    return Engine(Settings.from_mapping({"base_url": base_url, "advisor": False, "profiles": {"chat": chat}}))


async def one(eng: Engine, i: int, ttfts: list[float]) -> None:
    try:
        async with eng.astream(messages=prompt(i), extra_headers=ANSWER) as s:
            await s.text()
    except anthropic.APIError:
        # Three 529s in a row (the SDK's two retries spent) fail a call: the window counts it.
        return
    if s.timings.ttft is not None:
        ttfts.append(s.timings.ttft)


async def arms(
    engines: tuple[Engine, Engine], first: int, n: int, conc: int
) -> tuple[list[float], list[float]]:
    """Each engine sends calls `first` to `first + n`, `conc` at a time, side by side; their TTFTs."""
    ttfts: tuple[list[float], list[float]] = ([], [])
    limits = (asyncio.Semaphore(conc), asyncio.Semaphore(conc))

    async def limited(side: int, i: int) -> None:
        async with limits[side]:
            await one(engines[side], i, ttfts[side])

    # The same prompt to both at once, each going first every other time: in one event loop the
    # one scheduled first reads its token first, and neither engine may have that edge throughout.
    order = [(side if i % 2 else 1 - side, first + i) for i in range(n) for side in (0, 1)]
    await asyncio.gather(*(limited(side, i) for side, i in order))
    return ttfts


def totals(eng: Engine) -> dict[str, Any]:
    return dict(eng.metrics.snapshot()["total"])


def cost(window: dict[str, Any]) -> float:
    price = CostModel().price(MODEL)
    return price * (
        window["input_tokens"]
        + window["cache_read_input_tokens"] * READ_MULTIPLIER
        + window["cache_creation_input_tokens"] * WRITE_MULTIPLIER["5m"]
        + window["output_tokens"] * OUTPUT_MULTIPLIER
    )


def delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - before[k] for k in after if isinstance(after[k], int | float) and k in before}


def ms(values: list[float], q: float) -> float:
    value = percentile(values, q)
    return float("nan") if value is None else value * 1000


async def phase(
    faults: Callable[[list[str]], Awaitable[None]],
    name: str,
    specs: list[str],
    plain: Engine,
    hedged: Engine,
    n: int,
    conc: int,
    first: int,
) -> dict[str, Any]:
    await faults(specs)
    before = (totals(plain), totals(hedged))
    started = time.perf_counter()
    base_ttfts, hedged_ttfts = await arms((plain, hedged), first, n, conc)
    seconds = time.perf_counter() - started
    base, hedge = delta(totals(plain), before[0]), delta(totals(hedged), before[1])
    row = {
        "phase": name,
        "calls": n,
        "seconds": round(seconds, 1),
        "plain_p50_ms": round(ms(base_ttfts, 50)),
        "hedged_p50_ms": round(ms(hedged_ttfts, 50)),
        "plain_p99_ms": round(ms(base_ttfts, 99)),
        "hedged_p99_ms": round(ms(hedged_ttfts, 99)),
        "p99_change": round(ms(hedged_ttfts, 99) / ms(base_ttfts, 99) - 1, 3),
        "p50_change": round(ms(hedged_ttfts, 50) / ms(base_ttfts, 50) - 1, 3),
        "hedges": hedge["hedges"],
        "hedges_won": hedge["hedges_won"],
        "extra_requests": round(hedge["hedges"] / hedge["count"], 3),
        "extra_input_tokens": hedge["hedge_input_tokens"],
        "extra_output_tokens": hedge["hedge_output_tokens"],
        "extra_cost": round(hedge["hedge_cost_usd"] / cost(hedge), 4),
        "errors": (base["errors"], hedge["errors"]),
    }
    print(json.dumps(row), flush=True)
    return row


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("firsttoken").setLevel(logging.ERROR)
    seed = ("--seed", str(args.seed))
    with (
        emulator_process(time_scale=1.0, extra=seed) as plain_url,
        emulator_process(time_scale=1.0, extra=seed) as hedged_url,
    ):
        controls = [httpx.AsyncClient(base_url=url) for url in (plain_url, hedged_url)]

        async def faults(specs: list[str]) -> None:
            for control in controls:
                (await control.post("/_emulator/faults", json=specs)).raise_for_status()

        for control in controls:
            (await control.post("/_emulator/reset")).raise_for_status()
        plain = engine(plain_url)
        hedged = engine(hedged_url, hedge_after=args.hedge_after, hedge_share=args.hedge_share)
        async with plain, hedged:
            n, conc, warm = args.requests, args.concurrency, args.warm
            await arms((plain, hedged), 0, warm, conc)
            start = warm
            await phase(faults, "lognormal", [], plain, hedged, n, conc, start)
            await phase(faults, "slow 2%", ["slow:0.02"], plain, hedged, n, conc, start + n)
            # An engine learns of 529s from its own calls: until its first one it cannot know. The
            # phase is measured from there: calls go out until the hedged engine's SDK has retried
            # a 529 (its `retries`), and the hedges of that lead-in are reported beside.
            await faults(["overloaded:0.05"])
            before, lead = totals(hedged)["hedges"], start + 2 * n
            while totals(hedged)["retries"] == 0:
                await arms((plain, hedged), lead, conc, conc)
                lead += conc
            print(
                json.dumps(
                    {
                        "phase": "529 lead-in",
                        "calls": lead - start - 2 * n,
                        "hedges": totals(hedged)["hedges"] - before,
                    }
                )
            )
            await phase(faults, "529 on 5%", ["overloaded:0.05"], plain, hedged, n // 3, conc, lead)
        for control in controls:
            await control.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="calls per engine per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight per engine")
    parser.add_argument("--warm", type=int, default=64, help="calls per engine before the phases")
    parser.add_argument("--hedge-after", default="p90", help="the hedged engine's hedge_after")
    parser.add_argument("--hedge-share", type=float, default=0.10, help="the hedged engine's hedge_share")
    parser.add_argument("--seed", type=int, default=0, help="both emulators' seed: another sample of draws")
    asyncio.run(main(parser.parse_args()))
