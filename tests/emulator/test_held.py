"""Each streamed request's log entry says how long the emulator held it (`held_ms`: whole body in
hand to first token out), so a client's TTFT minus it is the time spent outside the emulator:
`benchmarks/ttft_open_streams.py` measures a relay's added TTFT that way, free of the emulator's
own pace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator, ModelTiming
from tests.upstream import recorded

MODEL = "claude-haiku-4-5"
BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Explain prompt caching to a new colleague."}],
}


@pytest.fixture
def paced() -> Iterator[Emulator]:
    # A fixed 50 ms first token, at a pace slow enough that the answer is still open when the
    # client leaves after its first token.
    timing = ModelTiming(ttft_p50_ms=50, ttft_p95_ms=50, tokens_per_second=5)
    with Emulator(time_scale=1.0, timings={"haiku": timing}) as emulator:
        yield emulator


async def test_held_is_the_emulators_share_of_the_clients_ttft(paced: Emulator) -> None:
    async with anthropic.AsyncAnthropic(base_url=paced.base_url, api_key="test", max_retries=0) as client:
        started = time.perf_counter()
        async with client.messages.stream(**BODY) as stream:
            async for event in stream:
                if event.type == "content_block_delta":
                    ttft_ms = (time.perf_counter() - started) * 1000
                    break
        # The client left after its first token, long before the answer's last event.
        entry = (await recorded(paced, 1))[-1]
    assert entry["disconnected"] is True
    assert 50 <= entry["held_ms"] < ttft_ms
    # What is left is the way there and back over loopback, not the emulator's wait.
    assert ttft_ms - entry["held_ms"] < 40


async def test_a_request_without_tokens_has_no_held_time(paced: Emulator) -> None:
    async with anthropic.AsyncAnthropic(base_url=paced.base_url, api_key="test", max_retries=0) as client:
        await client.messages.count_tokens(model=MODEL, messages=BODY["messages"])
        entry = (await recorded(paced, 1))[-1]
    assert "held_ms" not in entry
