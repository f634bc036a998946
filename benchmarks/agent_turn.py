"""A two-tool, two-step agent turn: firsttoken's loop against a hand-written sequential loop on the
SDK, side by side in the same run, against the emulator at the API's latencies (time-scale 1).

Both send the same system prompt (long enough to cache), the same two tools and the same question;
each tool takes 0.5 s (a lookup's worth). The hand-written loop is the one most code has: stream,
`get_final_message()`, run the tool calls one after another, send the results, stream again.
firsttoken starts each tool when its input is complete and runs both at once. Reported: wall time
of the turn, time to the final answer's first token, and step 2's cache read ratio.

    .venv/bin/python benchmarks/agent_turn.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import anthropic

from _support import emulator_process
from firsttoken import DEFAULT_PROFILES, Engine, Settings, TextDelta, ToolCall, tool

MODEL = "claude-sonnet-5-5"
SYSTEM = "You are a careful assistant for a travel desk. " + " ".join(
    f"Rule {n}: answer with the local time and any arithmetic worked out by the tools, never by hand."
    for n in range(80)
)
QUESTION = "What time is it in Paris, and what is 2*(3+4)?"
TOOL_SECONDS = 0.5
# When each tool last started (perf_counter), to see how early the first one started.
STARTED: dict[str, float] = {}


async def clock(timezone: str | None = None) -> str:
    """The current time in ISO 8601.

    Args:
        timezone: An IANA time zone.
    """
    STARTED["clock"] = time.perf_counter()
    await asyncio.sleep(TOOL_SECONDS)
    return "2026-11-30T21:00:00+01:00"


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression.

    Args:
        expression: For example "2*(3+4)".
    """
    STARTED["calculate"] = time.perf_counter()
    time.sleep(TOOL_SECONDS)
    return "14"


TOOLS = [tool(clock), tool(calculate)]
DEFINITIONS = [t.definition() for t in TOOLS]


async def firsttoken_turn(engine: Engine, n: int, profile: str = "chat") -> dict[str, float]:
    started = time.perf_counter()
    first_final = None
    # A new question each run: step 2 can only read from cache what step 1 of this turn wrote
    # (the uncached path and the SDK loop send no breakpoints, so they read and write nothing).
    question = f"{QUESTION} (request {n})"
    turn = engine.astream(
        profile=profile, system=SYSTEM, messages=[{"role": "user", "content": question}], tools=TOOLS
    )
    last_call = 0.0
    async with turn:
        async for event in turn.typed_events():
            if isinstance(event, TextDelta) and turn.steps == 2 and first_final is None:
                first_final = time.perf_counter() - started
            elif isinstance(event, ToolCall):
                last_call = time.perf_counter()
    step2 = turn._steps[-1].usage  # type: ignore[union-attr]
    prompt = sum(
        int(step2.get(k) or 0)
        for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    )
    return {
        "wall": time.perf_counter() - started,
        "final_ttft": first_final or float("nan"),
        "step2_cache_read_ratio": int(step2.get("cache_read_input_tokens") or 0) / prompt,
        # How long before the model finished writing its last call the first tool was running.
        "early_start": last_call - STARTED["clock"],
    }


async def sequential_turn(client: anthropic.AsyncAnthropic, n: int) -> dict[str, float]:
    started = time.perf_counter()
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"{QUESTION} (request {n})"}]
    first_final = None
    for step in (1, 2, 3):
        async with client.messages.stream(
            model=MODEL,
            max_tokens=1024,
            system=SYSTEM,
            messages=messages,
            tools=DEFINITIONS,  # type: ignore[arg-type]
        ) as stream:
            async for event in stream:
                if event.type == "text" and step == 2 and first_final is None:
                    first_final = time.perf_counter() - started
            message = await stream.get_final_message()
        if message.stop_reason != "tool_use":
            break
        results = []
        for block in message.content:
            if block.type == "tool_use":
                if block.name == "clock":
                    output = await clock(**block.input)  # type: ignore[arg-type]
                else:
                    output = calculate(**block.input)  # type: ignore[arg-type]
                results.append({"type": "tool_result", "tool_use_id": block.id, "content": output})
        messages += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
            {"role": "user", "content": results},
        ]
    return {"wall": time.perf_counter() - started, "final_ttft": first_final or float("nan")}


async def main(runs: int) -> None:
    with emulator_process(time_scale=1.0) as base_url:
        # `uncached`: the same loop with no cache breakpoints, to tell parallel tools from caching.
        profiles = {**DEFAULT_PROFILES, "uncached": DEFAULT_PROFILES["chat"].replace(caching="off")}
        settings = Settings(
            base_url=base_url, api_key="sk-ant-bench-not-a-key", max_retries=0, profiles=profiles
        )
        async with Engine(settings) as engine:
            client = anthropic.AsyncAnthropic(
                base_url=base_url, api_key="sk-ant-bench-not-a-key", max_retries=0
            )
            await firsttoken_turn(engine, -1)  # warms the connections
            await sequential_turn(client, -1)
            ours, uncached, theirs = [], [], []
            for n in range(runs):
                # The same question on the three paths: the emulator draws a request's latencies
                # and answer from its content (cache marks aside), so each run is a paired one.
                ours.append(await firsttoken_turn(engine, n))
                uncached.append(await firsttoken_turn(engine, n, "uncached"))
                theirs.append(await sequential_turn(client, n))
            await client.close()

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"two-tool, two-step turn, {runs} runs each, medians (tools take {TOOL_SECONDS}s each)")
    for key, label in (("wall", "wall time"), ("final_ttft", "final answer's first token")):
        a, c, b = median(ours, key), median(uncached, key), median(theirs, key)
        print(
            f"  {label:28s} firsttoken {a * 1000:6.0f} ms ({a / b:.2f}x)   "
            f"without caching {c * 1000:6.0f} ms ({c / b:.2f}x)   sequential SDK loop {b * 1000:6.0f} ms"
        )
    print(f"  step 2 cache read ratio (firsttoken): {median(ours, 'step2_cache_read_ratio'):.3f}")
    print(
        "  the first tool started "
        f"{median(ours, 'early_start') * 1000:.0f} ms before the model finished writing the last call"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
