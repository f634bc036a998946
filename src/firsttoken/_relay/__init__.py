"""The relay: one browser response from one engine stream, in a wire format, heartbeats included.

Adapters read the body, call `parse_chat_request` (`_chat.py`), and move a `Relay`'s `body()` (sync
servers) or `abody()` (async ones) into their framework's streaming response. Everything written to
the client, idle heartbeats included, is chosen here, so the three frameworks answer byte for byte
the same and a fix lands in all of them at once.
"""

from __future__ import annotations

from ._async.io import AsyncRelay
from ._sync.io import SyncRelay
from .core import EngineParts
from .handle import EngineHandle
from .resume import ResumedStream

__all__ = ["EngineHandle", "EngineParts", "Relay", "ResumedStream"]


class Relay(SyncRelay, AsyncRelay):
    """One browser response: opens the upstream stream, then yields the wire format's bytes.

    Sync servers: `start = relay.open()`, then iterate `relay.body()` and `close()` the relay.
    Async servers: `start = await relay.aopen()`, then iterate `relay.abody()` and `await aclose()`.
    The bodies add idle heartbeats (`Settings.heartbeat_interval`); iterating the relay itself gives
    the same bytes without them. `open` answers the upstream's refusal (overload, rate limit) as an
    HTTP error before any byte of the stream is sent; once streaming, failures become the format's
    error event.
    """
