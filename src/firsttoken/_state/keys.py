"""Redis key names: one prefix per deployment, a hash tag per entity, and digests instead of secrets.

Every key is `<prefix><kind>:{<entity>}[:<part>]`. The braces are a Redis Cluster hash tag: the keys
one atomic step touches (a model's failures and its cooldown) land on one slot. Entities that could
hold user text or a credential are SHA-256 digests before they get here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["Keys", "digest", "request_digest"]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, kind: str, entity: str, part: str | None = None) -> str:
        # A model id has no braces; anything else arrives as a hex digest.
        tagged = f"{self.prefix}{kind}:{{{entity}}}"
        return tagged if part is None else f"{tagged}:{part}"

    def pattern(self) -> str:
        return f"{self.prefix}*"


def request_digest(
    *, api_key: str, base_url: str, tenant: str | None, params: Mapping[str, Any]
) -> str | None:
    """One digest of who asks (API key, upstream, tenant) and exactly what; None if not serialisable.

    The API key is hashed on its own first and then again with the rest, so neither it nor a
    digest of it alone ever reaches the store.
    """
    try:
        body = json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
    who = json.dumps([digest(api_key), base_url, tenant])
    return digest(f"{who}\0{body}")
