"""What reached the emulator: what a real API would bill (everything but warm-up's `GET
/v1/models`), and its request log once it holds a number of entries."""

from __future__ import annotations

import asyncio
from typing import Any

from firsttoken.testing.emulator import Emulator


def billable(stats: dict[str, Any]) -> int:
    """Requests the emulator served, less the free model listings warm-up and staying warm send."""
    return int(stats["requests_total"]) - int(stats["requests_by_path"].get("/v1/models", 0))


async def recorded(emu: Emulator, n: int) -> list[dict[str, Any]]:
    """The emulator's request log once it holds `n` entries: a request is logged as it ends, which
    can be after its client has what it waited for (or has left)."""
    for _ in range(500):
        if len(emu.requests) >= n:
            return emu.requests
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(emu.requests)} of {n} requests recorded")
