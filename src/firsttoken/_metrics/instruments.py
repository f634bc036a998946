"""The histograms of the OpenTelemetry GenAI conventions, the advisor's counter and warming's.

The instruments use the conventions' names, attributes and advised bucket boundaries, so
dashboards built for other GenAI clients work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ADVICE",
    "DURATION",
    "EXECUTE_TOOL",
    "HISTOGRAMS",
    "RESUMED",
    "SERVER_TOOL_REQUESTS",
    "TIME_PER_OUTPUT_CHUNK",
    "TIME_TO_FIRST_CHUNK",
    "TOKEN_USAGE",
    "UNCOUNTED",
    "WARMING",
    "CountWarming",
    "Instrument",
]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One histogram of the GenAI conventions: its OTel name, unit, and the buckets they advise."""

    name: str
    unit: str
    description: str
    buckets: tuple[float, ...]
    # The name OpenTelemetry's Prometheus exporter gives it (dots to underscores, the unit spelled out).
    prometheus: str


# Bucket boundaries as the GenAI semantic conventions advise them (the installed
# opentelemetry-semantic-conventions package carries the names but no advice): durations double
# from 10 ms to 82 s, token counts grow fourfold from 1 to 67 M, chunk gaps are finer under 1 s.
_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_CHUNK_GAPS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)

DURATION = Instrument(
    "gen_ai.client.operation.duration",
    "s",
    "GenAI operation duration.",
    _SECONDS,
    "gen_ai_client_operation_duration_seconds",
)
TOKEN_USAGE = Instrument(
    "gen_ai.client.token.usage",
    "{token}",
    "Number of input and output tokens used.",
    tuple(float(b) for b in _TOKENS),
    "gen_ai_client_token_usage",
)
TIME_TO_FIRST_CHUNK = Instrument(
    "gen_ai.client.operation.time_to_first_chunk",
    "s",
    "Time to receive the first chunk, from issuing the request to the first chunk of the stream.",
    _SECONDS,
    "gen_ai_client_operation_time_to_first_chunk_seconds",
)
TIME_PER_OUTPUT_CHUNK = Instrument(
    "gen_ai.client.operation.time_per_output_chunk",
    "s",
    "Time per output chunk after the first one.",
    _CHUNK_GAPS,
    "gen_ai_client_operation_time_per_output_chunk_seconds",
)
EXECUTE_TOOL = Instrument(
    "gen_ai.execute_tool.duration",
    "s",
    "Duration of a tool the server ran for an agent turn.",
    _SECONDS,
    "gen_ai_execute_tool_duration_seconds",
)
HISTOGRAMS = (DURATION, TOKEN_USAGE, TIME_TO_FIRST_CHUNK, TIME_PER_OUTPUT_CHUNK, EXECUTE_TOOL)
# Each of the advisor's warnings, counted every time its cause is seen (the log says it once).
ADVICE = "firsttoken.advisor.warnings"
# The requests of tools the API ran for the calls (`usage.server_tool_use`), by tool and model.
SERVER_TOOL_REQUESTS = "firsttoken.server_tool.requests"
# Warming's requests, counted as they happen (counters, so the deployment's sum is exact): by
# `firsttoken.warm.kind` (`keep_warm`: a cached prefix refreshed before it lapses; `stay_warm`: the
# idle connection's ping; `ahead`: a conversation warmed while its user types) and
# `firsttoken.warm.outcome` (`sent`, `skipped`, `failed`, and `hit` for a later call that read a
# warm of `ahead`'s from the cache); a skipped `ahead` warm carries its `firsttoken.warm.reason`.
WARMING = "firsttoken.warming"
# Answers a client resumed after its connection dropped (GET /api/chat/{id}/stream with Last-Event-ID).
RESUMED = "firsttoken.streams.resumed"
# What counts one (`Metrics.warming`): kind, outcome, and the reason of a skip (else None).
CountWarming = Callable[[str, str, "str | None"], None]


def _uncounted(kind: str, outcome: str, reason: str | None) -> None:
    """Where a feature is built without the engine's metrics (its own tests)."""


UNCOUNTED: CountWarming = _uncounted
