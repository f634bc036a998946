"""Prompt caching users never have to think about: placement, pre-warming, keep-warm, hit rates.

`policy` places breakpoints, `estimate` counts tokens locally, `pricing` holds the cost model,
`keepwarm` decides when a refresh pays, `locks` picks the one process that warms, `diagnostics`
explains misses in debug mode, and `manager` ties them to the engine.
"""

from .keepwarm import refresh_pays
from .locks import FileLock, LockFactory, WarmLock
from .manager import CacheManager, WarmResult
from .policy import MAX_BREAKPOINTS, Placement, count_breakpoints, place
from .pricing import DEFAULT_MIN_TOKENS, DEFAULT_PRICES, CostModel

__all__ = [
    "DEFAULT_MIN_TOKENS",
    "DEFAULT_PRICES",
    "MAX_BREAKPOINTS",
    "CacheManager",
    "CostModel",
    "FileLock",
    "LockFactory",
    "Placement",
    "WarmLock",
    "WarmResult",
    "count_breakpoints",
    "place",
    "refresh_pays",
]
