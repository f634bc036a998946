"""`flask firsttoken check` and `flask firsttoken bench`: operations against the app's upstream."""

from __future__ import annotations

import json
from time import perf_counter

import anthropic
import click
from flask.cli import AppGroup, FlaskGroup

from firsttoken import BENCH_DEFAULTS, Engine, review_settings, run_latency_bench

from .config import config_key
from .registry import get_engine

__all__ = ["firsttoken_cli"]

firsttoken_cli = AppGroup("firsttoken", help="Check and measure the app's Claude upstream.")


def loaded_by_flask_cli() -> bool:
    """Whether the `flask` command is loading the app (its group is the root of the click context)."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and isinstance(ctx.find_root().command, FlaskGroup)


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
    """Review the settings, then reach the upstream with a one-token call per profile; exit 1 if
    the review finds an error or any call fails."""
    engine = get_engine()
    findings = review_settings(engine.settings, key_name=config_key)
    for finding in findings:
        click.echo(f"{finding.id}: {finding.message}\n  hint: {finding.hint}", err=finding.is_error)
    if any(finding.is_error for finding in findings):
        raise click.ClickException("the settings cannot work; see above")
    click.echo(f"upstream: {engine.upstream.describe()['description']}")
    # The probes' one-token "ping" is the check's, not the app's: advice on it (prompt uncached,
    # Opus for one token) would be about nothing the app does. This process only runs the check.
    engine.advisor.enabled = False
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
@click.option(
    "-n", "--requests", "count", default=BENCH_DEFAULTS["requests"], show_default=True, type=click.IntRange(1)
)
@click.option(
    "-c", "--concurrency", default=BENCH_DEFAULTS["concurrency"], show_default=True, type=click.IntRange(1)
)
@click.option("--profile", "profiles", multiple=True, help="Measure only this profile (repeatable).")
@click.option(
    "--max-tokens",
    default=BENCH_DEFAULTS["max_tokens"],
    show_default=True,
    type=click.IntRange(1),
    help="Output budget per call: TTFT and tokens/s need a few tokens, not a whole answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def bench(count: int, concurrency: int, profiles: tuple[str, ...], max_tokens: int, as_json: bool) -> None:
    """Time to first token (p50/p95) and tokens/s per profile's model, streamed against the upstream."""
    engine = get_engine()
    report = run_latency_bench(
        engine,
        profiles=_profiles(engine, profiles),
        requests=count,
        concurrency=concurrency,
        max_tokens=max_tokens,
    )
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.table())
