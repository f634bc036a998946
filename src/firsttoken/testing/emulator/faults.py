"""Injected faults: the `KIND[:RATE][@MODEL]` grammar and the deterministic decision to fire one.

Decisions are drawn in arrival order: the n-th request since start (or reset) draws
`draw(seed, n)`, a uniform number from `random.Random(f"{seed}:{n}")`, and every matching fault
whose rate exceeds it fires (the first listed wins). Drawing per arrival rather than per request
body is deliberate: the SDK retries an identical request, and a retry must be able to succeed.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["FAULT_KINDS", "Fault", "FaultKind", "draw", "parse_fault", "parse_faults", "pick_fault"]

FaultKind = Literal[
    "overloaded",
    "rate_limit",
    "server_error",
    "midstream_overloaded",
    "drop",
    "slow",
    # The model declines: a short answer, `stop_reason: "refusal"` and `stop_details`.
    "refusal",
    # A `continue` finds its thread gone (the 404 `thread_not_found`, and the thread is dropped);
    # other requests are unaffected.
    "thread_lost",
    # Any threaded request is refused as one the API cannot thread (400
    # `thread_unsupported_request`); unthreaded requests are unaffected.
    "thread_unsupported",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# Mid-stream faults strike after this many tokens, late enough that the client has committed to
# the stream (headers and first tokens forwarded) and early enough to keep tests short.
MIDSTREAM_AFTER_TOKENS = 5


@dataclass(frozen=True, kw_only=True)
class Fault:
    kind: FaultKind
    rate: float = 1.0
    model: str = "*"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate!r}")
        if not self.model:
            raise ValueError("fault model glob must not be empty")

    def matches(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model, self.model)

    def __str__(self) -> str:
        return f"{self.kind}:{self.rate:g}@{self.model}"


def parse_fault(spec: str) -> Fault:
    """Parse one `KIND[:RATE][@MODEL]` string, e.g. `overloaded:0.5@*opus*`."""
    text = spec.strip()
    head, at, model = text.partition("@")
    kind, colon, rate_text = head.partition(":")
    kind = kind.strip()
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r} in {spec!r}; expected one of {', '.join(FAULT_KINDS)}")
    rate = 1.0
    if colon:
        try:
            rate = float(rate_text)
        except ValueError:
            raise ValueError(f"fault rate must be a number within 0..1 in {spec!r}") from None
    if at and not model.strip():
        raise ValueError(f"empty model glob after '@' in {spec!r}")
    return Fault(kind=kind, rate=rate, model=model.strip() if at else "*")


def parse_faults(specs: Iterable[object]) -> list[Fault]:
    faults: list[Fault] = []
    for spec in specs:
        if isinstance(spec, Fault):
            faults.append(spec)
        elif isinstance(spec, str):
            faults.extend(parse_fault(part) for part in spec.split(",") if part.strip())
        else:
            raise ValueError(f"a fault must be a Fault or a 'KIND[:RATE][@MODEL]' string, got {spec!r}")
    return faults


def draw(seed: int, n: int) -> float:
    """The uniform number the n-th request (0-based, since start or reset) is judged by."""
    return random.Random(f"{seed}:{n}").random()


def pick_fault(faults: Iterable[Fault], model: str, u: float) -> Fault | None:
    for fault in faults:
        if fault.matches(model) and u < fault.rate:
            return fault
    return None
