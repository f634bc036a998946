"""Prompt caching, side by side in one run on the emulator at time-scale 1 (ratios, not absolutes).

    .venv/bin/python benchmarks/caching.py [--users 8] [--turns 6] [--rounds 3] [--json]

Workload: ROUNDS x USERS concurrent conversations of TURNS streamed turns each, all behind one shared
~6K-token system prompt, on sonnet. Three ways to call:

1. naive: no cache_control at all;
2. automatic: the API's top-level `cache_control` only (automatic caching of each conversation);
3. firsttoken: the `auto` policy (shared-prefix breakpoint + top-level) with the prefix registered
   on the profile and pre-warmed by `engine.awarm()` before users arrive (its cost is counted).

Reported per way: cache read ratio, TTFT p50/p95 (the emulator models uncached prefill at
0.16 ms/token and cached at 1/20 of that), and the estimated input cost with the default pricing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.request
from typing import Any

from _support import emulator_process
from firsttoken import Engine, Profile, Settings
from firsttoken._caching import CostModel
from firsttoken._metrics import percentile

MODEL = "claude-sonnet-5"
SYSTEM = "You are the support assistant of a bookshop; answer from the catalogue policies below. " * 275
ANSWER_TOKENS = 24


async def converse(engine: Engine, user: int, turns: int, extra: dict[str, Any]) -> list[tuple[float, Any]]:
    messages: list[dict[str, Any]] = []
    out = []
    for turn in range(turns):
        messages.append(
            {"role": "user", "content": f"User {user}, question {turn}: is book {user * 31 + turn} in?"}
        )
        async with engine.astream(messages=list(messages), **extra) as stream:
            text = await stream.text()
        out.append((stream.timings.ttft, dict(stream.usage)))
        messages.append({"role": "assistant", "content": text})
    return out


def _reset(base_url: str) -> None:
    request = urllib.request.Request(f"{base_url}/_emulator/reset", method="POST", data=b"")
    urllib.request.urlopen(request).close()


async def run(base_url: str, way: str, users: int, turns: int, rounds: int) -> dict[str, Any]:
    await asyncio.to_thread(_reset, base_url)
    profile: dict[str, Any] = {"model": MODEL, "max_tokens": ANSWER_TOKENS}
    extra: dict[str, Any] = {}
    if way == "firsttoken":
        profile["prefix_system"] = SYSTEM
    else:
        profile["caching"] = "off"
        extra["system"] = SYSTEM
        if way == "automatic":
            extra["cache_control"] = {"type": "ephemeral"}
    costs = CostModel()
    warm_cost = 0.0
    settings = Settings(base_url=base_url, profiles={"chat": Profile(**profile)}, max_retries=0)
    async with Engine(settings) as engine:
        if way == "firsttoken":
            for result in await engine.awarm():
                warm_cost += costs.cost(
                    MODEL,
                    input_tokens=0,
                    read=result.cache_read_input_tokens,
                    write=result.cache_creation_input_tokens,
                    ttl="5m",
                )
        results = []
        for wave in range(rounds):
            # Each round is a new set of users arriving together; the shared prefix is already cached.
            ids = range(wave * users, (wave + 1) * users)
            results += await asyncio.gather(*(converse(engine, u, turns, extra) for u in ids))
        engine.caching.close()  # stop keep-warm before measuring nothing else
    calls = [call for user in results for call in user]
    ttfts = [t for t, _ in calls if t is not None]
    read = sum(u.get("cache_read_input_tokens") or 0 for _, u in calls)
    write = sum(u.get("cache_creation_input_tokens") or 0 for _, u in calls)
    plain = sum(u.get("input_tokens") or 0 for _, u in calls)
    cost = costs.cost(MODEL, input_tokens=plain, read=read, write=write, ttl="5m") + warm_cost
    p50, p95 = percentile(ttfts, 50), percentile(ttfts, 95)
    # A user's first turn is where caching strategies differ most (the rest hit in all but naive).
    first = [user[0][0] for user in results if user[0][0] is not None]
    first_p95 = percentile(first, 95)
    return {
        "way": way,
        "calls": len(calls),
        "cache_read_ratio": round(read / (read + write + plain), 3),
        "ttft_p50_ms": round((p50 or 0) * 1000),
        "ttft_p95_ms": round((p95 or 0) * 1000),
        "first_turn_ttft_p95_ms": round((first_p95 or 0) * 1000),
        "input_cost_usd": round(cost, 5),
    }


async def main_async(users: int, turns: int, rounds: int) -> list[dict[str, Any]]:
    with emulator_process(time_scale=1.0, cpu=0) as base_url:
        return [
            await run(base_url, way, users, turns, rounds) for way in ("naive", "automatic", "firsttoken")
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--turns", type=int, default=6)
    # Three rounds: 144 calls per way, so p95 is not decided by two or three draws.
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(main_async(args.users, args.turns, args.rounds))
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        return
    auto = next(r for r in rows if r["way"] == "automatic")
    print(
        f"{args.rounds} rounds of {args.users} concurrent users x {args.turns} turns, "
        f"~{len(SYSTEM) // 4}-token shared system prompt, {MODEL}"
    )
    head = (
        "way",
        "read ratio",
        "TTFT p50",
        "TTFT p95",
        "turn-1 p95",
        "cost $",
        "p95 vs auto",
        "cost vs auto",
    )
    print("{:<11} {:>10} {:>9} {:>9} {:>10} {:>9} {:>11} {:>12}".format(*head))
    for r in rows:
        print(
            f"{r['way']:<11} {r['cache_read_ratio']:>10.3f} {r['ttft_p50_ms']:>7}ms {r['ttft_p95_ms']:>7}ms "
            f"{r['first_turn_ttft_p95_ms']:>8}ms "
            f"{r['input_cost_usd']:>9.5f} {r['ttft_p95_ms'] / auto['ttft_p95_ms']:>10.2f}x "
            f"{r['input_cost_usd'] / auto['input_cost_usd']:>11.2f}x"
        )


if __name__ == "__main__":
    main()
