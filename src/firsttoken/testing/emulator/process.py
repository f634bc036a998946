"""The emulator in a child process: for load tests and timing checks whose own CPU it must not share.

`Emulator` runs in a thread of the caller's process, which is what most tests want; a benchmark
that measures the caller's CPU, or a timing check on a busy machine, wants the emulator's work
elsewhere. This starts `firsttoken emulate` and waits for its "listening on" line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Literal

__all__ = ["EmulatorProcess"]


class EmulatorProcess:
    """`with EmulatorProcess(time_scale=0) as emu: ... emu.base_url`; `extra` takes further CLI flags."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        seed: int = 0,
        extra: Sequence[str] = (),
        cpu: int | None = None,
        tls: bool = False,
    ) -> None:
        self._command = [
            sys.executable,
            "-m",
            "firsttoken.cli",
            "emulate",
            "--port",
            "0",
            "--time-scale",
            str(time_scale),
            "--seed",
            str(seed),
            *(["--tls"] if tls else []),
            *extra,
        ]
        self._tls = tls
        self.ca_path: str | None = None
        # A core to pin it to (Linux), so a benchmark on the other core measures only itself.
        self._cpu = cpu
        self._proc: subprocess.Popen[str] | None = None
        self._base_url: str | None = None
        self._state: Literal["unopened", "open", "closed"] = "unopened"

    def start(self) -> EmulatorProcess:
        if self._state == "open":
            return self
        if self._state == "closed":
            raise RuntimeError("this emulator process was stopped; make a new EmulatorProcess")
        proc = subprocess.Popen(self._command, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            proc.kill()
            proc.wait(timeout=10)
            proc.stdout.close()
            raise RuntimeError(f"the emulator did not start: {line.strip()!r}")
        if self._cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(proc.pid, {self._cpu})
        if self._tls:
            # The CA file clients must trust: `SSL_CERT_FILE=<ca_path>` for the SDK's httpx.
            self.ca_path = proc.stdout.readline().rsplit(": ", 1)[-1].strip()
        self._proc, self._base_url, self._state = proc, line.rsplit(" ", 1)[-1].strip(), "open"
        return self

    @property
    def base_url(self) -> str:
        if self._state != "open" or self._base_url is None:
            raise RuntimeError("the emulator process is not running; call start() first")
        return self._base_url

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the emulator process was never started")
        return self._proc.pid

    def stop(self) -> None:
        """Idempotent: SIGTERM, and a kill if it has not gone within 15 s."""
        proc, self._proc = self._proc, None
        self._state = "closed"
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        if self.ca_path is not None:
            # The child's certificate directory: uvicorn ends on the SIGTERM it re-raises, before
            # the child's own clean-up runs.
            shutil.rmtree(os.path.dirname(self.ca_path), ignore_errors=True)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
