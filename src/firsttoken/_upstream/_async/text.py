"""A stream's text, written once for a model call and an agent turn: this async source is the only one.

`../_sync/text.py` is generated from it (`make unasync`). A model call's stream and an agent turn's
both read their text from their `events()` this way, and with `output=` the object it fills.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from anthropic.types import Message

from ..._events import TYPED, Reset, StepStart
from ..._structured import Output, PartialObject
from ..stream import Event, text_of

__all__ = ["TextIteration"]


class _Events(Protocol):
    output: Output | None

    def events(self) -> AsyncIterator[Event]: ...


class _Answer(Protocol):
    output: Output | None

    @property
    def finished(self) -> bool: ...

    @property
    def message(self) -> Message: ...

    @property
    def stop_reason(self) -> str | None: ...


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

    async def partial_objects(self: _Events) -> AsyncIterator[Any]:
        """With `output=`: the object as its JSON streams in, once for each text delta that changed
        it (a new dict or list each time; strings may be cut short, as the SDK's snapshots are).
        An agent turn starts over at each model call: the last one's text is the answer."""
        if self.output is None:
            raise TypeError("partial_objects() needs a call or profile with output=...")
        partial = PartialObject()
        async for name, data in self.events():
            text = text_of(name, data)
            if text is not None:
                if partial.feed(text):
                    yield partial.value
            elif isinstance(data, StepStart):
                partial = PartialObject()

    @property
    def parsed(self: _Answer) -> Any:
        """With `output=`, once the stream is read: the answer as the object (the model's instance,
        or parsed JSON for a schema dict). Raises `firsttoken.OutputInvalid` naming why it is not
        one (cut short at max_tokens, a refusal, a value that does not validate)."""
        output = self.output
        if output is None:
            raise TypeError("parsed needs a call or profile with output=...")
        if not self.finished:
            raise RuntimeError("the stream has not ended: read it to the end before .parsed")
        text = "".join(block.text for block in self.message.content if block.type == "text")
        return output.validate(text, self.stop_reason)

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
