"""A stream's text, written once for a model call and an agent turn: this async source is the only one.

`../_sync/text.py` is generated from it (`make unasync`). A model call's stream and an agent turn's
both read their text from their `events()` this way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ..._events import TYPED, Reset, StepStart
from ..stream import Event, text_of

__all__ = ["TextIteration"]


class _Events(Protocol):
    def events(self) -> AsyncIterator[Event]: ...


class TextIteration:
    """`async for text in stream`: the text deltas of `events()`; `text()` joins the answer's.

    Iterating gives every delta as it arrives, those of an answer that restarted on a fallback
    model too (`typed_events()` shows the `Reset` between them); `text()` is the final answer's.
    """

    async def __aiter__(self: _Events) -> AsyncIterator[str]:
        async for name, data in self.events():
            text = text_of(name, data)
            if text is not None:
                yield text

    async def text(self: _Events) -> str:
        """The answer's text, every step's of an agent turn; a step that restarted keeps only the
        text of its last start."""
        pieces: list[str] = []
        step = 0  # where the current step's text begins
        async for name, data in self.events():
            text = text_of(name, data)
            if text is not None:
                pieces.append(text)
            elif name == TYPED and isinstance(data, StepStart):
                step = len(pieces)
            elif name == TYPED and isinstance(data, Reset):
                del pieces[step:]
        return "".join(pieces)
