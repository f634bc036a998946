"""The `extract` profile, shared by the three examples (EXAMPLE_CONTRACT.md, milestone 3): the
conversation so far summed up as a card, answered as JSON that matches `Card` and shown on the page
field by field as it streams (firsttoken's `structured.js`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from firsttoken import DEFAULT_PROFILES

__all__ = ["EXTRACT", "Card"]


class Card(BaseModel):
    """A card summing up the conversation so far."""

    title: str
    summary: str
    tags: list[str]
    sentiment: Literal["positive", "neutral", "negative"]


# Haiku: extraction is the speed-critical kind of call the Performance Tuning guide gives it; the
# schema as an import path, so the same dict works in Django settings and JSON.
EXTRACT: dict[str, Any] = {
    "model": DEFAULT_PROFILES["fast"].model,
    "max_tokens": 1024,
    "output": "example_projects.extract:Card",
    "prefix_system": (
        "Sum up the conversation so far as a card: a short title, a summary of two or three "
        "sentences, a few one-word tags and the overall sentiment."
    ),
}
