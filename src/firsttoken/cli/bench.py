"""`firsttoken bench`: reproduce the Anthropic Performance Tuning guide's latency table against the
configured upstream."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .._bench import BENCH_DEFAULTS, run_latency_bench
from ._engine import engine_from_env, time_scale_option


@click.command()
@click.option("--profile", "profiles", multiple=True, help="Profile to measure (repeatable); default: all.")
@click.option(
    "--requests", "-n", default=BENCH_DEFAULTS["requests"], show_default=True, type=click.IntRange(1)
)
@click.option(
    "--concurrency", "-c", default=BENCH_DEFAULTS["concurrency"], show_default=True, type=click.IntRange(1)
)
@click.option("--max-tokens", default=BENCH_DEFAULTS["max_tokens"], show_default=True, type=click.IntRange(1))
@time_scale_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def bench(
    profiles: tuple[str, ...],
    requests: int,
    concurrency: int,
    max_tokens: int,
    time_scale: float | None,
    as_json: bool,
) -> None:
    """TTFT p50/p95 and output tokens/s per model, like the Anthropic Performance Tuning guide's latency
    table.

    Upstream: ANTHROPIC_BASE_URL, else the real API with ANTHROPIC_API_KEY, else the embedded emulator.
    """
    engine = engine_from_env(time_scale)
    with engine:
        unknown = [p for p in profiles if p not in engine.settings.profiles]
        if unknown:
            raise click.BadParameter(f"unknown profile {unknown[0]!r}", param_hint="--profile")
        names = list(profiles or engine.settings.profiles)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=as_json,
        ) as progress:
            task = progress.add_task("streaming", total=requests * len(names))
            report = run_latency_bench(
                engine,
                profiles=names,
                requests=requests,
                concurrency=concurrency,
                max_tokens=max_tokens,
                on_request=lambda: progress.advance(task),
            )
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.table())
