"""A framework's own development server (`manage.py runserver`, `flask run --debug`, `uvicorn
main:app`) started as a reader starts it: in the project's folder, with the reloader where the
command has one, in a process group of its own so the reloader's child stops with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx2

# Generous: two shared cores, and a start imports the SDK, pydantic and a framework (twice under
# a reloader).
START_TIMEOUT = 90.0
BIN = Path(sys.executable).parent


def command(name: str) -> str:
    """A console script of this environment (`django-admin`, `flask`, `uvicorn`) as a shell finds it."""
    path = BIN / name
    assert path.exists(), f"{name} is not installed in {BIN}"
    return str(path)


def reader_env(**extra: str) -> dict[str, str]:
    """The reader's shell: none of the test run's firsttoken, Anthropic, Django or Flask variables
    (pytest's own would count as development), nothing on PYTHONPATH from this checkout."""
    dropped = ("ANTHROPIC_", "FIRSTTOKEN_", "PYTEST_", "DJANGO_", "FLASK_", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    # As fast as the emulator goes: these tests prove the paste, tests/e2e the timing.
    return {**env, "PYTHONUNBUFFERED": "1", "FIRSTTOKEN_EMULATOR_TIME_SCALE": "0", **extra}


class DevServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self._log = log

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


@contextmanager
def dev_server(argv: Sequence[str], *, cwd: Path, env: dict[str, str], port: int) -> Iterator[DevServer]:
    """Yields once the server answers any HTTP request on `port`; stops its whole process group."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = DevServer(process, port, log)
        try:
            _wait_ready(server)
            yield server
        finally:
            _stop(process)


def _wait_ready(server: DevServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx2.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.output()}")
            try:
                client.get(server.url + "/")
                return
            except httpx2.TransportError:
                time.sleep(0.1)
    raise RuntimeError(f"server did not answer in time:\n{server.output()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The group start_new_session made: its id is the process's, and it holds the reloader's child.
    group = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(process, group) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=10)


def _alive(process: subprocess.Popen[bytes], group: int) -> bool:
    process.poll()  # reaped, the leader no longer counts as a member
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
