"""A profile's registered static prefix (tools, system prompt): what it sends and what we know of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._pricing import Ttl
from .._state import WarmLock
from .estimate import MESSAGE_OVERHEAD, block_tokens, prefix_digest, prefix_tokens
from .keepwarm import PrefixTraffic

__all__ = ["WARM_MESSAGE", "StaticPrefix", "WarmResult", "WarmStatus", "merge_prefix"]

# The smallest valid conversation: a warm call needs one user message, and it lies after the
# prefix's breakpoint, so it is never part of what is cached.
WARM_MESSAGE = {"role": "user", "content": "."}
WARM_MESSAGE_TOKENS = MESSAGE_OVERHEAD + block_tokens(".")


WarmStatus = Literal["warmed", "held_elsewhere", "below_minimum", "failed"]


@dataclass(frozen=True, slots=True)
class WarmResult:
    profile: str
    model: str
    status: WarmStatus
    prefix_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


@dataclass(eq=False)
class StaticPrefix:
    profile: str
    model: str
    tools: tuple[dict[str, Any], ...]
    system: tuple[dict[str, Any], ...]
    ttl: Ttl
    warm: bool
    keep_warm: bool
    digest: str
    estimate: int
    confirmed: int | None = None
    lock: WarmLock | None = None
    warmed: bool = False
    refreshes: int = 0
    traffic: PrefixTraffic = field(init=False)

    def __post_init__(self) -> None:
        self.traffic = PrefixTraffic(ttl=self.ttl)

    @classmethod
    def build(
        cls,
        *,
        profile: str,
        model: str,
        system: str | None,
        tools: Sequence[Mapping[str, Any]],
        ttl: Ttl,
        warm: bool,
        keep_warm: bool,
    ) -> StaticPrefix:
        tool_list = tuple(dict(t) for t in tools)
        blocks = ({"type": "text", "text": system},) if system else ()
        return cls(
            profile=profile,
            model=model,
            tools=tool_list,
            system=blocks,
            ttl=ttl,
            warm=warm,
            keep_warm=keep_warm,
            digest=prefix_digest(model, tool_list, blocks),
            estimate=prefix_tokens(tool_list, list(blocks)),
        )

    @property
    def tokens(self) -> int:
        return self.confirmed if self.confirmed is not None else self.estimate

    @property
    def end(self) -> tuple[Literal["tools", "system"], int]:
        if self.system:
            return ("system", len(self.system) - 1)
        return ("tools", len(self.tools) - 1)

    def count_params(self) -> dict[str, Any]:
        """`count_tokens` arguments whose answer, less WARM_MESSAGE_TOKENS, is the prefix's size."""
        params: dict[str, Any] = {"model": self.model, "messages": [WARM_MESSAGE]}
        if self.tools:
            params["tools"] = list(self.tools)
        if self.system:
            params["system"] = list(self.system)
        return params


def merge_prefix(prefix: StaticPrefix, params: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments with the registered tools first and the registered system prompt first."""
    out = dict(params)
    if prefix.tools:
        out["tools"] = [*prefix.tools, *(params.get("tools") or ())]
    if prefix.system:
        own = params.get("system")
        if own is None or own == "":
            rest: list[Any] = []
        elif isinstance(own, str):
            rest = [{"type": "text", "text": own}]
        else:
            rest = list(own)
        out["system"] = [*prefix.system, *rest]
    return out
