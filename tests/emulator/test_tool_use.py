"""The emulated model's client tool calls, through the real SDK: which tools it calls (every one
asked for, in one answer), with what input, the API's shapes (`tool_use` blocks with `toolu_`
ids, `stop_reason` "tool_use"), input held back without eager input streaming, and the answer
after the client's `tool_result` blocks."""

from __future__ import annotations

import re
import time

import anthropic

from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5-5"
CLOCK = {
    "name": "clock",
    "description": "The current time in ISO 8601.",
    "input_schema": {"type": "object", "properties": {"timezone": {"type": "string"}}},
}
CALCULATE = {
    "name": "calculate",
    "description": "Evaluate arithmetic.",
    "input_schema": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}


def test_every_tool_asked_for_is_called_in_one_answer(client: anthropic.Anthropic) -> None:
    question = [{"role": "user", "content": "What time is it in Paris, and what is 2*(3+4)?"}]
    message = client.messages.create(
        model=MODEL,
        max_tokens=512,
        messages=question,
        tools=[CLOCK, CALCULATE],  # type: ignore[list-item]
    )
    assert message.stop_reason == "tool_use"
    text, *uses = message.content
    assert text.type == "text" and text.text == "I'll use the clock and calculate tools for this."
    assert [(u.type, u.name, u.input) for u in uses] == [  # type: ignore[union-attr]
        ("tool_use", "clock", {"timezone": "Europe/Paris"}),
        ("tool_use", "calculate", {"expression": "2*(3+4)"}),
    ]
    assert all(re.fullmatch(r"toolu_01[A-Za-z0-9]{22}", u.id) for u in uses)  # type: ignore[union-attr]

    # The results back: an answer that uses them, and no further call.
    results = [
        {"type": "tool_result", "tool_use_id": uses[0].id, "content": "2026-11-30T21:00:00+01:00"},  # type: ignore[union-attr]
        {"type": "tool_result", "tool_use_id": uses[1].id, "content": "boom", "is_error": True},  # type: ignore[union-attr]
    ]
    follow = [
        *question,
        {"role": "assistant", "content": message.content},
        {"role": "user", "content": results},
    ]
    answer = client.messages.create(model=MODEL, max_tokens=512, messages=follow, tools=[CLOCK, CALCULATE])  # type: ignore[arg-type,list-item]
    assert answer.stop_reason == "end_turn" and answer.content[0].type == "text"
    assert answer.content[0].text.startswith(
        "The clock tool says 2026-11-30T21:00:00+01:00. The calculate tool failed (boom)."
    )


def test_a_call_written_out_gives_its_input_and_parallel_use_can_be_turned_off(
    client: anthropic.Anthropic,
) -> None:
    text = 'Run calculate({"expression": "1+1"}) and clock({}) please.'
    message = client.messages.create(
        model=MODEL,
        max_tokens=512,
        messages=[{"role": "user", "content": text}],
        tools=[CLOCK, CALCULATE],  # type: ignore[list-item]
    )
    uses = [b for b in message.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [("calculate", {"expression": "1+1"}), ("clock", {})]
    single = client.messages.create(
        model=MODEL,
        max_tokens=512,
        messages=[{"role": "user", "content": text}],
        tools=[CLOCK, CALCULATE],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [b.name for b in single.content if b.type == "tool_use"] == ["calculate"]


def test_without_eager_input_streaming_the_input_arrives_at_once() -> None:
    long_input = {**CALCULATE, "name": "calc"}
    text = 'Run calc({"expression": "1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17+18+19+20"})'
    with (
        Emulator(time_scale=1.0, seed=0) as emulator,
        anthropic.Anthropic(base_url=emulator.base_url, api_key="test", max_retries=0) as client,
    ):
        spans = {}
        for eager in (True, False):
            tool = {**long_input, "eager_input_streaming": eager}
            arrivals = []
            with client.messages.stream(
                model=MODEL,
                max_tokens=512,
                messages=[{"role": "user", "content": text}],
                tools=[tool],  # type: ignore[list-item]
            ) as stream:
                for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                        arrivals.append(time.perf_counter())
            assert len(arrivals) > 5
            spans[eager] = arrivals[-1] - arrivals[0]
    # Fragments as written (tens of ms apart), against all of them at the end of the block.
    assert spans[True] > 0.04 and spans[False] < spans[True] / 4, spans
