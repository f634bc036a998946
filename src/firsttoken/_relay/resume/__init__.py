"""Resumable answers: a producer that outlives the browser's connection, and followers that resume it.

With `resumable` on, an opened relay hands its own bytes to a producer (`producers.py`: a thread
on sync servers, a task on async ones) that iterates them to the end whatever the connection does.
Each event block it encodes gets the next number as its SSE `id:` line (`protocol.py`) and goes
first to the producer's own client (an in-process queue), then to the answer's Redis Stream
(`_state/streams.py`), so Redis adds no round trip before the first token. A resumer on any worker
reads that stream after its `Last-Event-ID` and follows it live (`stream.py`, over
`_async/follow.py` and its generated twin): the bytes are the stored ones, so a resumed answer is
the unbroken one (heartbeats, being comments, are each connection's own). One `ResumeHub` per
engine (`hub.py`) keeps the producers; the handle's `follow` and `stop_answer` find and stop
answers (`_relay/_async/resuming.py`).
"""

from .hub import ResumeHub
from .protocol import RESUMABLE_FORMATS, parse_last_event_id
from .stream import ResumedStream

__all__ = ["RESUMABLE_FORMATS", "ResumeHub", "ResumedStream", "parse_last_event_id"]
