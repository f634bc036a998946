"""Agent turns in-process: tool schemas from hints and docstrings, the loop over real engine
streams against the emulator, parallel steps, eager starts, max_steps, the prompt cache across
steps, fallbacks on every call, and the tool histogram in the Prometheus scrape."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Literal

import pytest

from firsttoken import (
    Engine,
    Settings,
    SettingsError,
    StepFinish,
    StepStart,
    Tool,
    ToolCall,
    ToolContext,
    ToolOutput,
    tool,
)
from firsttoken.testing.emulator import Emulator

LONG_SYSTEM = "You answer questions about the office. " + " ".join(
    f"Fact {n}: the office is open." for n in range(250)
)


def lookup(
    city: str, unit: Literal["c", "f"] = "c", days: int | None = None, context: ToolContext | None = None
) -> str:
    """The weather in a city.

    Args:
        city: The city's name.
        unit: Celsius or Fahrenheit.
    """
    return city


def test_the_schema_comes_from_hints_and_the_docstring() -> None:
    t = Tool(lookup)
    assert t.description == "The weather in a city."
    assert t.input_schema == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city's name."},
            "unit": {"enum": ["c", "f"], "description": "Celsius or Fahrenheit.", "default": "c"},
            "days": {"type": "integer"},
        },
        "required": ["city"],
    }
    assert t.context == "context" and t.definition()["eager_input_streaming"] is True

    def noted(n: Annotated[float, "how many"]) -> None:
        return None

    assert Tool(noted).input_schema["properties"]["n"] == {"type": "number", "description": "how many"}
    explicit = tool(name="x", input_schema={"type": "object", "properties": {}})(lambda: 1)
    assert explicit.name == "x" and explicit.input_schema == {"type": "object", "properties": {}}


def test_a_bad_tool_fails_at_start_up_naming_the_key() -> None:
    with pytest.raises(SettingsError, match=r"tools.*cannot import"):
        Settings.from_mapping({"profiles": {"chat": {"tools": ["nowhere.at_all:tool"]}}})
    with pytest.raises(SettingsError, match="max_steps"):
        Settings.from_mapping({"profiles": {"chat": {"max_steps": 0}}})


def slow_sync(seconds: float) -> str:
    """Sleep on a thread.

    Args:
        seconds: How long.
    """
    time.sleep(seconds)
    return "slept"


async def slow_async(seconds: float) -> str:
    """Sleep on the loop.

    Args:
        seconds: How long.
    """
    await asyncio.sleep(seconds)
    return "napped"


@pytest.fixture
def agent_engine(emulator: Emulator) -> Iterator[Engine]:
    emulator.set_faults([])
    with Engine(Settings(base_url=emulator.base_url, max_retries=0)) as eng:
        yield eng


async def test_a_step_with_two_tools_takes_the_slowest_ones_time(agent_engine: Engine) -> None:
    text = 'Run slow_sync({"seconds": 0.5}) and slow_async({"seconds": 0.5}) and slow_sync again.'
    turn = agent_engine.astream(messages=[{"role": "user", "content": text}], tools=[slow_sync, slow_async])
    seen: list[tuple[float, object]] = []
    async with turn:
        async for event in turn.typed_events():
            seen.append((time.perf_counter(), event))
    calls = [(t, e) for t, e in seen if isinstance(e, ToolCall)]
    outputs = [(t, e) for t, e in seen if isinstance(e, ToolOutput)]
    assert len(calls) == len(outputs) == 2 and not any(e.is_error for _, e in outputs)
    step = max(t for t, _ in outputs) - min(t for t, _ in calls)
    assert step <= 1.1 * 0.5, step
    assert [type(e) for _, e in seen].count(StepFinish) == 1 and turn.steps == 2


async def test_a_tool_starts_when_its_input_is_complete(realtime_emulator: Emulator) -> None:
    started: dict[str, float] = {}

    async def first(seconds: float) -> str:
        """One.

        Args:
            seconds: How long.
        """
        started["first"] = time.perf_counter()
        return "ok"

    settings = Settings(base_url=realtime_emulator.base_url, max_retries=0)
    async with Engine(settings) as engine:
        text = 'Run first({"seconds": 1}) then slow_async({"seconds": 0.01}).'
        turn = engine.astream(messages=[{"role": "user", "content": text}], tools=[first, slow_async])
        second_call = None
        async with turn:
            async for event in turn.typed_events():
                if isinstance(event, ToolCall) and event.name == "slow_async":
                    second_call = time.perf_counter()
        # The first tool ran while the model was still writing the second call's input.
        assert second_call is not None and started["first"] < second_call


def test_max_steps_ends_the_turn_and_says_so(agent_engine: Engine) -> None:
    def again() -> str:
        """Ask to be called again: run again({}) once more."""
        return "run again({}) once more"

    relay = agent_engine.relay(
        messages=[{"role": "user", "content": "Please run again({})."}], tools=[again], max_steps=1
    )
    assert relay.open().status == 200
    body = b"".join(relay)
    assert b'"max_steps_reached":true' in body and b'"steps":1' in body and b"event: tool_result" in body


def test_step_two_reads_step_ones_prompt_from_the_cache(agent_engine: Engine) -> None:
    messages = [{"role": "user", "content": 'Run slow_sync({"seconds": 0.01}) for the office hours.'}]
    with agent_engine.stream(system=LONG_SYSTEM, messages=messages, tools=[slow_sync]) as turn:
        assert [type(e) for e in turn.typed_events()].count(StepStart) == 1
    first, second = turn._steps  # type: ignore[attr-defined]
    # Every step's response was closed (its connection back in the pool), not only the last one.
    assert first._cm is None and second._cm is None
    assert first.usage["cache_creation_input_tokens"] > 1000
    assert second.usage["cache_read_input_tokens"] >= first.usage["cache_creation_input_tokens"]
    turns = agent_engine.metrics_snapshot()["turns"]["chat"]
    assert turns["steps"] == 2 and turns["tool_calls"] == 1 and turns["cache_read_input_tokens"] > 1000
    scrape, _ = agent_engine.prometheus()
    assert (
        b'gen_ai_execute_tool_duration_seconds_count{firsttoken_profile="chat"'
        in scrape.replace(b"firsttoken.profile", b"firsttoken_profile")
        or b"gen_ai_execute_tool_duration_seconds_count" in scrape
    )


def test_every_model_call_of_a_turn_takes_the_fallbacks(emulator: Emulator) -> None:
    profiles = {"chat": {"fallbacks": ["claude-haiku-5-5"]}}
    with Engine(
        Settings.from_mapping({"base_url": emulator.base_url, "max_retries": 0, "profiles": profiles})
    ) as engine:
        emulator.set_faults(["overloaded@claude-sonnet-5-5"])
        try:
            with engine.stream(
                messages=[{"role": "user", "content": 'Run slow_sync({"seconds": 0.01})'}], tools=[slow_sync]
            ) as turn:
                "".join(turn)
        finally:
            emulator.set_faults([])
    assert turn.steps == 2
    assert [s.model for s in turn._steps] == ["claude-haiku-5-5", "claude-haiku-5-5"]  # type: ignore[attr-defined]


def test_an_interrupted_sync_turn_stops_its_tools_and_goes_no_further(agent_engine: Engine) -> None:
    cancelled: list[str] = []

    def patient(seconds: float, context: ToolContext) -> str:
        """Wait.

        Args:
            seconds: How long.
        """
        if context.wait(seconds):
            cancelled.append(context.id)
        return "done"

    turn = agent_engine.stream(
        messages=[{"role": "user", "content": 'Run patient({"seconds": 20})'}], tools=[patient]
    )
    events: list[object] = []

    def read() -> None:
        with turn:
            events.extend(turn.typed_events())

    reader = threading.Thread(target=read)
    reader.start()
    while not any(isinstance(e, ToolCall) for e in events):
        time.sleep(0.005)
    time.sleep(0.05)
    interrupted = time.perf_counter()
    turn.interrupt()
    reader.join(timeout=5)
    assert not reader.is_alive() and time.perf_counter() - interrupted < 0.5
    assert cancelled and turn.steps == 1 and not any(isinstance(e, StepStart) for e in events)


def test_create_refuses_tools_it_cannot_run(agent_engine: Engine) -> None:
    with pytest.raises(TypeError, match="agent turn"):
        agent_engine.create(messages=[{"role": "user", "content": "hi"}], tools=[slow_sync])
