"""OpenTelemetry export: whether the app configured a provider, and the same observations sent there.

Without a configured MeterProvider nothing is sent to OpenTelemetry; the histograms are still kept
as plain bucket counts (`series.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from opentelemetry import metrics as otel

from .._version import __version__
from .instruments import (
    ADVICE,
    DURATION,
    EXECUTE_TOOL,
    HISTOGRAMS,
    TIME_PER_OUTPUT_CHUNK,
    TIME_TO_FIRST_CHUNK,
    TOKEN_USAGE,
)
from .record import CallRecord
from .series import Attrs

__all__ = ["OtelExport", "ProviderCheck", "meter_configured"]


class ProviderCheck:
    """Whether the app has configured an OpenTelemetry provider, asked at most once a second.

    The API's getters read the environment on every call until a provider is set (about 1 us
    each): too dear per call in the no-provider case most apps are in. A provider set later is
    seen within a second; once set it cannot be unset, so a yes is kept for good.
    """

    __slots__ = ("_get", "_live", "_next", "_placeholders")

    def __init__(self, get: Callable[[], object], placeholders: frozenset[str]) -> None:
        # By class name: the API exports no name for its metrics proxy (`_ProxyMeterProvider`).
        self._get, self._placeholders = get, placeholders
        self._live = False
        self._next = 0.0

    def __call__(self) -> bool:
        if self._live:
            return True
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 1.0
            self._live = type(self._get()).__name__ not in self._placeholders
        return self._live


def meter_configured() -> ProviderCheck:
    return ProviderCheck(otel.get_meter_provider, frozenset({"_ProxyMeterProvider", "NoOpMeterProvider"}))


class OtelExport:
    """The GenAI instruments on the OpenTelemetry meter, and what is recorded on them; `live` says
    whether the app has configured a MeterProvider (until then, the calls and tools are not sent)."""

    def __init__(self) -> None:
        meter = otel.get_meter("firsttoken", __version__)
        self.live = meter_configured()
        self._dicts: dict[Attrs, dict[str, str]] = {}
        self._histograms = {
            i.name: meter.create_histogram(
                i.name, unit=i.unit, description=i.description, explicit_bucket_boundaries_advisory=i.buckets
            )
            for i in HISTOGRAMS
        }
        # `gen_ai.client.streaming.time_to_first_token` was never a convention name: it is kept in
        # OpenTelemetry only, as a deprecated alias of `time_to_first_chunk` for existing dashboards.
        self._deprecated_ttft = meter.create_histogram(
            "gen_ai.client.streaming.time_to_first_token",
            unit="s",
            description="Deprecated: use gen_ai.client.operation.time_to_first_chunk",
            explicit_bucket_boundaries_advisory=TIME_TO_FIRST_CHUNK.buckets,
        )
        self._advice = meter.create_counter(
            ADVICE, unit="{warning}", description="Advisor warnings, counted each time the cause is seen"
        )

    def _as_dict(self, key: Attrs) -> dict[str, str]:
        # The OTel API wants a mapping; one per attribute set, shared (nothing mutates it).
        found = self._dicts.get(key)
        if found is None:
            if len(self._dicts) >= 4096:
                self._dicts.clear()
            found = self._dicts[key] = dict(key)
        return found

    def call(self, record: CallRecord, keys: tuple[Attrs, Attrs, Attrs]) -> None:
        """One finished call: its attribute set, and the same with the token type input and output."""
        key, input_key, output_key = keys
        attributes = self._as_dict(key)
        histograms = self._histograms
        histograms[DURATION.name].record(record.total, attributes)
        if record.ttft is not None:
            histograms[TIME_TO_FIRST_CHUNK.name].record(record.ttft, attributes)
            self._deprecated_ttft.record(record.ttft, attributes)
        if record.tps:
            histograms[TIME_PER_OUTPUT_CHUNK.name].record(1.0 / record.tps, attributes)
        if record.error is None:
            histograms[TOKEN_USAGE.name].record(record.prompt_tokens, self._as_dict(input_key))
            histograms[TOKEN_USAGE.name].record(record.output_tokens, self._as_dict(output_key))

    def tools(self, calls: Iterable[tuple[Attrs, float]]) -> None:
        """An agent turn's tool calls: each one's attribute set and seconds."""
        histogram = self._histograms[EXECUTE_TOOL.name]
        for key, seconds in calls:
            histogram.record(seconds, self._as_dict(key))

    def advised(self, key: Attrs) -> None:
        self._advice.add(1, self._as_dict(key))
