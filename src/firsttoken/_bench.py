"""The Anthropic Performance Tuning guide's latency table, measured: TTFT p50/p95 and output tokens/s per
profile's model.

The one implementation behind `firsttoken bench`, `flask firsttoken bench` and
`manage.py firsttoken_bench`, against whatever upstream the engine has (the emulator by default,
the real API with a key). The CLIs only parse options and print `BenchReport.as_dict()` or `table()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._latency import GUIDE_LATENCY, family_of
from ._metrics import percentile

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["BENCH_DEFAULTS", "BenchReport", "BenchRow", "run_latency_bench"]

PROMPT = "In three sentences, explain why streaming a model's answer makes a web page feel fast."
# What every CLI defaults to: enough streams for a p95 to mean something, a few at once as a
# page's users would, and answers long enough for tokens/s but far shorter than a whole reply.
BENCH_DEFAULTS = {"requests": 20, "concurrency": 4, "max_tokens": 120}


@dataclass(frozen=True, slots=True)
class BenchRow:
    profile: str
    model: str
    requests: int
    ok: int
    errors: int
    error_types: list[str]
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tps_p50: float | None


@dataclass(frozen=True, slots=True)
class BenchReport:
    upstream: dict[str, Any]
    rows: list[BenchRow]

    def as_dict(self) -> dict[str, Any]:
        return {"upstream": self.upstream, "results": [asdict(row) for row in self.rows]}

    def table(self) -> str:
        """The report as the CLIs print it: the upstream, then one line a profile."""
        titles = (
            "profile",
            "model",
            "n",
            "errors",
            "ttft p50",
            "ttft p95",
            "tok/s p50",
            "guide p50/p95, tok/s",
        )
        header = f"{titles[0]:<12} {titles[1]:<28} {titles[2]:>4} {titles[3]:>6} " + " ".join(
            f"{t:>9}" for t in titles[4:]
        )
        lines = [f"upstream: {self.upstream['description']}", header, "-" * len(header)]
        for row in self.rows:
            guide = GUIDE_LATENCY[family_of(row.model)]
            ms, tps = f"{guide.ttft_p50 * 1000:.0f}/{guide.ttft_p95 * 1000:.0f}", guide.tokens_per_second
            expected = f"{ms} ms, {tps:.0f}"
            lines.append(
                f"{row.profile:<12} {row.model:<28} {row.requests:>4} {row.errors:>6} "
                f"{_ms(row.ttft_p50_ms):>9} {_ms(row.ttft_p95_ms):>9} {_num(row.tps_p50):>9} {expected:>9}"
            )
        return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _rounded(value: float | None, scale: float = 1.0) -> float | None:
    return None if value is None else round(value * scale, 1)


def run_latency_bench(
    engine: Engine,
    *,
    profiles: Sequence[str] | None = None,
    requests: int = BENCH_DEFAULTS["requests"],
    concurrency: int = BENCH_DEFAULTS["concurrency"],
    max_tokens: int = BENCH_DEFAULTS["max_tokens"],
    on_request: Callable[[], None] | None = None,
) -> BenchReport:
    """Stream `requests` answers per profile, `concurrency` at a time, and summarise their timings.

    An unknown profile raises `KeyError` before any request; failed requests are counted by type.
    """
    if requests < 1 or concurrency < 1 or max_tokens < 1:
        raise ValueError("requests, concurrency and max_tokens must be at least 1")
    names = list(profiles or sorted(engine.settings.profiles))
    unknown = [n for n in names if n not in engine.settings.profiles]
    if unknown:
        raise KeyError(
            f"unknown profile {unknown[0]!r}; profiles are {', '.join(sorted(engine.settings.profiles))}"
        )
    return BenchReport(
        engine.upstream.describe(),
        [_measure(engine, name, requests, concurrency, max_tokens, on_request) for name in names],
    )


def _measure(
    engine: Engine,
    profile: str,
    requests: int,
    concurrency: int,
    max_tokens: int,
    on_request: Callable[[], None] | None,
) -> BenchRow:
    def one(_: int) -> tuple[float | None, float | None, str | None]:
        try:
            with engine.stream(
                messages=[{"role": "user", "content": PROMPT}], profile=profile, max_tokens=max_tokens
            ) as stream:
                stream.text()
            return stream.timings.ttft, stream.timings.tps, None
        except Exception as exc:  # every failure kind is reported by name in the row
            return None, None, type(exc).__name__
        finally:
            if on_request is not None:
                on_request()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="firsttoken-bench") as pool:
        results = list(pool.map(one, range(requests)))
    ttfts = [t for t, _, _ in results if t is not None]
    rates = [r for _, r, _ in results if r is not None]
    failures = [e for _, _, e in results if e is not None]
    return BenchRow(
        profile=profile,
        model=engine.profile(profile).model,
        requests=requests,
        ok=requests - len(failures),
        errors=len(failures),
        error_types=sorted(set(failures)),
        ttft_p50_ms=_rounded(percentile(ttfts, 50), 1000),
        ttft_p95_ms=_rounded(percentile(ttfts, 95), 1000),
        tps_p50=_rounded(percentile(rates, 50)),
    )
