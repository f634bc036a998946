"""Identical requests in flight together draw their latency each on its own (`copies.py`); the
same request sent again afterwards repeats its draw. Hedging relies on the first, every repeatable
test on the second."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator
from tests.upstream import recorded

MODEL = "claude-sonnet-5"
BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Explain prompt caching to a new colleague."}],
}


@pytest.fixture
def real_time() -> Iterator[Emulator]:
    # Time-scale 1, so a draw is a wait in seconds: the streams below are closed long before it.
    with Emulator(time_scale=1.0, seed=3) as emulator:
        yield emulator


async def test_a_copy_in_flight_draws_its_own_wait_and_a_later_repeat_the_first(real_time: Emulator) -> None:
    async with anthropic.AsyncAnthropic(base_url=real_time.base_url, api_key="test", max_retries=0) as client:
        # Both opened (headers and message_start read) before either has a token: two in flight.
        async with client.messages.stream(**BODY), client.messages.stream(**BODY):
            pass
        first, second = sorted(await recorded(real_time, 2), key=lambda r: r["copy"])
        async with client.messages.stream(**BODY):
            pass
        again = (await recorded(real_time, 3))[-1]
    assert (first["copy"], second["copy"], again["copy"]) == (0, 1, 0)
    assert first["ttft_ms"] != second["ttft_ms"]
    assert again["ttft_ms"] == first["ttft_ms"]
    assert len(real_time.app.copies) == 0


async def test_copies_of_different_requests_do_not_count_as_copies(real_time: Emulator) -> None:
    other = {**BODY, "messages": [{"role": "user", "content": "What is a common mistake with DNS?"}]}
    async with (
        anthropic.AsyncAnthropic(base_url=real_time.base_url, api_key="test", max_retries=0) as client,
        client.messages.stream(**BODY),
        client.messages.stream(**other),
    ):
        pass
    assert [r["copy"] for r in await recorded(real_time, 2)] == [0, 0]
