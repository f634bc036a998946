"""Warming while the user types: a `max_tokens: 0` pre-warm of the conversation so far.

While the user types the next message, `POST /api/warm` sends the conversation so far with the
breakpoints the next real call will use: the profile's prefix breakpoint (placed by the cache
manager, as for any call) and one on the last block of the conversation so far. The next call's
automatic breakpoint sits one message later, on the new user message, and the API's lookback
finds the entry the warm wrote there: that call reads the conversation from cache instead of
prefilling it. The warm itself generates nothing (`max_tokens: 0`); it costs the cache write of
what the conversation added since its last read (1.25x input for the 5-minute TTL).

A placeholder user message ends the warm request, after the breakpoint: the newest models refuse
a conversation that ends on the assistant's turn (prefill), and what follows a breakpoint is not
cached, so the placeholder changes nothing the real call reads.

Each warm is decided without I/O (`ahead_core.py`), then sent by `_async/ahead.py` (its sync twin
generated):

* skipped when the profile does not cache, when the conversation is below the model's minimum
  cacheable length, when the same prefix was warmed within 80% of its TTL or a warm of the same
  conversation is in flight (both claims in the state backend: every worker sharing the Redis
  sees them), and when the client is over its warm budget;
* counted: warms sent, skipped by reason, failed, what they wrote and read, and the cache reads
  of later calls that found a prefix this process warmed.
"""

from __future__ import annotations

from ._async.ahead import AsyncAhead
from ._sync.ahead import SyncAhead
from .ahead_core import AheadResult

__all__ = ["AheadResult", "WarmAhead"]


class WarmAhead(SyncAhead, AsyncAhead):
    """One per engine: `warm_for()` / `awarm_for()` over `AheadCore`'s decisions and counts."""
