# Generated from _async/warmup.py by scripts/unasync.py: edit that file, then `make unasync`.
"""The warm-up's requests, written once: this async source is the only one.

`../_sync/warmup.py` is generated from it (`make unasync`). What to warm and when is `warmup.py`'s;
only the calls are here.
"""

from __future__ import annotations

import anthropic

__all__ = ["OPENING_REQUEST", "open_connection"]

# Listing models is free and counts against no token budget; `count_tokens` is free too but is
# rate limited per minute with the Messages API's own tier, so it is kept for what needs a count.
OPENING_REQUEST = "GET /v1/models?limit=1"


def open_connection(client: anthropic.Anthropic, *, seconds: float, own: bool = False) -> None:
    """Open (or reuse) one pooled connection to the upstream: DNS, TCP and TLS, with a free request.

    By default on a copy of `client` without retries: a ping that fails is reported and the next
    call connects as it would have. `own`: on `client` itself, with its retries, so that the
    client's own one-time set-up on its first request (the SDK detects the platform for its headers,
    from a worker thread under asyncio) is done too, and so is building its `messages` resource.
    """
    if not own:
        client.with_options(max_retries=0).models.list(limit=1, timeout=seconds)
        return
    client.models.list(limit=1, timeout=seconds)
    client.messages.with_streaming_response  # noqa: B018 - cached on the client from now on
