"""Streams: wire-exact events, equality with the non-streamed answer, disconnects."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5"
USER = [{"role": "user", "content": "Explain streaming latency"}]
TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "description": "Current weather",
        "input_schema": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["location", "unit"],
        },
    }
]


def _comparable(msg: anthropic.types.Message) -> dict[str, Any]:
    return {
        "content": [b.model_dump(include={"type", "text", "id", "name", "input"}) for b in msg.content],
        "usage": msg.usage.model_dump(),
        "stop_reason": msg.stop_reason,
        "stop_sequence": msg.stop_sequence,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_tokens": 500},
        {"max_tokens": 9},
        {"max_tokens": 500, "stop_sequences": [" the"]},
        {"max_tokens": 500, "tools": TOOLS, "messages": [{"role": "user", "content": "What's the weather?"}]},
        {"max_tokens": 500, "tools": TOOLS, "tool_choice": {"type": "any"}},
        {"max_tokens": 0},
    ],
    ids=["end_turn", "max_tokens", "stop_sequence", "tool_use_auto", "tool_use_any", "prewarm"],
)
def test_stream_accumulates_to_the_non_streamed_answer(
    client: anthropic.Anthropic, kwargs: dict[str, Any]
) -> None:
    params: dict[str, Any] = {"model": MODEL, "messages": USER, **kwargs}
    plain = client.messages.create(**params)
    with client.messages.stream(**params) as stream:
        streamed = stream.get_final_message()
    assert _comparable(streamed) == _comparable(plain)
    expected = {
        "end_turn": "end_turn",
        "max_tokens": "max_tokens",
    }
    if "stop_sequences" in kwargs:
        assert plain.stop_reason == "stop_sequence"
        assert plain.stop_sequence == " the"
    elif "tools" in kwargs:
        assert plain.stop_reason == "tool_use"
        tool = plain.content[-1]
        assert tool.type == "tool_use"
        assert set(tool.input) == {"location", "unit"}
    elif kwargs["max_tokens"] == 0:
        assert plain.content == []
        assert plain.usage.output_tokens == 0
        assert plain.stop_reason == "max_tokens"
    else:
        assert plain.stop_reason in expected.values()


def test_wire_event_sequence(emu: Emulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    body = json.dumps({"model": MODEL, "max_tokens": 5, "stream": True, "messages": USER})
    conn.request(
        "POST", "/v1/messages", body=body, headers={"x-api-key": "k", "content-type": "application/json"}
    )
    resp = conn.getresponse()
    raw = resp.read().decode()
    conn.close()
    assert resp.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in raw.split("\n\n") if f]
    names = [f.split("\n")[0].removeprefix("event: ") for f in frames]
    assert names == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for frame in frames:
        event_line, data_line = frame.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == event_line.removeprefix("event: ")
    start = json.loads(frames[0].split("\n")[1][6:])
    assert start["message"]["usage"]["output_tokens"] == 1
    assert start["message"]["content"] == []
    delta = json.loads(frames[-2].split("\n")[1][6:])
    assert delta["usage"]["output_tokens"] == 5
    assert {"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"} <= set(delta["usage"])


def test_pings_during_first_token_wait() -> None:
    # A 2 s TTFT at time-scale 0.5 leaves room for a ping every 0.25 s before the first token.
    from firsttoken.testing.emulator import ModelTiming

    slow = ModelTiming(ttft_p50_ms=2000, ttft_p95_ms=2000.001, tokens_per_second=1000)
    with Emulator(time_scale=0.5, timings={"sonnet": slow}) as emu:
        conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
        body = json.dumps({"model": MODEL, "max_tokens": 2, "stream": True, "messages": USER})
        conn.request("POST", "/v1/messages", body=body, headers={"x-api-key": "k"})
        raw = conn.getresponse().read().decode()
        conn.close()
    assert raw.count('event: ping\ndata: {"type":"ping"}\n\n') >= 2
    assert raw.index("event: ping") < raw.index("content_block_delta")


def test_disconnect_stops_generation() -> None:
    with (
        Emulator(time_scale=1.0) as emu,
        anthropic.Anthropic(base_url=emu.base_url, api_key="t", max_retries=0) as c,
    ):
        with c.messages.stream(
            model="claude-haiku-5-5",
            max_tokens=4000,
            messages=USER,
            extra_headers={"x-emulator-output-tokens": "3000"},
        ) as stream:
            deltas = 0
            for event in stream:
                if event.type == "content_block_delta":
                    deltas += 1
                    if deltas == 5:
                        break
        deadline = time.monotonic() + 5
        while emu.stats()["streams_open"] and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # at 150 tok/s a still-running generator would add ~45 tokens here
        stats = emu.stats()
    assert stats["streams_open"] == 0
    assert stats["client_disconnects"] == 1
    assert stats["output_tokens_after_disconnect"] <= 2
    assert stats["output_tokens"] < 100
    assert stats["recent_requests"][-1]["disconnected"] is True
