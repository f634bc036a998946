"""Reading the contract's SSE answers in tests."""

from __future__ import annotations

import json
from typing import Any


def events(body: bytes) -> list[tuple[str, Any]]:
    """`(event, data)` pairs; comments (heartbeats) become `(":", text)`."""
    out: list[tuple[str, Any]] = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        if block.startswith(":"):
            out.append((":", block[1:].strip()))
            continue
        name, data = "message", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


def text_of(body: bytes) -> str:
    return "".join(data["text"] for name, data in events(body) if name == "token")
