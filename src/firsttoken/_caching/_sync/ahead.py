# Generated from _async/ahead.py by scripts/unasync.py: edit that file, then `make unasync`.
"""Warming while the user types, its I/O written once: this async source is the only one.

`../_sync/ahead.py` is generated from it (`make unasync`). Whether to warm, with which arguments,
and what a result means are `AheadCore`'s (`ahead_core.py`); the claims, the budget and the
request are here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anthropic

from ..ahead_core import AheadCore, AheadResult

__all__ = ["SyncAhead"]


class SyncAhead(AheadCore):
    def warm_for(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        profile: str | None = None,
        client: str | None = None,
        system: Any = None,
    ) -> AheadResult:
        """Pre-warm the conversation so far (`max_tokens: 0`), or say why not."""
        warm = self.plan(messages, profile=profile, system=system)
        if isinstance(warm, AheadResult):
            return warm
        recent = f"ahead:{warm.digest}"
        if not self._claims.claim(recent, self._window(warm)):
            return self._skip("warmed_recently", "this conversation was warmed recently")
        flight = self._flight(warm, client)
        if not self._claims.claim(flight, self._in_flight_ttl(warm)):
            self._claims.release(recent)
            return self._skip("in_flight", "a warm of this conversation is in flight")
        try:
            budget = self._budget(client)
            if budget is not None:
                who, rpm, tpm = budget
                wait = self._budgets.take(who, warm.tokens, requests_per_minute=rpm, tokens_per_minute=tpm)
                if wait > 0:
                    self._claims.release(recent)
                    return self._skip("over_budget", "this client is over its warm budget")
            try:
                message = self._clients.sync.messages.create(**warm.params)
            except anthropic.APIError as exc:
                self._claims.release(recent)
                return self._failed(exc)
            return self._sent(warm, message.usage)
        finally:
            self._claims.release(flight)
