"""What `firsttoken bench` and `firsttoken demo` share: the `--time-scale` option and the engine
each builds from the environment."""

from __future__ import annotations

from typing import Any

import click

from .._engine import Engine
from .._errors import SettingsError

__all__ = ["engine_from_env", "time_scale_option"]

time_scale_option = click.option(
    "--time-scale", type=click.FloatRange(min=0), help="The embedded emulator's time scale (default 1)."
)


def engine_from_env(time_scale: float | None) -> Engine:
    """The environment's engine, without the advisor (its advice would be on the command's own
    prompts, not on anything of the app's); a bad setting is the command's one-line error."""
    overrides: dict[str, Any] = {"advisor": False}
    if time_scale is not None:
        overrides["emulator_time_scale"] = time_scale
    try:
        return Engine.from_env(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
