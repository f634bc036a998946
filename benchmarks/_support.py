"""Shared by the benchmark scripts: an emulator in its own process, so it never shares our CPU clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from firsttoken.testing.emulator import EmulatorProcess


@contextmanager
def emulator_process(
    *, time_scale: float = 0.0, cpu: int | None = None, extra: Sequence[str] = ()
) -> Iterator[str]:
    """`firsttoken emulate` in a child process (optionally pinned to one core); yields its base URL."""
    with EmulatorProcess(time_scale=time_scale, cpu=cpu, extra=extra) as emulator:
        yield emulator.base_url
