"""Tools the agent tests give the examples' `chat` profile (through `FIRSTTOKEN_PROFILES`): one that
raises, slow sync ones that check their cancellation flag, a slow async one. Each writes what
happened to it in the file `AGENT_TEST_MARKS` names, which the test (another process) reads.

`stuck` is held to the profile's short `tool_timeout`; `sleepy` and `nap` carry a long timeout of
their own, so that what cancels them in a test is the browser leaving, never a loaded machine
starting them late."""

from __future__ import annotations

import asyncio
import os

from firsttoken import ToolContext, tool

# Far beyond any test's wait: these tools end because a test ends them.
PATIENT = 120.0


def _mark(line: str) -> None:
    path = os.environ.get("AGENT_TEST_MARKS")
    if path:
        with open(path, "a", encoding="utf-8") as marks:
            marks.write(line + "\n")


def boom() -> str:
    """A tool that always fails."""
    raise RuntimeError("the boom tool blew up")


def _sleep(name: str, seconds: float, context: ToolContext) -> str:
    _mark(f"{name} started {context.id}")
    if context.wait(seconds):
        _mark(f"{name} cancelled {context.id}")
        return "cancelled"
    _mark(f"{name} done {context.id}")
    return f"slept {seconds}s"


def stuck(seconds: float, context: ToolContext) -> str:
    """Sleep for a while, waking early when cancelled.

    Args:
        seconds: How long to sleep.
    """
    return _sleep("stuck", seconds, context)


@tool(timeout=PATIENT)
def sleepy(seconds: float, context: ToolContext) -> str:
    """Sleep for a while, waking early when cancelled.

    Args:
        seconds: How long to sleep.
    """
    return _sleep("sleepy", seconds, context)


@tool(timeout=PATIENT)
async def nap(seconds: float) -> str:
    """Sleep for a while on the event loop.

    Args:
        seconds: How long to sleep.
    """
    _mark("nap started")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _mark("nap cancelled")
        raise
    _mark("nap done")
    return f"napped {seconds}s"
