"""Metrics: per-call records, rolling percentiles per model and profile, the GenAI histograms, and
their OpenTelemetry export. Pure, no I/O.

`record` (what a call was) is read by every observer; `instruments` names the histograms of the
GenAI conventions, `series` keeps their bucket counts, `windows` the rolling windows, `export`
sends the same to OpenTelemetry once the app configures a provider, and `recorder`'s `Metrics`
ties them together for one process.
"""

from .export import ProviderCheck
from .instruments import (
    ADVICE,
    HISTOGRAMS,
    RESUMED,
    SERVER_TOOL_REQUESTS,
    UNCOUNTED,
    WARMING,
    CountWarming,
    Instrument,
)
from .record import CallRecord
from .recorder import Metrics, merge_dumps
from .series import Series, merge_series
from .windows import CacheWindow, Window, percentile, summarize_turns

__all__ = [
    "ADVICE",
    "HISTOGRAMS",
    "RESUMED",
    "SERVER_TOOL_REQUESTS",
    "UNCOUNTED",
    "WARMING",
    "CacheWindow",
    "CallRecord",
    "CountWarming",
    "Instrument",
    "Metrics",
    "ProviderCheck",
    "Series",
    "Window",
    "merge_dumps",
    "merge_series",
    "percentile",
    "summarize_turns",
]
