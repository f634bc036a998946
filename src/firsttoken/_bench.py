"""The guide's latency table, measured: TTFT p50/p95 and output tokens/s per profile's model.

Used by `firsttoken bench`, `flask firsttoken bench` and `manage.py firsttoken_bench`, against
whatever upstream the engine has (the emulator by default, the real API with a key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ._engine import Engine
from ._metrics import percentile

__all__ = ["BenchRow", "run_latency_bench"]

PROMPT = "In three sentences, explain why streaming a model's answer makes a web page feel fast."


@dataclass(frozen=True, slots=True)
class BenchRow:
    profile: str
    model: str
    requests: int
    errors: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tps_p50: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def run_latency_bench(
    engine: Engine,
    *,
    profiles: Sequence[str] | None = None,
    requests: int = 20,
    concurrency: int = 4,
    max_tokens: int = 120,
    prompt: str = PROMPT,
    on_request: Callable[[], None] | None = None,
) -> list[BenchRow]:
    """Stream `requests` answers per profile, `concurrency` at a time, and summarise their timings."""
    if requests < 1 or concurrency < 1:
        raise ValueError("requests and concurrency must be at least 1")
    names = list(profiles or engine.settings.profiles)
    rows = []
    for name in names:
        engine.profile(name)  # an unknown name fails before any request is made

        def one(_: int, name: str = name) -> tuple[float | None, float | None] | None:
            try:
                with engine.stream(
                    messages=[{"role": "user", "content": prompt}], profile=name, max_tokens=max_tokens
                ) as s:
                    s.text()
                return s.timings.ttft, s.timings.tps
            except Exception:
                return None
            finally:
                if on_request is not None:
                    on_request()

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="firsttoken-bench") as pool:
            results = list(pool.map(one, range(requests)))
        ok = [r for r in results if r is not None]
        ttfts = [t for t, _ in ok if t is not None]
        tps = [v for _, v in ok if v is not None]
        rows.append(
            BenchRow(
                profile=name,
                model=engine.profile(name).model,
                requests=requests,
                errors=requests - len(ok),
                ttft_p50_ms=_ms(percentile(ttfts, 50)),
                ttft_p95_ms=_ms(percentile(ttfts, 95)),
                tps_p50=None if not tps else round(percentile(tps, 50) or 0.0, 1),
            )
        )
    return rows
