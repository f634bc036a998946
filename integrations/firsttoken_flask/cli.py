"""`flask firsttoken check` and `flask firsttoken bench`: operations against the app's upstream."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any

try:
    import click
    from flask import current_app
    from flask.cli import AppGroup
except ImportError:  # pragma: no cover - exercised only without Flask
    from .errors import FlaskNotInstalled

    raise FlaskNotInstalled() from None

import anthropic

from firsttoken import Engine, UpstreamFailure
from firsttoken._metrics import percentile

__all__ = ["firsttoken_cli"]

firsttoken_cli = AppGroup("firsttoken", help="Check and measure the app's Claude upstream.")

BENCH_PROMPT = "Explain in a few sentences why streaming makes a chat answer feel fast."


def _engine() -> Engine:
    # Imported late: extension.py imports this module to register the group.
    from .extension import engine_of

    return engine_of(current_app)


def _redact(text: str, engine: Engine) -> str:
    # An upstream's error text may quote the request; the key must never reach a terminal or CI log.
    key = engine.upstream.api_key
    return text.replace(key, "***") if key else text


def _profiles(engine: Engine, chosen: tuple[str, ...]) -> list[str]:
    names = list(chosen) or sorted(engine.settings.profiles)
    unknown = [n for n in names if n not in engine.settings.profiles]
    if unknown:
        raise click.BadParameter(
            f"unknown profile {unknown[0]!r}; profiles are {', '.join(sorted(engine.settings.profiles))}",
            param_hint="--profile",
        )
    return names


@firsttoken_cli.command("check")
@click.option("--profile", "profiles", multiple=True, help="Check only this profile (repeatable).")
def check(profiles: tuple[str, ...]) -> None:
    """Reach the upstream with a one-token call per profile; exit 1 if any fails."""
    engine = _engine()
    click.echo(f"upstream: {engine.upstream.describe()['description']}")
    failed = 0
    for name in _profiles(engine, profiles):
        model = engine.profile(name).model
        started = perf_counter()
        try:
            engine.create(profile=name, max_tokens=1, messages=[{"role": "user", "content": "ping"}])
        except anthropic.APIError as exc:
            failed += 1
            status = getattr(exc, "status_code", None)
            reason = f"HTTP {status}: {exc.message}" if status else exc.message
            click.echo(f"FAIL {name} ({model}): {type(exc).__name__}: {_redact(reason, engine)}", err=True)
            continue
        click.echo(f"ok   {name} ({model}) in {(perf_counter() - started) * 1000:.0f} ms")
    if failed:
        raise click.ClickException(f"{failed} profile(s) could not reach the upstream")


@firsttoken_cli.command("bench")
@click.option("-n", "--requests", "count", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("-c", "--concurrency", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--profile", "profiles", multiple=True, help="Measure only this profile (repeatable).")
@click.option(
    "--max-tokens",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Output budget per call: TTFT and tokens/s need a few tokens, not a whole answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def bench(count: int, concurrency: int, profiles: tuple[str, ...], max_tokens: int, as_json: bool) -> None:
    """Time to first token (p50/p95) and tokens/s per profile's model, streamed against the upstream."""
    engine = _engine()
    rows = [_measure(engine, name, count, concurrency, max_tokens) for name in _profiles(engine, profiles)]
    if as_json:
        click.echo(json.dumps({"upstream": engine.upstream.describe(), "results": rows}, indent=2))
        return
    click.echo(f"upstream: {engine.upstream.describe()['description']}")
    titles = ("profile", "model", "n", "errors", "ttft p50", "ttft p95", "tok/s p50")
    header = f"{titles[0]:<12} {titles[1]:<28} {titles[2]:>4} {titles[3]:>6} " + " ".join(
        f"{t:>9}" for t in titles[4:]
    )
    click.echo(header)
    click.echo("-" * len(header))
    for row in rows:
        click.echo(
            f"{row['profile']:<12} {row['model']:<28} {row['requests']:>4} {row['errors']:>6} "
            f"{_ms(row['ttft_p50_ms']):>9} {_ms(row['ttft_p95_ms']):>9} {_num(row['tps_p50']):>9}"
        )


def _measure(engine: Engine, profile: str, count: int, concurrency: int, max_tokens: int) -> dict[str, Any]:
    def one(_: int) -> tuple[float | None, float | None, str | None]:
        try:
            with engine.stream(
                profile=profile, max_tokens=max_tokens, messages=[{"role": "user", "content": BENCH_PROMPT}]
            ) as stream:
                for _text in stream:
                    pass
            return stream.timings.ttft, stream.timings.tps, None
        except (anthropic.APIError, UpstreamFailure) as exc:
            return None, None, type(exc).__name__

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="firsttoken-bench") as pool:
        results = list(pool.map(one, range(count)))
    ttfts = [t for t, _, _ in results if t is not None]
    rates = [r for _, r, _ in results if r is not None]
    p50, p95, tps = percentile(ttfts, 50), percentile(ttfts, 95), percentile(rates, 50)
    return {
        "profile": profile,
        "model": engine.profile(profile).model,
        "requests": count,
        "errors": sum(1 for _, _, e in results if e is not None),
        "error_types": sorted({e for _, _, e in results if e is not None}),
        "ttft_p50_ms": None if p50 is None else round(p50 * 1000, 1),
        "ttft_p95_ms": None if p95 is None else round(p95 * 1000, 1),
        "tps_p50": None if tps is None else round(tps, 1),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
