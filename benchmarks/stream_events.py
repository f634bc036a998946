"""Relay CPU per stream event with every block kind on the wire, side by side in one run.

    .venv/bin/python benchmarks/stream_events.py [--json] [--rounds N]

1. A text-only stream through `Relay` (SSE and AI SDK formats) as it is now, against the relay of
   before (text and pings only: every other event dropped, no typed reader), interleaved.
2. A thinking + tool stream (summarized adaptive thinking, a tool call with eager input
   streaming) through the same relay: the cost per event when every event is put on the wire.

CPU is the consuming thread's own (`time.thread_time`); the emulator runs in its own process.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from _support import emulator_process
from firsttoken import Engine, Relay, Settings

MESSAGES = [{"role": "user", "content": "Write a long explanation of streaming."}]
TOOL_MESSAGES = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
WEATHER = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "notes": {"type": "string"}},
        "required": ["location", "notes"],
    },
    "eager_input_streaming": True,
}


class TextOnlyRelay(Relay):
    """The relay before typed events: text and heartbeats on the wire, every other event dropped."""

    def _encode(self, stream: Any, name: str, data: Any) -> bytes:
        if name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                return self.format.token(delta["text"])
        elif name == "ping":
            return self.format.heartbeat()
        return b""


def _run(relay: Relay) -> int:
    assert relay.open().ok
    n = 0
    for _ in relay:
        n += 1
    stream = relay.stream
    assert stream is not None
    # Events read from upstream, not chunks written: the unit the relay's cost is per.
    return max(n, int(stream.usage.get("output_tokens") or 0))


def relay_cpu(base_url: str, rounds: int, tokens: int) -> dict[str, Any]:
    engine = Engine(Settings(base_url=base_url))
    long = {"x-emulator-output-tokens": str(tokens)}
    text_call = {"messages": MESSAGES, "max_tokens": tokens, "extra_headers": long}
    blocks_call = {
        "messages": TOOL_MESSAGES,
        "max_tokens": tokens,
        "tools": [WEATHER],
        "thinking": "adaptive",
        "thinking_display": "summarized",
        "extra_headers": long,
    }
    cases: dict[str, Callable[[], int]] = {
        "text_sse_before": lambda: _run(TextOnlyRelay(engine, format="sse", **text_call)),
        "text_sse_now": lambda: _run(Relay(engine, format="sse", **text_call)),
        "text_aisdk_before": lambda: _run(TextOnlyRelay(engine, format="ai-sdk", **text_call)),
        "text_aisdk_now": lambda: _run(Relay(engine, format="ai-sdk", **text_call)),
        "thinking_tool_sse": lambda: _run(Relay(engine, format="sse", **blocks_call)),
        "thinking_tool_aisdk": lambda: _run(Relay(engine, format="ai-sdk", **blocks_call)),
    }
    events: dict[str, int] = {}
    for name, run in cases.items():
        events[name] = run()  # warm up: connection, imports, caches
    per_event: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():  # interleaved, so drift hits every case alike
            gc.collect()
            started = time.thread_time()
            n = run()
            per_event[name].append((time.thread_time() - started) / n * 1e6)
    engine.close()
    result: dict[str, Any] = {name: round(statistics.median(v), 2) for name, v in per_event.items()}
    result["events"] = events
    result["text_sse_now_vs_before"] = round(result["text_sse_now"] / result["text_sse_before"], 3)
    result["text_aisdk_now_vs_before"] = round(result["text_aisdk_now"] / result["text_aisdk_before"], 3)
    result["thinking_tool_sse_vs_text"] = round(result["thinking_tool_sse"] / result["text_sse_now"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--tokens", type=int, default=4000)
    args = parser.parse_args()
    with emulator_process(time_scale=0.0, cpu=1) as base_url:
        result = relay_cpu(base_url, args.rounds, args.tokens)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
