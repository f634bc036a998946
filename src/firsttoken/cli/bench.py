"""`firsttoken bench`: reproduce the guide's latency table against the configured upstream."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._bench import run_latency_bench
from .._engine import Engine
from .._errors import SettingsError
from .._latency import GUIDE_LATENCY, family_of


@click.command()
@click.option("--profile", "profiles", multiple=True, help="Profile to measure (repeatable); default: all.")
@click.option("--requests", "-n", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--concurrency", "-c", default=4, show_default=True, type=click.IntRange(1, 256))
@click.option("--max-tokens", default=120, show_default=True, type=click.IntRange(1, 8192))
@click.option(
    "--time-scale", type=click.FloatRange(min=0), help="The embedded emulator's time scale (default 1)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def bench(
    profiles: tuple[str, ...],
    requests: int,
    concurrency: int,
    max_tokens: int,
    time_scale: float | None,
    as_json: bool,
) -> None:
    """TTFT p50/p95 and output tokens/s per model, like the guide's latency table.

    Upstream: ANTHROPIC_BASE_URL, else the real API with ANTHROPIC_API_KEY, else the embedded emulator.
    """
    overrides: dict[str, Any] = {} if time_scale is None else {"emulator_time_scale": time_scale}
    try:
        engine = Engine.from_env(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    console = Console(stderr=True)
    with engine:
        names = list(profiles or engine.settings.profiles)
        unknown = [p for p in names if p not in engine.settings.profiles]
        if unknown:
            raise click.BadParameter(f"unknown profile {unknown[0]!r}", param_hint="--profile")
        console.print(f"upstream: {engine.upstream.describe()['description']}")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress:
            task = progress.add_task("streaming", total=requests * len(names))
            rows = run_latency_bench(
                engine,
                profiles=names,
                requests=requests,
                concurrency=concurrency,
                max_tokens=max_tokens,
                on_request=lambda: progress.advance(task),
            )
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    table = Table(title="Latency (measured) vs the guide's table")
    for column in ("profile", "model", "TTFT p50", "TTFT p95", "tokens/s", "guide p50/p95, tok/s", "errors"):
        table.add_column(column)

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    for row in rows:
        guide = GUIDE_LATENCY[family_of(row.model)]
        table.add_row(
            row.profile,
            row.model,
            ms(row.ttft_p50_ms),
            ms(row.ttft_p95_ms),
            "-" if row.tps_p50 is None else f"{row.tps_p50:.0f}",
            f"{guide.ttft_p50 * 1000:.0f}/{guide.ttft_p95 * 1000:.0f} ms, {guide.tokens_per_second:.0f}",
            str(row.errors),
        )
    Console().print(table)
