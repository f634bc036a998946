"""What a piece of code leaves to the cyclic garbage collector instead of freeing by refcount.

A cycle per request is invisible in a unit test and costs a busy server its tail latency: every
collection then finds work, and a full one walks the whole heap (tens of ms at a few hundred
open streams).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_garbage() -> Iterator[Callable[[type | tuple[type, ...]], list[object]]]:
    """`with cyclic_garbage() as left: ...; assert left(SomeType) == []`.

    Inside the block nothing is freed by the collector; `left(types)` collects and returns the
    unreachable objects of those types that only a collection would have freed.
    """
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[object] = []

    def left(types: type | tuple[type, ...]) -> list[object]:
        gc.collect()
        found[:] = [o for o in gc.garbage if isinstance(o, types)]
        return list(found)

    try:
        yield left
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        found.clear()
