"""The opt-in exact-response cache: a temperature-0 `create()` asked again is answered from the store.

Only calls that are meant to be repeatable qualify: `temperature` exactly 0 (an argument, or in
`extra_body` for SDKs whose `create()` no longer takes it), non-streaming, with every argument
JSON-serialisable. The key is a digest of the API key (hashed first, see
`_state/keys.py`), the upstream base URL, the tenant and the full request, so different keys,
organisations or tenants never share an entry, and neither the key nor any prompt text is stored
as a key. Only successful answers are stored. A feature over storage: the entries live in the
state backend's `ResponseStore`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from anthropic.types import Message

from ._settings import Settings
from ._state import ResponseStore, request_digest
from ._upstream.resolve import Upstream

__all__ = ["RESPONSE_TTL", "ResponseCache"]

# Ten minutes: long enough for the bursts of identical calls a cache is for, short enough that a
# model update or a changed upstream answer shows within a coffee break.
RESPONSE_TTL = 600.0
# Per-call arguments that change how a call is made, not what it asks.
_NOT_ASKED = frozenset({"timeout"})


class ResponseCache:
    def __init__(
        self,
        store: ResponseStore,
        *,
        enabled: bool,
        api_key: str,
        base_url: str,
        tenant: str | None,
        ttl: float = RESPONSE_TTL,
    ) -> None:
        self.store = store
        self.enabled = enabled
        self.ttl = ttl
        self._api_key = api_key
        self._base_url = base_url
        self._tenant = tenant
        self._lock = threading.Lock()
        self.hits = self.misses = self.stored = 0

    @classmethod
    def for_settings(cls, store: ResponseStore, upstream: Upstream, s: Settings) -> ResponseCache:
        """Keyed by the upstream's key and identity, and the deployment's tenant."""
        key, url = upstream.api_key, upstream.identity
        return cls(store, enabled=s.response_cache, api_key=key, base_url=url, tenant=s.tenant)

    def __repr__(self) -> str:
        return f"<ResponseCache {'on' if self.enabled else 'off'} hits={self.hits} misses={self.misses}>"

    def key(self, params: Mapping[str, Any], tenant: str | None = None) -> str | None:
        """The digest this call is cached under, or None when it does not qualify."""
        if not self.enabled or _temperature(params) != 0 or params.get("stream"):
            return None
        asked = {k: v for k, v in params.items() if k not in _NOT_ASKED}
        return request_digest(
            api_key=self._api_key,
            base_url=self._base_url,
            tenant=tenant if tenant is not None else self._tenant,
            params=asked,
        )

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _decode(self, raw: bytes | None) -> Message | None:
        self._count(raw is not None)
        return None if raw is None else Message.model_validate_json(raw)

    def lookup(self, key: str | None) -> Message | None:
        return None if key is None else self._decode(self.store.get(key))

    async def alookup(self, key: str | None) -> Message | None:
        return None if key is None else self._decode(await self.store.aget(key))

    def _encode(self, message: Message) -> bytes:
        with self._lock:
            self.stored += 1
        return message.model_dump_json().encode()

    def keep(self, key: str | None, message: Message) -> None:
        if key is not None:
            self.store.set(key, self._encode(message), self.ttl)

    async def akeep(self, key: str | None, message: Message) -> None:
        if key is not None:
            await self.store.aset(key, self._encode(message), self.ttl)

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "hits": self.hits, "misses": self.misses, "stored": self.stored}


def _temperature(params: Mapping[str, Any]) -> Any:
    if "temperature" in params:
        return params["temperature"]
    extra = params.get("extra_body")
    return extra.get("temperature") if isinstance(extra, Mapping) else None
