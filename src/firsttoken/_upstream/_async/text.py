"""A stream's text, written once for a model call and an agent turn: this async source is the only one.

`../_sync/text.py` is generated from it (`make unasync`). A model call's stream and an agent turn's
both read their text from their `events()` this way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ..stream import Event, text_of

__all__ = ["TextIteration"]


class _Events(Protocol):
    def events(self) -> AsyncIterator[Event]: ...


class TextIteration:
    """`async for text in stream`: the text deltas of `events()` (each class's `text()` joins them)."""

    async def __aiter__(self: _Events) -> AsyncIterator[str]:
        async for name, data in self.events():
            text = text_of(name, data)
            if text is not None:
                yield text
