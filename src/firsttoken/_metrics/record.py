"""`CallRecord`: what one finished call was, as every observer of calls reads it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CallRecord"]


@dataclass(frozen=True, slots=True)
class CallRecord:
    profile: str
    model: str
    streamed: bool
    total: float
    ttft: float | None = None
    tps: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    retries: int = 0
    # Models passed over before `model` answered (_fallback.py); the label engine.route() chose.
    fallbacks: int = 0
    route: str | None = None
    # None for a call that finished; otherwise the error type, or "cancelled" for a client that left.
    error: str | None = None
    # The API's `usage.server_tool_use` counts it reported, as (field, count) pairs
    # (`("web_search_requests", 2)`): the tools the API ran for the call.
    server_tool_use: tuple[tuple[str, int], ...] = ()
    # A hedged call (`_upstream/hedging.py`): "won" when the hedge's answer was served, "lost" when
    # the first request's was; the usage of the request that lost, the extra a hedge cost.
    hedge: str | None = None
    hedge_input_tokens: int = 0
    hedge_output_tokens: int = 0
    hedge_cache_read_input_tokens: int = 0
    hedge_cache_creation_input_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens
