"""Parse server-sent events the way a browser does, for asserting on what a client receives."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    name: str
    data: Any
    comment: bool = False


def parse(raw: bytes) -> list[Event]:
    """Every event and comment line in order; `data` is JSON-decoded when it is JSON."""
    events: list[Event] = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                events.append(Event("comment", line[1:].strip(), comment=True))
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            text = "\n".join(data)
            try:
                value: Any = json.loads(text)
            except ValueError:
                value = text
            events.append(Event(name, value))
    return events


def named(events: list[Event]) -> list[Event]:
    return [e for e in events if not e.comment]
