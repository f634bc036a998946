"""Prompt caching users never have to think about: placement, pre-warming, keep-warm, hit rates.

`policy` places breakpoints, `estimate` counts tokens locally, `keepwarm` decides when a refresh
pays, `diagnostics` explains misses in debug mode, `costs` prices a finished call, and `manager`
ties them to the engine. Two
parts live lower down, where the layers put them: the cost model in `firsttoken/_pricing.py` (the
settings validate its tables) and the warm locks, which pick the one process that warms, in
storage (`_state/locks.py`, next to their Redis lease).
"""

from .._pricing import CostModel
from .keepwarm import refresh_pays
from .manager import CacheManager, WarmResult
from .policy import MAX_BREAKPOINTS, Placement, count_breakpoints, place

__all__ = [
    "MAX_BREAKPOINTS",
    "CacheManager",
    "CostModel",
    "Placement",
    "WarmResult",
    "count_breakpoints",
    "place",
    "refresh_pays",
]
