"""Reading the wire formats back in tests, as `(event, data)` pairs over the shared e2e parser."""

from __future__ import annotations

from typing import Any

from tests.e2e.sse import parse


def sse_events(body: bytes) -> list[tuple[str, Any]]:
    """`(event, data)` pairs; comments as `(":", text)`, AI SDK parts (no event line) as `("data", part)`."""
    return [(":" if e.comment else "data" if e.name == "message" else e.name, e.data) for e in parse(body)]
