"""Browser bodies, and the limits that check them, for the tests of `_limits` and `_chat`."""

from __future__ import annotations

import json
from typing import Any

from firsttoken import Limits, Settings, accept_chat
from firsttoken._state.client_budgets import MemoryClientBudgets


def body(data: Any) -> bytes:
    return json.dumps(data).encode()


def chat(text: str = "hi", **extra: Any) -> bytes:
    return body({"messages": [{"role": "user", "content": text}], **extra})


def limits(**settings: Any) -> Limits:
    return Limits(Settings(**settings), MemoryClientBudgets())


def accept(raw: bytes, *, content_type: str | None = "application/json", **settings: Any) -> Any:
    return accept_chat(limits(**settings), raw, content_type=content_type, protocols=[])
