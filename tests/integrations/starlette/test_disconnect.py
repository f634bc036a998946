"""A browser that goes away stops the model at once, and 200 of them leak nothing.

The client is a raw socket so that "going away" is exactly a closed TCP connection, as when a tab
closes; the server is the test app under uvicorn, the upstream a time-scale-1 emulator whose
counters say whether it kept generating for nobody.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server

# Long enough (2,000 tokens, over 13 s on haiku) that every drop lands mid-answer.
BODY = json.dumps(
    {"messages": [{"role": "user", "content": "Tell me everything."}], "max_tokens": 4000}
).encode()
REQUEST = (
    b"POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"x-emulator-output-tokens: 2000\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


async def drop_after_first_token(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(REQUEST)
        seen = b""
        while b"event: token" not in seen:
            chunk = await asyncio.wait_for(reader.read(65536), timeout=30)
            assert chunk, f"the server closed the stream before a token: {seen!r}"
            seen += chunk
    finally:
        writer.close()
        await writer.wait_closed()


async def until(condition: Any, limit: float = 10.0) -> float:
    """Seconds until `condition()` held, polling every millisecond; fails after `limit` seconds."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > limit:
            raise AssertionError(f"condition not met within {limit}s")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


def resources(server: Server) -> dict[str, int]:
    return dict(httpx2.get(server.url + "/debug/resources", timeout=10).json())


@pytest.mark.slow
async def test_a_dropped_client_stops_generation_within_100ms(
    test_server: Server, realtime_emulator: Emulator
) -> None:
    stops = []
    for _ in range(5):
        before = realtime_emulator.stats()
        await drop_after_first_token(test_server.port)
        stops.append(await until(lambda: realtime_emulator.stats()["streams_open"] == 0))
        after = realtime_emulator.stats()
        assert after["client_disconnects"] == before["client_disconnects"] + 1
        # At most the batch in flight when the disconnect landed (haiku: one token per ~7 ms).
        assert after["output_tokens_after_disconnect"] - before["output_tokens_after_disconnect"] <= 2
    # The median, so one scheduling hiccup on a shared machine does not decide the result.
    assert statistics.median(stops) < 0.1, stops
    assert max(stops) < 1.0, stops


async def test_200_dropped_clients_leak_no_task_socket_or_fd(
    test_server: Server, realtime_emulator: Emulator
) -> None:
    port = test_server.port

    async def wave(count: int) -> None:
        await asyncio.gather(*(drop_after_first_token(port) for _ in range(count)))
        await until(lambda: realtime_emulator.stats()["streams_open"] == 0)

    await wave(25)  # warms the pools; what it leaves is the baseline
    baseline = await asyncio.to_thread(resources, test_server)
    before = realtime_emulator.stats()
    for _ in range(7):
        await wave(25)
    await asyncio.sleep(0.3)  # lets the server finish closing the last sockets
    after = await asyncio.to_thread(resources, test_server)
    stats = realtime_emulator.stats()

    assert stats["client_disconnects"] - before["client_disconnects"] == 175
    assert stats["output_tokens_after_disconnect"] - before["output_tokens_after_disconnect"] <= 175
    # 175 leaked streams would show as 175 tasks and 350 sockets; allow a few in passing.
    assert after["tasks"] <= baseline["tasks"] + 2, (baseline, after)
    assert after["tcp"] <= baseline["tcp"] + 5, (baseline, after)
    assert after["fds"] <= baseline["fds"] + 5, (baseline, after)
