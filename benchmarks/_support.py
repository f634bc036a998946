"""Shared by the benchmark scripts: an emulator in its own process, so it never shares our CPU clock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def launch_emulator(*, time_scale: float, extra: Sequence[str] = ()) -> tuple[subprocess.Popen[str], str]:
    """Start `firsttoken emulate` on a free port; returns the process and its base URL once it listens."""
    cmd = [
        sys.executable,
        "-m",
        "firsttoken.cli",
        "emulate",
        "--port",
        "0",
        "--time-scale",
        str(time_scale),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        proc.wait(timeout=10)
        raise RuntimeError(f"emulator did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[-1].strip()


@contextmanager
def emulator_process(
    *, time_scale: float = 0.0, cpu: int | None = None, extra: Sequence[str] = ()
) -> Iterator[str]:
    """`launch_emulator` as a context manager (optionally pinned to one core); yields its base URL."""
    proc, base_url = launch_emulator(time_scale=time_scale, extra=extra)
    try:
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(proc.pid, {cpu})
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
