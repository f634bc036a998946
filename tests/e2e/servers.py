"""Real server processes for tests: start one on a free loopback port, wait until it answers, stop it.

Shared by the browser/contract tests here and the framework tests under `tests/integrations/`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx2

ROOT = Path(__file__).resolve().parents[2]
# Generous: two shared cores, and the first start imports the SDK, pydantic and a framework.
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


@contextmanager
def run_server(
    argv: Sequence[str],
    *,
    env: Mapping[str, str | None] | None = None,
    port: int | None = None,
    ready_path: str = "/healthz",
) -> Iterator[Server]:
    """Run `python <argv>` from the repo root with `PORT` set (and `{port}` in `argv` replaced by
    it); yields once `ready_path` answers 200. An `env` value of None removes that variable.

    The process is always terminated (then killed) on exit, whatever the test did.
    """
    with run_servers(ServerSpec(argv, env=env, port=port, ready_path=ready_path)) as (server,):
        yield server


@dataclass(frozen=True)
class ServerSpec:
    """One server for `run_servers`: the arguments of `run_server`."""

    argv: Sequence[str]
    env: Mapping[str, str | None] | None = None
    port: int | None = None
    ready_path: str = "/healthz"


@contextmanager
def run_servers(*specs: ServerSpec) -> Iterator[list[Server]]:
    """`run_server` for several servers at once: all are spawned before any is waited for.

    Most of a start is the child's imports (SDK, pydantic, a framework), seconds on a busy
    two-core CI machine; spawned together, the starts of a pair overlap instead of adding up.
    """
    # Every free port is picked while the others are still held, so two servers spawned together
    # never get the same one (one at a time, the first had bound its port before the next pick).
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for spec in specs if not spec.port]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        picked = iter([int(sock.getsockname()[1]) for sock in sockets])
    ports = [spec.port or next(picked) for spec in specs]
    with contextlib.ExitStack() as logs:
        servers: list[Server] = []
        try:
            for spec, port in zip(specs, ports, strict=True):
                merged: dict[str, str | None] = {
                    **os.environ,
                    "PYTHONUNBUFFERED": "1",
                    **(spec.env or {}),
                    "PORT": str(port),
                }
                full_env = {k: v for k, v in merged.items() if v is not None}
                log = logs.enter_context(tempfile.TemporaryFile())
                process = subprocess.Popen(
                    [sys.executable, *(arg.replace("{port}", str(port)) for arg in spec.argv)],
                    cwd=ROOT,
                    env=full_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                servers.append(Server(process, port, log))
            # Started together, they share the cores: each gets the time all of them would have
            # had one after the other, counted from the spawn.
            deadline = time.monotonic() + START_TIMEOUT * len(specs)
            for spec, server in zip(specs, servers, strict=True):
                _wait_ready(server, spec.ready_path, deadline)
            yield servers
        finally:
            _stop([server.process for server in servers])


def _wait_ready(server: Server, path: str, deadline: float) -> None:
    with httpx2.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.output()}")
            try:
                if client.get(server.url + path).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer {path} in time:\n{server.output()}")


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    # All are signalled before any is waited for: their graceful shutdowns overlap too.
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
