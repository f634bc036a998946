"""What calls cost: per-family input prices, TTL write multipliers, minimum cacheable lengths, the
output and server tool prices.

Prices are approximate list prices in US dollars per million input tokens and only ever feed
*estimates* (cost saved in metrics, the keep-warm rule, an answer's `cost_usd`); override them with
the `pricing` setting. Anthropic bills a cache write at 1.25x the input price for the 5-minute TTL
and 2x for the 1-hour TTL, a cache read at 0.1x, and an output token at 5x (every current model).
Of the server tools only web search has a price of its own ($10 per 1,000 searches); web fetch,
tool search and the MCP connector cost their tokens only, and code execution is billed by container
time (past a free daily allowance), which no answer's usage reports, so it is not estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import SettingsError
from ._latency import family_of

__all__ = [
    "DEFAULT_MIN_TOKENS",
    "DEFAULT_PRICES",
    "OUTPUT_MULTIPLIER",
    "READ_MULTIPLIER",
    "SERVER_TOOL_PRICES",
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
# Every current Claude model charges five times its input price per output token, so the estimate
# uses the ratio rather than a second table to keep current.
OUTPUT_MULTIPLIER = 5.0
# Dollars per request of `usage.server_tool_use`'s counts that Anthropic prices on their own.
SERVER_TOOL_PRICES: Mapping[str, float] = {"web_search_requests": 10.0 / 1000}


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

    def answer_cost(self, model: str, usage: Mapping[str, Any], *, ttl: Ttl = "5m") -> float:
        """Dollars for one answer's usage (the API's `usage` object, or an agent turn's sum): input,
        cache reads and writes (by TTL where the usage splits them, else at `ttl`), output, and
        the server tools Anthropic prices per request."""
        read, write = _count(usage, "cache_read_input_tokens"), _count(usage, "cache_creation_input_tokens")
        split = usage.get("cache_creation")
        short = _count(split, "ephemeral_5m_input_tokens") if isinstance(split, Mapping) else 0
        long = _count(split, "ephemeral_1h_input_tokens") if isinstance(split, Mapping) else 0
        if short + long == write and write:
            writes = short * WRITE_MULTIPLIER["5m"] + long * WRITE_MULTIPLIER["1h"]
        else:
            writes = write * WRITE_MULTIPLIER[ttl]
        tokens = (
            _count(usage, "input_tokens")
            + read * READ_MULTIPLIER
            + writes
            + _count(usage, "output_tokens") * OUTPUT_MULTIPLIER
        )
        tools = usage.get("server_tool_use")
        priced = (
            sum(price * _count(tools, key) for key, price in SERVER_TOOL_PRICES.items())
            if isinstance(tools, Mapping)
            else 0.0
        )
        return self.price(model) * tokens + priced


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
