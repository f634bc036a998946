# Generated from _async/warm.py by scripts/unasync.py: edit that file, then `make unasync`.
"""Pre-warming's requests, written once: this async source is the only one.

`../_sync/warm.py` is generated from it (`make unasync`). The decisions (which prefixes, with which
parameters, what a result means) are the manager's; only the calls are here.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import anthropic

from ..prefixes import StaticPrefix, WarmResult

__all__ = ["confirm_now", "warm"]

logger = logging.getLogger("firsttoken.caching")

COUNT_TIMEOUT = 10.0


class Warmer(Protocol):
    """What the requests need of the `CacheManager` (a Protocol: the manager imports this module)."""

    def to_confirm(self) -> list[StaticPrefix]: ...

    def store_count(self, digest: str, input_tokens: int, prefix: StaticPrefix | None) -> None: ...

    def warm_plan(self) -> list[tuple[StaticPrefix, WarmResult | None]]: ...

    def warm_params(self, prefix: StaticPrefix) -> dict[str, Any]: ...

    def warmed(self, prefix: StaticPrefix, usage: Any, *, refresh: bool) -> WarmResult: ...

    def warm_failed(self, prefix: StaticPrefix, exc: Exception) -> WarmResult: ...

    def start_keep_warm(self) -> None: ...


def confirm_now(manager: Warmer, client: anthropic.Anthropic) -> None:
    """Count every registered prefix near its model's minimum (warm time: off the request path)."""
    for prefix in manager.to_confirm():
        counted = client.messages.count_tokens(**prefix.count_params(), timeout=COUNT_TIMEOUT)
        manager.store_count(prefix.digest, counted.input_tokens, prefix)


def warm(manager: Warmer, client: anthropic.Anthropic) -> list[WarmResult]:
    """Pre-warm every registered prefix this process holds the lock for, then start keep-warm."""
    try:
        confirm_now(manager, client)
    except anthropic.APIError as exc:
        logger.warning(
            "firsttoken: count_tokens failed while warming; using the local estimate: %s", type(exc).__name__
        )
    results = []
    for prefix, skipped in manager.warm_plan():
        if skipped is not None:
            results.append(skipped)
            continue
        try:
            message = client.messages.create(**manager.warm_params(prefix))
        except anthropic.APIError as exc:
            results.append(manager.warm_failed(prefix, exc))
            continue
        results.append(manager.warmed(prefix, message.usage, refresh=False))
    manager.start_keep_warm()
    return results
