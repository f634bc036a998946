"""Real `redis-server` processes on free loopback ports, in temp dirs: a single server that a test
can kill and restart, and the Cluster and Sentinel topologies."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.e2e.servers import free_port

__all__ = ["RedisServer", "RedisTopology"]


def _server_argv(binary: str, port: int, directory: str, *extra: str) -> list[str]:
    """A throwaway redis-server on loopback: nothing saved, files in `directory`."""
    return [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", directory, "--protected-mode", "no", *extra,
    ]  # fmt: skip


class PortTaken(RuntimeError):
    pass


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="firsttoken-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        argv = _server_argv(self.binary, self.port, self._dir.name)
        with Path(self._dir.name, "redis.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        with redis.Redis.from_url(self.url, socket_timeout=0.5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    # Between our kill and this restart another process (a server of another test
                    # worker) may have bound the port: its server would answer the ping below.
                    self.process = None
                    raise PortTaken(f"redis-server could not bind port {self.port}")
                try:
                    # Our process's answer, not another server's on the same port.
                    if client.info("server")["process_id"] == self.process.pid:
                        return self
                except redis.ConnectionError:
                    time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def move(self) -> None:
        """Another free port, for a server restarted between tests whose port was taken meanwhile."""
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is saved (`--save ''`), so a restart starts empty."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2.0)

    def close(self) -> None:
        self.kill()
        self._dir.cleanup()


def _pair_port() -> int:
    """A port free together with port + 10000, the cluster bus's, and both below 65536."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20000, 30000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _ask(port: int, *command: str) -> object:
    with redis.Redis(port=port, socket_timeout=2.0) as client:
        return client.execute_command(*command)


def _wait(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up")


class RedisTopology:
    """Several redis-server processes in one temp dir: a Cluster of three masters, or a master
    with a Sentinel. `url` is the `redis+cluster://` or `redis+sentinel://` URL firsttoken takes."""

    def __init__(self, kind: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.binary = binary
        self.kind = kind
        self._dir = tempfile.TemporaryDirectory(prefix=f"firsttoken-redis-{kind}-")
        self._processes: list[subprocess.Popen[bytes]] = []
        self.url = ""

    def _spawn(self, *argv: str) -> None:
        with Path(self._dir.name, "redis.log").open("ab") as log:
            self._processes.append(subprocess.Popen([*argv], stdout=log, stderr=subprocess.STDOUT))

    def _node(self, port: int, *extra: str) -> None:
        self._spawn(*_server_argv(self.binary, port, self._dir.name, *extra))

    def start(self) -> RedisTopology:
        if self.kind == "cluster":
            ports = [_pair_port() for _ in range(3)]
            for port in ports:
                self._node(port, "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf")
            for port in ports:
                _wait(lambda port=port: bool(_ask(port, "PING")), f"cluster node {port}")
            cli = shutil.which("redis-cli") or "redis-cli"
            nodes = [f"127.0.0.1:{port}" for port in ports]
            subprocess.run(
                [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=30,
            )

            def ready() -> bool:
                # redis-py parses CLUSTER INFO into a dict of strings.
                infos = [_ask(port, "CLUSTER INFO") for port in ports]
                return all(isinstance(i, dict) and i.get("cluster_state") == "ok" for i in infos)

            _wait(ready, "the cluster")
            self.url = f"redis+cluster://127.0.0.1:{ports[0]}"
        else:
            master, sentinel = free_port(), free_port()
            self._node(master)
            _wait(lambda: bool(_ask(master, "PING")), "the sentinel's master")
            conf = Path(self._dir.name, "sentinel.conf")
            conf.write_text(
                f"port {sentinel}\nbind 127.0.0.1\nprotected-mode no\ndir {self._dir.name}\n"
                f"sentinel monitor mymaster 127.0.0.1 {master} 1\n"
            )
            self._spawn(self.binary, str(conf), "--sentinel")
            query = ("SENTINEL", "get-master-addr-by-name", "mymaster")
            _wait(lambda: bool(_ask(sentinel, *query)), "the sentinel")
            self.url = f"redis+sentinel://127.0.0.1:{sentinel}/mymaster"
        return self

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self._dir.cleanup()
