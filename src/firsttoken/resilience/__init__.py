"""Fallback chains, cooldowns and the rate-limit governor (the guide's "529 overloaded" row)."""

from .breaker import Breaker, BreakerStore, MemoryBreakerStore
from .fallback import Outcome, Policy, Resilience, ResilientAsyncTextStream, ResilientTextStream
from .governor import Governor, RateLimited

__all__ = [
    "Breaker",
    "BreakerStore",
    "Governor",
    "MemoryBreakerStore",
    "Outcome",
    "Policy",
    "RateLimited",
    "Resilience",
    "ResilientAsyncTextStream",
    "ResilientTextStream",
]
