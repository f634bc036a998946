"""Tools the agent tests give the examples' `chat` profile (through `FIRSTTOKEN_PROFILES`): one that
raises, a slow sync one that checks its cancellation flag, a slow async one. Each writes what
happened to it in the file `AGENT_TEST_MARKS` names, which the test (another process) reads."""

from __future__ import annotations

import asyncio
import os

from firsttoken import ToolContext


def _mark(line: str) -> None:
    path = os.environ.get("AGENT_TEST_MARKS")
    if path:
        with open(path, "a", encoding="utf-8") as marks:
            marks.write(line + "\n")


def boom() -> str:
    """A tool that always fails."""
    raise RuntimeError("the boom tool blew up")


def sleepy(seconds: float, context: ToolContext) -> str:
    """Sleep for a while, waking early when cancelled.

    Args:
        seconds: How long to sleep.
    """
    _mark(f"sleepy started {context.id}")
    if context.wait(seconds):
        _mark(f"sleepy cancelled {context.id}")
        return "cancelled"
    _mark(f"sleepy done {context.id}")
    return f"slept {seconds}s"


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
