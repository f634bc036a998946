"""What reached the emulator that a real API would bill: everything but warm-up's `GET /v1/models`."""

from __future__ import annotations

from typing import Any


def billable(stats: dict[str, Any]) -> int:
    """Requests the emulator served, less the free model listings warm-up and staying warm send."""
    return int(stats["requests_total"]) - int(stats["requests_by_path"].get("/v1/models", 0))
