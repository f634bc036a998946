"""The lean relay against the SDK's own stream helper: the same message, event for event."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from firsttoken import AsyncTextStream, Engine, Relay, TextStream, UpstreamFailure
from firsttoken.testing.emulator import Emulator

from ..garbage import cyclic_garbage
from .conftest import USER

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "end_turn": {"messages": USER},
    "max_tokens": {"messages": USER, "max_tokens": 7},
    "stop_sequence": {"messages": USER, "stop_sequences": [" the "]},
    "tool_use": {
        "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    },
    "prefill": {
        "messages": [*USER, {"role": "assistant", "content": "In short:"}],
        # Claude 4.6 and newer refuse prefill with a 400, as the emulator does: an older model.
        "model": "claude-haiku-4-5",
    },
    "system_blocks": {
        "messages": USER,
        "system": [{"type": "text", "text": "You are terse. " * 400, "cache_control": {"type": "ephemeral"}}],
    },
}


def _comparable(message: anthropic.types.Message) -> dict[str, Any]:
    data = message.model_dump()
    data.pop("id")  # each request gets a fresh id
    return data


def _sdk_final(engine: Engine, call: dict[str, Any]) -> anthropic.types.Message:
    _, params = engine.prepare(profile="chat", **call)
    params.pop("timeout")
    with engine.client.messages.stream(**params) as stream:
        return stream.get_final_message()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_stream_builds_the_message_the_sdk_builds(engine: Engine, emulator: Emulator, scenario: str) -> None:
    call = SCENARIOS[scenario]
    with engine.stream(profile="chat", **call) as stream:
        text = "".join(stream)
    ours = stream.message
    emulator.reset()  # so the SDK's call meets the same (empty) prompt cache
    sdk = _sdk_final(engine, call)
    assert _comparable(ours) == _comparable(sdk)
    assert text == "".join(b.text for b in ours.content if b.type == "text")
    assert stream.stop_reason == sdk.stop_reason
    assert stream.usage["output_tokens"] == sdk.usage.output_tokens


@pytest.mark.parametrize("scenario", ["end_turn", "tool_use", "max_tokens"])
async def test_async_stream_builds_the_message_the_sdk_builds(engine: Engine, scenario: str) -> None:
    call = SCENARIOS[scenario]
    async with engine.astream(profile="chat", **call) as stream:
        text = "".join([t async for t in stream])
    _, params = engine.prepare(profile="chat", **call)
    params.pop("timeout")
    async with engine.async_client.messages.stream(**params) as sdk_stream:
        sdk = await sdk_stream.get_final_message()
    assert _comparable(stream.message) == _comparable(sdk)
    assert text == "".join(b.text for b in sdk.content if b.type == "text")
    await engine.aclose()


def test_the_message_read_mid_stream_is_the_text_so_far(engine: Engine, emulator: Emulator) -> None:
    # The accumulator joins a block's text deltas when the message is read, not per delta: a read
    # between deltas must see the text so far, and the deltas after it must still land.
    call = SCENARIOS["end_turn"]
    seen: list[str] = []
    with engine.stream(profile="chat", **call) as stream:
        for text in stream:
            seen.append(text)
            if len(seen) % 3 == 1:
                assert "".join(b.get("text", "") for b in stream.blocks) == "".join(seen)
    emulator.reset()
    assert len(seen) > 3
    assert _comparable(stream.message) == _comparable(_sdk_final(engine, call))


def test_stop_reasons_are_the_apis(engine: Engine) -> None:
    expected = {
        "end_turn": "end_turn",
        "max_tokens": "max_tokens",
        "stop_sequence": "stop_sequence",
        "tool_use": "tool_use",
    }
    for scenario, reason in expected.items():
        with engine.stream(**SCENARIOS[scenario]) as stream:
            stream.text()
        assert stream.stop_reason == reason, scenario


def test_timings_and_usage_are_filled(engine: Engine) -> None:
    with engine.stream(messages=USER) as stream:
        text = stream.text()
    t = stream.timings
    assert text
    assert t.upstream is not None and t.ttft is not None and t.total is not None
    assert 0 < t.upstream <= t.ttft <= t.total
    assert t.output_tokens == stream.usage["output_tokens"] > 0
    assert stream.model == engine.settings.profile("chat").model


def test_events_expose_every_raw_event(engine: Engine) -> None:
    with engine.stream(messages=USER) as stream:
        names = [name for name, _ in stream.events()]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert "content_block_delta" in names


def test_an_error_before_the_stream_is_the_sdks_exception(engine: Engine) -> None:
    with pytest.raises(anthropic.OverloadedError):  # noqa: SIM117
        with engine.stream(messages=USER, extra_headers={"x-emulator-fault": "overloaded"}) as stream:
            stream.text()
    with pytest.raises(anthropic.RateLimitError):  # noqa: SIM117
        with engine.stream(messages=USER, extra_headers={"x-emulator-fault": "rate_limit"}) as stream:
            stream.text()


def test_an_error_event_mid_stream_raises_upstream_failure(engine: Engine) -> None:
    received: list[str] = []
    with pytest.raises(UpstreamFailure) as caught:  # noqa: SIM117
        with engine.stream(
            messages=USER, extra_headers={"x-emulator-fault": "midstream_overloaded"}
        ) as stream:
            received.extend(stream)
    assert caught.value.type == "overloaded_error"
    assert received, "the fault comes after some tokens"
    assert engine.metrics.snapshot()["total"]["errors"] == 1


def test_a_cut_connection_raises_upstream_failure(engine: Engine) -> None:
    with pytest.raises(UpstreamFailure) as caught:  # noqa: SIM117
        with engine.stream(messages=USER, extra_headers={"x-emulator-fault": "drop"}) as stream:
            stream.text()
    assert caught.value.type == "api_connection_error"


def test_closing_early_stops_generation_upstream(realtime_emulator: Emulator) -> None:
    from firsttoken import Settings

    realtime_emulator.reset()
    with Engine(Settings(base_url=realtime_emulator.base_url)) as engine:
        with engine.stream(messages=USER, profile="deep", max_tokens=2000) as stream:
            for n, _ in enumerate(stream):
                if n == 5:
                    break
        assert engine.metrics.snapshot()["total"]["count"] == 1
    stats = _settle(realtime_emulator)
    assert stats["streams_open"] == 0
    assert stats["client_disconnects"] == 1
    assert stats["output_tokens_after_disconnect"] <= 2
    assert stats["output_tokens"] < 40


async def test_async_closing_early_stops_generation_upstream(realtime_emulator: Emulator) -> None:
    from firsttoken import Settings

    realtime_emulator.reset()
    engine = Engine(Settings(base_url=realtime_emulator.base_url))
    async with engine, engine.astream(messages=USER, profile="deep", max_tokens=2000) as stream:
        n = 0
        async for _ in stream:
            n += 1
            if n == 5:
                break
    stats = _settle(realtime_emulator)
    assert stats["streams_open"] == 0
    assert stats["output_tokens_after_disconnect"] <= 2


def _settle(emu: Emulator) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 2
    stats = emu.stats()
    while stats["streams_open"] and time.monotonic() < deadline:
        time.sleep(0.01)
        stats = emu.stats()
    return stats


def test_a_finished_stream_is_freed_without_the_garbage_collector(engine: Engine) -> None:
    engine.stream(messages=USER, profile="fast").text()  # warm: the pooled client, first imports
    with cyclic_garbage() as left:
        for _ in range(5):
            with engine.stream(messages=USER, profile="fast") as stream:
                stream.text()
        assert left((TextStream, Relay)) == []


async def test_a_finished_async_stream_is_freed_without_the_garbage_collector(engine: Engine) -> None:
    await engine.astream(messages=USER, profile="fast").text()
    with cyclic_garbage() as left:
        for _ in range(5):
            async with engine.astream(messages=USER, profile="fast") as stream:
                await stream.text()
        assert left((AsyncTextStream, Relay)) == []
