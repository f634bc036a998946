"""Histogram bucket counts and counters by (name, attributes), kept here for the Prometheus scrape
and the deployment-wide sum in Redis: additive, so the workers' sum is exact."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import Any

from .instruments import Instrument

__all__ = ["Attrs", "Series", "bump", "merge_series"]

# One series' attributes, sorted: what a series is keyed by.
Attrs = tuple[tuple[str, str], ...]
_Key = tuple[str, Attrs]


class Series:
    """Histogram bucket counts and counters by (name, attributes): additive, so workers' sum is exact."""

    __slots__ = ("counters", "histograms")

    def __init__(self) -> None:
        # Per bucket (not cumulative) counts, one more than the boundaries for +Inf, then sum, count.
        self.histograms: dict[_Key, list[Any]] = {}
        self.counters: dict[_Key, float] = {}

    def entry(self, instrument: Instrument, key: tuple[tuple[str, str], ...]) -> list[Any]:
        """The counts of one histogram series, made on first use; `observe` adds to it."""
        entry = self.histograms.get((instrument.name, key))
        if entry is None:
            entry = self.histograms[(instrument.name, key)] = [[0] * (len(instrument.buckets) + 1), 0.0, 0]
        return entry

    def observe(self, instrument: Instrument, value: float, key: tuple[tuple[str, str], ...]) -> None:
        bump(self.entry(instrument, key), instrument.buckets, value)

    def add(self, name: str, key: tuple[tuple[str, str], ...], amount: float = 1) -> None:
        self.counters[(name, key)] = self.counters.get((name, key), 0) + amount

    def dump(self) -> dict[str, Any]:
        """JSON-able, for the snapshot and the Redis publication."""
        return {
            "histograms": [
                {"name": name, "attributes": dict(key), "counts": list(e[0]), "sum": e[1], "count": e[2]}
                for (name, key), e in self.histograms.items()
            ],
            "counters": [
                {"name": name, "attributes": dict(key), "value": value}
                for (name, key), value in self.counters.items()
            ],
        }


def merge_series(dumps: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several `Series.dump()`s added up: bucket by bucket, counter by counter."""
    merged = Series()
    for dump in dumps:
        for h in dump.get("histograms", ()):
            key = (h["name"], tuple(sorted(h["attributes"].items())))
            entry = merged.histograms.get(key)
            if entry is None:
                entry = merged.histograms[key] = [[0] * len(h["counts"]), 0.0, 0]
            entry[0] = [a + int(b) for a, b in zip(entry[0], h["counts"], strict=True)]
            entry[1] += float(h["sum"])
            entry[2] += int(h["count"])
        for c in dump.get("counters", ()):
            merged.add(c["name"], tuple(sorted(c["attributes"].items())), float(c["value"]))
    return merged.dump()


def bump(entry: list[Any], buckets: tuple[float, ...], value: float) -> None:
    entry[0][bisect_left(buckets, value)] += 1
    entry[1] += value
    entry[2] += 1
