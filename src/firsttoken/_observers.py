"""What learns of a finished call: one list (`Engine.on_finished`), streamed calls and one-shot alike.

Metrics, the advisor, prompt caching, telemetry and warming-ahead are its first five entries; an
app may append its own. Each is handed a `CallOutcome`; agent turns' totals go to `turn()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from anthropic.types import Message

from ._advisor import Advisor
from ._agent import TurnRecord
from ._caching import CacheManager
from ._caching.ahead import WarmAhead
from ._call import Call
from ._metrics import CallRecord, Metrics
from ._state import State
from ._telemetry import Telemetry
from ._upstream.warmup import WarmUp

__all__ = ["CallOutcome", "Observers"]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One finished call, as every observer of the engine sees it."""

    call: Call
    # What was sent: the call's arguments with the cache breakpoints placed.
    params: Mapping[str, Any]
    record: CallRecord
    # The answer, built on demand (a stream's message is folded only if an observer asks).
    message: Callable[[], Message] | None
    # The OpenTelemetry context the call began in (None when the app does not trace).
    trace: Any = None

    @property
    def profile(self) -> str:
        return self.call.profile


class Observers:
    """The engine's observers, handed the parts they report to, never the engine."""

    def __init__(
        self,
        metrics: Metrics,
        shared: State,
        advisor: Advisor,
        caching: CacheManager,
        telemetry: Telemetry,
        ahead: WarmAhead,
        warmup: WarmUp,
    ) -> None:
        self._metrics, self._shared, self._advisor = metrics, shared, advisor
        self._caching, self._telemetry, self._ahead, self._warmup = caching, telemetry, ahead, warmup
        # Everything that learns of a finished call, in order.
        self.on_finished: list[Callable[[CallOutcome], None]] = [
            self.metrics,
            self.advice,
            self.caching,
            self.telemetry,
            self.warming,
        ]

    def began(self, *, streamed: bool) -> Any:
        """A call is about to go out: the open-streams gauge counts a stream; the result is the
        OpenTelemetry context it began in (None when the app does not trace), for its outcome."""
        # Traffic: the warm-up's idle timer (staying warm) starts again, at the start and the end.
        self._warmup.touch()
        if streamed:
            self._metrics.stream_opened()
        return self._telemetry.begin()

    def notify(self, outcome: CallOutcome) -> None:
        self._warmup.touch()
        for observe in self.on_finished:
            observe(outcome)

    def turn(self, record: TurnRecord) -> None:
        self._metrics.record_turn(record)
        self._shared.watch(self._metrics)
        self._telemetry.turn(record)

    def metrics(self, outcome: CallOutcome) -> None:
        record = outcome.record
        saved = self._caching.saved(record) if record.error is None else 0.0
        hedge_cost = self._caching.hedge_cost(record) if record.hedge is not None else 0.0
        self._metrics.record(
            record,
            saved=saved,
            requested=str(outcome.params.get("model", record.model)),
            hedge_cost=hedge_cost,
            cost=self._caching.cost(record),
        )
        self._shared.watch(self._metrics)

    def advice(self, outcome: CallOutcome) -> None:
        record, params = outcome.record, outcome.params
        self._advisor.observe(record)
        if record.error in ("APITimeoutError", "timeout_error"):
            self._advisor.timed_out(outcome.profile, str(params["model"]), float(params["timeout"]))
        elif record.error in ("OverloadedError", "overloaded_error"):
            fallbacks = bool(outcome.call.options.fallbacks)
            self._advisor.overloaded(outcome.profile, str(params["model"]), has_fallback=fallbacks)

    def caching(self, outcome: CallOutcome) -> None:
        self._caching.finished(outcome.profile, outcome.params, outcome.record, outcome.message)

    def telemetry(self, outcome: CallOutcome) -> None:
        self._telemetry.finished(outcome.trace, outcome.params, outcome.record, outcome.message)

    def warming(self, outcome: CallOutcome) -> None:
        self._ahead.finished(outcome.params, outcome.record)
