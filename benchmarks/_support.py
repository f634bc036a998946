"""Shared by the benchmark scripts: an emulator in its own process, so it never shares our CPU clock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def emulator_process(*, time_scale: float = 0.0, cpu: int | None = None) -> Iterator[str]:
    """Start `firsttoken emulate` in a subprocess (optionally pinned to one core); yields its base URL."""
    cmd = [sys.executable, "-m", "firsttoken.cli", "emulate", "--port", "0", "--time-scale", str(time_scale)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(proc.pid, {cpu})
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
