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


def open_connection(client: anthropic.Anthropic, *, seconds: float) -> None:
    """Open (or reuse) one pooled connection to the upstream: DNS, TCP and TLS, with a free request.

    No retries: a warm-up that fails is reported and the first real call connects as it would have.
    """
    client.with_options(max_retries=0).models.list(limit=1, timeout=seconds)
