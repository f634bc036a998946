# Generated from _async/text.py by scripts/unasync.py: edit that file, then `make unasync`.
"""A stream's text, written once for a model call and an agent turn: this async source is the only one.

`../_sync/text.py` is generated from it (`make unasync`). A model call's stream and an agent turn's
both read their text from their `events()` this way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..stream import Event, text_of

__all__ = ["TextIteration"]


class _Events(Protocol):
    def events(self) -> Iterator[Event]: ...


class TextIteration:
    """`for text in stream`: the text deltas of `events()` (each class's `text()` joins them)."""

    def __iter__(self: _Events) -> Iterator[str]:
        for name, data in self.events():
            text = text_of(name, data)
            if text is not None:
                yield text
