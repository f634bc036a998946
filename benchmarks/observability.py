"""The cost per call of the observability with no OpenTelemetry provider configured.

`with`: what every finished call now goes through: the span context check at the start
(`Telemetry.begin`, the open-streams gauge) and, at the end, the engine's whole observer list
(windows, the conventions' histograms and their OTel proxies, the advisor and its counters,
caching, the span/rows observer). `without`: the same call's observers with the metrics
reduced to the windows `/api/metrics` always had, and no telemetry observer. Interleaved rounds
in one run; the minimum per-call time of each is kept (the machine is shared and noisy).

    .venv/bin/python benchmarks/observability.py
"""

from __future__ import annotations

import time

from firsttoken import CallRecord, Engine, Settings
from firsttoken._observers import CallOutcome

N = 20_000
ROUNDS = 7


def main() -> None:
    engine = Engine(Settings(base_url="http://127.0.0.1:9"))
    record = CallRecord(
        profile="chat",
        model="claude-sonnet-5-5",
        streamed=True,
        total=1.2,
        ttft=0.31,
        tps=88.0,
        input_tokens=1200,
        output_tokens=96,
        cache_read_input_tokens=4096,
    )
    params = {"model": "claude-sonnet-5-5", "max_tokens": 1024, "messages": [], "timeout": 60.0}
    call = CallOutcome(engine._calls.build("chat", params), params, record, None, None)
    full = list(engine.on_finished)
    metrics = engine.metrics

    def windows_only(finished: CallOutcome) -> None:
        # The metrics path without observability: the caching savings and the three windows under
        # the lock (what `/api/metrics` always needed), published as before; nothing else.
        r = finished.record
        saved = engine.caching.saved(r)
        with metrics._lock:
            for groups, name in ((metrics._models, r.model), (metrics._profiles, r.profile)):
                window = groups.get(name)
                if window is None:
                    from firsttoken._metrics import Window

                    window = groups[name] = Window(1024)
                window.add(r, saved)
            metrics._all.add(r, saved)
        engine.shared.watch(metrics)

    bare = [windows_only, engine._observers.advice, engine._observers.caching]

    def with_it() -> float:
        engine.on_finished[:] = full
        start = time.perf_counter()
        for _ in range(N):
            engine.telemetry.begin()
            metrics.stream_opened()
            engine._observers.notify(call)
        return (time.perf_counter() - start) / N

    def without_it() -> float:
        engine.on_finished[:] = bare
        start = time.perf_counter()
        for _ in range(N):
            engine._observers.notify(call)
        return (time.perf_counter() - start) / N

    best_with = best_without = float("inf")
    for _ in range(ROUNDS):
        best_without = min(best_without, without_it())
        best_with = min(best_with, with_it())
    engine.close()
    added = (best_with - best_without) * 1e6
    print(f"per call without observability: {best_without * 1e6:.2f} us")
    print(f"per call with it (no provider):  {best_with * 1e6:.2f} us")
    print(f"added: {added:.2f} us per call (goal < 5 us); ratio {best_with / best_without:.2f}x")


if __name__ == "__main__":
    main()
