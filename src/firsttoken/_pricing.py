"""What cached tokens cost: per-family input prices, TTL write multipliers, minimum cacheable lengths.

Prices are approximate list prices in US dollars per million input tokens and only ever feed
*estimates* (cost saved in metrics, the keep-warm rule); override them with the `pricing` setting.
Anthropic bills a cache write at 1.25x the input price for the 5-minute TTL and 2x for the 1-hour
TTL, and a cache read at 0.1x.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ._errors import SettingsError
from ._latency import family_of

__all__ = [
    "DEFAULT_MIN_TOKENS",
    "DEFAULT_PRICES",
    "OUTPUT_MULTIPLIER",
    "READ_MULTIPLIER",
    "TTL_SECONDS",
    "WRITE_MULTIPLIER",
    "CostModel",
    "Ttl",
    "validate_family_table",
]

Ttl = Literal["5m", "1h"]

# $/MTok input; approximate, see the module docstring.
DEFAULT_PRICES: Mapping[str, float] = {"haiku": 1.0, "sonnet": 3.0, "opus": 5.0}
# Shorter prefixes are silently not cached. The documented values change between model
# generations, so these match what the bundled emulator enforces and are a setting.
DEFAULT_MIN_TOKENS: Mapping[str, int] = {"haiku": 2048, "sonnet": 1024, "opus": 1024}
TTL_SECONDS: Mapping[str, float] = {"5m": 300.0, "1h": 3600.0}
WRITE_MULTIPLIER: Mapping[str, float] = {"5m": 1.25, "1h": 2.0}
READ_MULTIPLIER = 0.1
# Output tokens cost five times input on every current model (Haiku $1/$5, Sonnet $3/$15, Opus $5/$25).
OUTPUT_MULTIPLIER = 5.0


def validate_family_table(key: str, value: object, *, integer: bool) -> None:
    """A `{family: number}` mapping; raises `SettingsError(key, ...)` naming the bad entry."""
    if not isinstance(value, Mapping):
        raise SettingsError(key, f"must map model families (haiku, sonnet, opus) to numbers, not {value!r}")
    for family, number in value.items():
        kinds = (int,) if integer else (int, float)
        if not isinstance(family, str) or not family:
            raise SettingsError(key, f"family names must be non-empty strings, not {family!r}")
        if isinstance(number, bool) or not isinstance(number, kinds) or number < 0:
            what = "integer" if integer else "number"
            raise SettingsError(f"{key}[{family!r}]", f"must be a non-negative {what}, not {number!r}")


def _family(model: str, table: Mapping[str, object]) -> str:
    lowered = model.lower()
    # A family the user added to the table ("fable") wins over the built-in fallback to sonnet.
    for family in table:
        if family.lower() in lowered:
            return family
    return family_of(model)


@dataclass(frozen=True)
class CostModel:
    prices: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    min_tokens: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MIN_TOKENS))

    @classmethod
    def build(cls, *, prices: Mapping[str, float], min_tokens: Mapping[str, int]) -> CostModel:
        """The defaults with the user's per-family overrides merged over them."""
        return cls({**DEFAULT_PRICES, **prices}, {**DEFAULT_MIN_TOKENS, **min_tokens})

    def price(self, model: str) -> float:
        """Dollars per input token."""
        return self.prices.get(_family(model, self.prices), DEFAULT_PRICES["sonnet"]) / 1_000_000

    def minimum(self, model: str) -> int:
        return self.min_tokens.get(_family(model, self.min_tokens), DEFAULT_MIN_TOKENS["sonnet"])

    def cost(self, model: str, *, input_tokens: int, read: int, write: int, ttl: Ttl) -> float:
        """Dollars for a prompt's input side."""
        return self.price(model) * (input_tokens + read * READ_MULTIPLIER + write * WRITE_MULTIPLIER[ttl])

    def saved(self, model: str, *, read: int, write: int, ttl: Ttl) -> float:
        """Dollars saved against the same prompt uncached; negative when a write went unread."""
        return self.price(model) * (read * (1 - READ_MULTIPLIER) - write * (WRITE_MULTIPLIER[ttl] - 1))
