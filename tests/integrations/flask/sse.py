"""Reading the wire formats back in tests."""

from __future__ import annotations

import json
from typing import Any


def sse_events(body: bytes) -> list[tuple[str, Any]]:
    """`(event, data)` pairs; comments as `(":", text)`, AI SDK parts (no event line) as `("data", part)`."""
    events: list[tuple[str, Any]] = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith(":"):
                events.append((":", line[1:].strip()))
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            raw = "\n".join(data)
            events.append((name or "data", raw if raw == "[DONE]" else json.loads(raw)))
    return events
