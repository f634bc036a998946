"""`firsttoken demo`: one streamed answer in the terminal, with its latency as it happens."""

from __future__ import annotations

import sys
from time import perf_counter

import anthropic
import click

from .._errors import FirstTokenError
from .._redact import scrub
from ._engine import engine_from_env, time_scale_option

QUESTION = "Why does streaming make a chat app feel fast? Answer in a short paragraph."


@click.command()
@click.option("--prompt", default=QUESTION, show_default=False, help="What to ask.")
@click.option("--profile", default="chat", show_default=True)
@time_scale_option
def demo(prompt: str, profile: str, time_scale: float | None) -> None:
    """Stream one answer and print time to first token and tokens/s as they happen."""
    engine = engine_from_env(time_scale)
    out = sys.stdout
    with engine:
        if profile not in engine.settings.profiles:
            raise click.BadParameter(f"unknown profile {profile!r}", param_hint="--profile")
        # Before the clock starts: the embedded emulator's start-up is no part of the first token.
        engine.upstream.start()
        click.secho(f"upstream: {engine.upstream.describe()['description']}", fg="cyan", err=True)
        click.secho(f"> {prompt}\n", bold=True, err=True)
        started = perf_counter()
        try:
            with engine.stream(messages=[{"role": "user", "content": prompt}], profile=profile) as stream:
                for n, text in enumerate(stream):
                    if n == 0:
                        click.secho(
                            f"[first token after {(perf_counter() - started) * 1000:.0f} ms]",
                            fg="green",
                            err=True,
                        )
                    out.write(text)
                    out.flush()
        except (anthropic.APIError, FirstTokenError) as exc:
            # One line, as the other failures of a command: the upstream's own words, scrubbed of
            # anything that looks like a credential.
            raise click.ClickException(
                f"the upstream failed: {type(exc).__name__}: {scrub(str(exc))}"
            ) from None
        t = stream.timings
        out.write("\n\n")
        tps = f"{t.tps:.0f} tokens/s" if t.tps else "n/a tokens/s"
        click.secho(
            f"{stream.model}: TTFT {(t.ttft or 0) * 1000:.0f} ms, {tps}, {t.output_tokens} tokens, "
            f"{(t.total or 0):.2f} s total, stop: {stream.stop_reason}",
            fg="green",
            err=True,
        )
