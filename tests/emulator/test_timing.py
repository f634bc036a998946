"""Real-time (time-scale 1) check that the timing model delivers the configured figures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken.testing.emulator import Emulator, EmulatorProcess
from firsttoken.testing.emulator.config import DEFAULT_TIMINGS

pytestmark = pytest.mark.slow

FAMILIES = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5", "opus": "claude-opus-5"}
BIG_SYSTEM = "word " * 8000  # 40,000 chars = 10,000 tokens


async def _stream(
    port: int, body: dict[str, Any], headers: str = "", delay: float = 0.0
) -> tuple[float, list[float]]:
    """Time to the first text delta and the arrival time of every delta, over a raw socket."""
    # Staggered starts keep the server's per-request work from queueing into the measured TTFT.
    await asyncio.sleep(delay)
    payload = json.dumps({**body, "stream": True}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    writer.write(
        b"POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: t\r\ncontent-type: application/json\r\n"
        + headers.encode()
        + b"content-length: %d\r\n\r\n" % len(payload)
        + payload
    )
    arrivals: list[float] = []
    buffer = b""
    try:
        while not buffer.endswith(b"\r\n0\r\n\r\n"):
            chunk = await reader.read(65536)
            if not chunk:
                break
            now = time.perf_counter() - start
            arrivals += [now] * chunk.count(b"event: content_block_delta")
            buffer = buffer[-8:] + chunk
    finally:
        writer.close()
        await writer.wait_closed()
    return arrivals[0], arrivals


@contextlib.contextmanager
def _emulator_process(seed: int) -> Iterator[int]:
    """The emulator in its own process, so the measuring client does not share its GIL."""
    # A near-zero-latency family measures the harness's own delay on a loaded machine.
    calibration = ("--model-profile", "calibration:0.001,0.001,100000,1024")
    with EmulatorProcess(time_scale=1, seed=seed, extra=calibration) as emulator:
        yield int(emulator.base_url.rsplit(":", 1)[1])


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ask(model: str, text: str, max_tokens: int = 1) -> dict[str, Any]:
    return {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}


def test_ttft_and_tokens_per_second_match_the_profiles() -> None:
    with _emulator_process(seed=1) as port:

        async def measure() -> dict[str, Any]:
            results: dict[str, Any] = {}
            for family, model in FAMILIES.items():
                # Calibration requests interleave with the measured ones so both see the same load.
                ttft_jobs = [_stream(port, _ask(model, f"q{i}"), delay=i * 0.01) for i in range(200)]
                calibration = [
                    _stream(port, _ask("claude-calibration", f"c{i}"), delay=i * 0.01 + 0.005)
                    for i in range(200)
                ]
                tps_jobs = [
                    _stream(
                        port, _ask(model, f"r{i}", 60), "x-emulator-output-tokens: 60\r\n", delay=i * 0.01
                    )
                    for i in range(10)
                ]
                measured = await asyncio.gather(*ttft_jobs, *calibration)
                ttfts = [t for t, _ in measured[:200]]
                overhead = statistics.median(t for t, _ in measured[200:])
                rates = [(len(a) - 1) / (a[-1] - a[0]) for _, a in await asyncio.gather(*tps_jobs)]
                results[family] = (
                    statistics.median(ttfts) - overhead,
                    _quantile(ttfts, 0.95) - overhead,
                    statistics.median(rates),
                    overhead,
                )
            return results

        results = asyncio.run(measure())
    for family, (p50, p95, tps, _) in results.items():
        timing = DEFAULT_TIMINGS[family]
        assert p50 == pytest.approx(timing.ttft_p50_ms / 1000, rel=0.2), (family, results)
        assert p95 == pytest.approx(timing.ttft_p95_ms / 1000, rel=0.2), (family, results)
        assert tps == pytest.approx(timing.tokens_per_second, rel=0.2), (family, results)


def test_cached_prompt_cuts_ttft_of_a_10k_prompt() -> None:
    with Emulator(time_scale=1.0, seed=2) as emu:

        def body(i: int) -> dict[str, Any]:
            system = [{"type": "text", "text": f"{i} " + BIG_SYSTEM, "cache_control": {"type": "ephemeral"}}]
            return {
                "model": "claude-sonnet-5",
                "max_tokens": 1,
                "system": system,
                "messages": [{"role": "user", "content": "hi"}],
            }

        async def measure() -> tuple[list[float], list[float]]:
            cold = [
                t
                for t, _ in await asyncio.gather(
                    *(_stream(emu.port, body(i), delay=i * 0.01) for i in range(20))
                )
            ]
            warm = [
                t
                for t, _ in await asyncio.gather(
                    *(_stream(emu.port, body(i), delay=i * 0.01) for i in range(20))
                )
            ]
            return cold, warm

        cold, warm = asyncio.run(measure())
        assert emu.stats()["cache_read_input_tokens"] >= 20 * 10_000
    assert statistics.median(cold) == pytest.approx(2.0, rel=0.2)
    assert statistics.median(warm) == pytest.approx(0.5, rel=0.2)
