"""Core engine benchmarks, each side by side with its baseline in one run (ratios, not absolute times).

    .venv/bin/python benchmarks/core_engine.py [--json]

1. relay CPU per stream event: our TextStream vs the SDK's `messages.stream()` helper and its raw
   event iterator, over real HTTP; CPU is the consuming thread's own (`time.thread_time`).
2. TTFT the engine adds over a raw SDK streaming call, at 1 and 64 concurrent streams.
3. a client per request (the "BAD" of the Anthropic Performance Tuning guide's step 4, one shared
   client) vs the shared client: TTFT and open file descriptors.
4. `agather` of three independent calls vs awaiting them one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import anthropic

from _support import emulator_process
from firsttoken import Engine, Settings
from firsttoken._metrics import percentile

KEY = "bench"
MESSAGES = [{"role": "user", "content": "Write a long explanation of streaming."}]


def relay_cpu(base_url: str, rounds: int = 5, max_tokens: int = 4000) -> dict[str, Any]:
    engine = Engine(Settings(base_url=base_url))
    client = engine.client
    model = engine.profile("chat").model
    # Long answers, so the per-request set-up is spread thin and per-event cost is what shows.
    long = {"x-emulator-output-tokens": str(max_tokens)}
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": MESSAGES,
        "extra_headers": long,
    }

    def helper() -> int:
        n = 0
        with client.messages.stream(**params) as stream:
            for _ in stream:
                n += 1
            stream.get_final_message()
        return n

    def raw_iterator() -> int:
        n = 0
        for _ in client.messages.create(stream=True, **params):
            n += 1
        return n

    def ours() -> int:
        n = 0
        with engine.stream(messages=MESSAGES, max_tokens=max_tokens, extra_headers=long) as stream:
            for _ in stream.events():
                n += 1
        assert stream.usage["output_tokens"] and stream.stop_reason
        return n

    cases: dict[str, Callable[[], int]] = {
        "sdk_stream_helper": helper,
        "sdk_raw_iterator": raw_iterator,
        "firsttoken": ours,
    }
    for run in cases.values():
        run()  # warm up: connection, imports, caches
    per_event: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():  # interleaved, so drift hits every case alike
            gc.collect()
            started = time.thread_time()
            events = run()
            per_event[name].append((time.thread_time() - started) / events * 1e6)
    engine.close()
    result = {name: round(statistics.median(v), 2) for name, v in per_event.items()}
    result["firsttoken_vs_helper"] = round(result["firsttoken"] / result["sdk_stream_helper"], 3)
    return result


async def _first_text_raw(client: anthropic.AsyncAnthropic, model: str) -> float:
    started = time.perf_counter()
    stream = await client.messages.create(model=model, max_tokens=64, messages=MESSAGES, stream=True)
    ttft = float("nan")
    async for event in stream:
        if event.type == "content_block_delta" and ttft != ttft:
            ttft = time.perf_counter() - started
    return ttft


async def _first_text_engine(engine: Engine) -> float:
    started = time.perf_counter()
    ttft = float("nan")
    async with engine.astream(messages=MESSAGES, max_tokens=64) as stream:
        async for _ in stream:
            if ttft != ttft:
                ttft = time.perf_counter() - started
    return ttft


async def ttft_added(base_url: str, concurrency: int, rounds: int = 6) -> dict[str, Any]:
    engine = Engine(Settings(base_url=base_url))
    raw = anthropic.AsyncAnthropic(base_url=base_url, api_key=KEY)
    model = engine.profile("chat").model
    samples: dict[str, list[float]] = {"raw_sdk": [], "firsttoken": []}
    await _first_text_raw(raw, model)
    await _first_text_engine(engine)
    for _ in range(rounds):
        for name in samples:  # interleaved rounds of `concurrency` simultaneous streams each
            if name == "raw_sdk":
                batch = await asyncio.gather(*(_first_text_raw(raw, model) for _ in range(concurrency)))
            else:
                batch = await asyncio.gather(*(_first_text_engine(engine) for _ in range(concurrency)))
            samples[name].extend(batch)
    await raw.close()
    await engine.aclose()

    def ms(values: list[float], q: float) -> float:
        return round((percentile(values, q) or 0.0) * 1000, 3)

    return {
        "concurrency": concurrency,
        "raw_p50_ms": ms(samples["raw_sdk"], 50),
        "firsttoken_p50_ms": ms(samples["firsttoken"], 50),
        "added_p50_ms": round(ms(samples["firsttoken"], 50) - ms(samples["raw_sdk"], 50), 3),
        "raw_p99_ms": ms(samples["raw_sdk"], 99),
        "firsttoken_p99_ms": ms(samples["firsttoken"], 99),
    }


def client_per_request(base_url: str, requests: int = 500) -> dict[str, Any]:
    def open_fds() -> int:
        return len(os.listdir(f"/proc/{os.getpid()}/fd"))

    def first_text(client: anthropic.Anthropic) -> float:
        started = time.perf_counter()
        for event in client.messages.create(
            model="claude-haiku-5-5", max_tokens=8, messages=MESSAGES, stream=True
        ):
            if event.type == "content_block_delta":
                return time.perf_counter() - started
        return float("nan")

    result: dict[str, Any] = {"requests": requests}
    gc.collect()
    base_fds = open_fds()
    peak = base_fds
    ttfts = []
    for _ in range(requests):
        # The Anthropic Performance Tuning guide's "DON'T".
        client = anthropic.Anthropic(base_url=base_url, api_key=KEY)
        ttfts.append(first_text(client))
        peak = max(peak, open_fds())
    result["per_request_ttft_p50_ms"] = round(statistics.median(ttfts) * 1000, 3)
    result["per_request_peak_extra_fds"] = peak - base_fds
    gc.collect()
    engine = Engine(Settings(base_url=base_url))
    base_fds = open_fds()
    peak = base_fds
    ttfts = []
    for _ in range(requests):
        ttfts.append(first_text(engine.client))
        peak = max(peak, open_fds())
    engine.close()
    result["shared_ttft_p50_ms"] = round(statistics.median(ttfts) * 1000, 3)
    result["shared_peak_extra_fds"] = peak - base_fds
    result["ttft_ratio_per_request_vs_shared"] = round(
        result["per_request_ttft_p50_ms"] / result["shared_ttft_p50_ms"], 2
    )
    return result


async def gather_vs_sequential(base_url: str, rounds: int = 3) -> dict[str, Any]:
    text = "firsttoken relays Claude's answers to Django, Flask and Starlette users in Paris."
    calls: list[dict[str, Any]] = [
        {
            "messages": [{"role": "user", "content": f"Summarize: {text}"}],
            "profile": "fast",
            "max_tokens": 60,
        },
        {"messages": [{"role": "user", "content": f"Sentiment: {text}"}], "profile": "fast", "max_tokens": 5},
        {"messages": [{"role": "user", "content": f"Entities: {text}"}], "profile": "fast", "max_tokens": 40},
    ]
    engine = Engine(Settings(base_url=base_url))
    await engine.acreate(**calls[1])
    sequential, parallel = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for call in calls:
            await engine.acreate(**call)
        sequential.append(time.perf_counter() - started)
        started = time.perf_counter()
        results = await engine.agather(calls)
        parallel.append(time.perf_counter() - started)
        assert not any(isinstance(r, BaseException) for r in results)
    await engine.aclose()
    seq, par = statistics.median(sequential), statistics.median(parallel)
    return {"sequential_s": round(seq, 3), "agather_s": round(par, 3), "speedup": round(seq / par, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with emulator_process(time_scale=0.0, cpu=1) as base_url:
        results["relay_cpu_us_per_event"] = relay_cpu(base_url)
        results["ttft_added"] = [asyncio.run(ttft_added(base_url, c)) for c in (1, 64)]
        results["client_per_request_vs_shared"] = client_per_request(base_url)
    with emulator_process(time_scale=1.0) as base_url:
        results["agather_vs_sequential"] = asyncio.run(gather_vs_sequential(base_url))
    print(json.dumps(results, indent=2 if not args.json else None))


if __name__ == "__main__":
    main()
