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

__all__ = ["AsyncAhead"]


class AsyncAhead(AheadCore):
    async def awarm_for(
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
        if not await self._claims.aclaim(recent, self._window(warm)):
            return self._skip("warmed_recently", "this conversation was warmed recently")
        flight = self._flight(warm, client)
        if not await self._claims.aclaim(flight, self._in_flight_ttl(warm)):
            await self._claims.arelease(recent)
            return self._skip("in_flight", "a warm of this conversation is in flight")
        try:
            budget = self._budget(client)
            if budget is not None:
                who, rpm, tpm = budget
                wait = await self._budgets.atake(
                    who, warm.tokens, requests_per_minute=rpm, tokens_per_minute=tpm
                )
                if wait > 0:
                    await self._claims.arelease(recent)
                    return self._skip("over_budget", "this client is over its warm budget")
            try:
                message = await self._clients.async_.messages.create(**warm.params)
            except anthropic.APIError as exc:
                await self._claims.arelease(recent)
                return self._failed(exc)
            return self._sent(warm, message.usage)
        finally:
            await self._claims.arelease(flight)
