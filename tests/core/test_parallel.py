"""Parallel calls (the Anthropic Performance Tuning guide's step 5): wall time near the slowest call, results
in order, failures in place."""

from __future__ import annotations

from collections.abc import Iterator
from time import perf_counter
from typing import Any

import anthropic
import pytest

from firsttoken import Engine, Settings
from firsttoken.testing.emulator import Emulator

from .conftest import USER


@pytest.fixture
def realtime_engine(realtime_emulator: Emulator) -> Iterator[Engine]:
    with Engine(Settings(base_url=realtime_emulator.base_url, max_retries=0)) as engine:
        yield engine


CALLS: list[dict[str, Any]] = [
    {
        "messages": [{"role": "user", "content": "Summarize: streaming matters"}],
        "profile": "fast",
        "max_tokens": 60,
    },
    {
        "messages": [{"role": "user", "content": "Sentiment: I love fast pages"}],
        "profile": "fast",
        "max_tokens": 5,
    },
    {
        "messages": [{"role": "user", "content": "Entities: Paris, Claude, Django"}],
        "profile": "fast",
        "max_tokens": 40,
    },
    {"messages": USER, "profile": "chat", "max_tokens": 30},
]


def _durations(engine: Engine) -> list[float]:
    """Each call's own duration, as the engine recorded it: immune to how busy the machine was."""
    durations: list[float] = []
    engine.on_finished.append(lambda call: durations.append(call.record.total))
    return durations


async def test_agather_takes_about_as_long_as_the_slowest_call(realtime_engine: Engine) -> None:
    async def run() -> list[Any]:
        return await realtime_engine.agather(CALLS)

    # warm the loop's client so connection set-up is not part of the comparison
    await realtime_engine.acreate(messages=USER, profile="fast", max_tokens=1)
    durations = _durations(realtime_engine)
    started = perf_counter()
    results = await run()
    wall = perf_counter() - started
    assert all(isinstance(r, anthropic.types.Message) for r in results)
    assert [r.usage.output_tokens <= c["max_tokens"] for r, c in zip(results, CALLS, strict=True)] == [
        True
    ] * 4
    assert wall <= 1.1 * max(durations) + 0.02, (wall, durations)
    assert wall < 0.8 * sum(durations)
    await realtime_engine.aclose()


def test_gather_from_a_worker_thread(realtime_engine: Engine) -> None:
    realtime_engine.create(messages=USER, profile="fast", max_tokens=1)
    durations = _durations(realtime_engine)
    started = perf_counter()
    results = realtime_engine.gather(CALLS)
    wall = perf_counter() - started
    slowest = max(durations)
    assert all(isinstance(r, anthropic.types.Message) for r in results)
    assert [r.model for r in results] == [realtime_engine.profile(c["profile"]).model for c in CALLS]
    assert wall <= 1.1 * slowest + 0.03, (wall, slowest)


def test_one_failure_does_not_lose_the_others(engine: Engine) -> None:
    calls = [dict(c) for c in CALLS]
    calls[1]["extra_headers"] = {"x-emulator-fault": "overloaded"}
    results = engine.gather(calls)
    assert isinstance(results[1], anthropic.OverloadedError)
    assert all(isinstance(r, anthropic.types.Message) for i, r in enumerate(results) if i != 1)


async def test_async_failure_in_place_and_concurrency_limit(engine: Engine) -> None:
    calls = [dict(c) for c in CALLS]
    calls[2]["extra_headers"] = {"x-emulator-fault": "rate_limit"}
    results = await engine.agather(calls, concurrency=2)
    assert isinstance(results[2], anthropic.RateLimitError)
    assert sum(isinstance(r, anthropic.types.Message) for r in results) == 3
    assert await engine.agather([]) == []
    await engine.aclose()
