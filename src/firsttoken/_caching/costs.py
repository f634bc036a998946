"""What a finished call cost, priced by the settings' tables (`_pricing.CostModel`) at its
profile's cache TTL: its answer (`done`'s `cost_usd`), what caching saved, a lost hedge's request.

The `CacheManager` is one: the observers and the telemetry rows price a call through it.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._metrics import CallRecord
from .._pricing import OUTPUT_MULTIPLIER, CostModel, Ttl
from .._profiles import Profile

__all__ = ["CallCosts"]


class CallCosts:
    """The prices of finished calls, over `costs` and the profiles the subclass sets."""

    costs: CostModel
    _profiles: Mapping[str, Profile]

    def ttl_of(self, profile: str) -> Ttl:
        found = self._profiles.get(profile)
        return found.cache_ttl if found is not None else "5m"

    def saved(self, record: CallRecord) -> float:
        """Estimated dollars this call's caching saved (negative when it wrote more than it read)."""
        return self.costs.saved(
            record.model,
            read=record.cache_read_input_tokens,
            write=record.cache_creation_input_tokens,
            ttl=self.ttl_of(record.profile),
        )

    def cost(self, record: CallRecord) -> float:
        """Estimated dollars of the call's answer, as `done`'s `cost_usd` prices it."""
        usage = {
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "cache_read_input_tokens": record.cache_read_input_tokens,
            "cache_creation_input_tokens": record.cache_creation_input_tokens,
            "server_tool_use": dict(record.server_tool_use),
        }
        return self.costs.answer_cost(record.model, usage, ttl=self.ttl_of(record.profile))

    def hedge_cost(self, record: CallRecord) -> float:
        """Estimated dollars of a hedged call's request that lost: its prompt and what it generated."""
        costs = self.costs
        prompt = costs.cost(
            record.model,
            input_tokens=record.hedge_input_tokens,
            read=record.hedge_cache_read_input_tokens,
            write=record.hedge_cache_creation_input_tokens,
            ttl=self.ttl_of(record.profile),
        )
        return prompt + costs.price(record.model) * OUTPUT_MULTIPLIER * record.hedge_output_tokens
