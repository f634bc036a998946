"""Who the examples show firsttoken's console to: this machine only.

The examples are development apps bound to 127.0.0.1, but run without their framework's debug mode
(the contract's production behaviour: no key, no start). So each opens the console with this
access check rather than debug: a request from the loopback interface. Behind a proxy every request
comes from it; a deployed app checks its own login instead (docs/console.md).
"""

from __future__ import annotations

__all__ = ["is_loopback"]

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback(address: str | None) -> bool:
    return address in LOOPBACK
