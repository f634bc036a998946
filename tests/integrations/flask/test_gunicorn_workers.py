"""gunicorn --preload with two workers: a pool per worker, and no thread or socket leak after 200 drops."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import psutil
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server

from .conftest import TEST_APP, THREADS, gunicorn_server
from .rawhttp import drop, open_stream, read_until


@pytest.fixture(scope="module")
def server(emulator: Emulator) -> Iterator[Server]:
    # The master makes a call before forking, so there is a parent pool a worker could wrongly reuse.
    with gunicorn_server(f"{TEST_APP}:create_app()", emulator, WARM_BEFORE_FORK="1") as running:
        yield running


def _workers(server: Server) -> list[psutil.Process]:
    return psutil.Process(server.pid).children()


def _upstream_ports(process: psutil.Process, emulator: Emulator) -> set[int]:
    return {
        c.laddr.port
        for c in process.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == emulator.port and c.status == psutil.CONN_ESTABLISHED
    }


def test_each_worker_has_its_own_pool(server: Server, emulator: Emulator) -> None:
    master = psutil.Process(server.pid)
    parent_ports = _upstream_ports(master, emulator)
    assert parent_ports, "the master's pre-fork call should have left a pooled connection"
    seen: dict[int, dict[str, int]] = {}
    for _ in range(100):
        # A new connection each time, so gunicorn hands it to whichever worker accepts first.
        answer = httpx2.get(f"{server.url}/whoami", headers={"Connection": "close"}, timeout=30).json()
        seen[answer["pid"]] = answer
        if len(seen) == 2:
            break
    assert len(seen) == 2, f"only worker(s) {sorted(seen)} answered"
    assert set(seen) == {w.pid for w in _workers(server)}
    for pid, answer in seen.items():
        assert answer["pool_pid"] == pid, "a worker is using the pool its parent built"
    own = {pid: _upstream_ports(psutil.Process(pid), emulator) - parent_ports for pid in seen}
    # Each worker reaches the emulator over connections it opened itself, none shared with the other.
    assert all(own.values()), own
    first, second = own.values()
    assert not first & second


def _footprint(server: Server) -> tuple[int, int]:
    workers = _workers(server)
    threads = sum(w.num_threads() for w in workers)
    sockets = sum(len(w.net_connections(kind="tcp")) for w in workers)
    return threads, sockets


def _drop_one(server: Server) -> None:
    sock = open_stream(server.port, "/stream/sse", {"tokens": 2000})
    try:
        assert read_until(sock, b"event: token", 2).startswith(b"HTTP/1.1 200")
    finally:
        drop(sock)


def _fill_thread_pools(server: Server) -> None:
    """Grow every worker's gthread pool to its `--threads` bound before the baseline.

    gunicorn starts pool threads on demand, so a drop that overlaps the previous one's clean-up
    adds a thread once; only growth past the filled pools is a leak.
    """
    socks = [open_stream(server.port, "/stream/sse", {"tokens": 2000}) for _ in range(3 * THREADS)]
    try:
        time.sleep(1.0)  # every worker's threads pick requests up; the rest queue behind them
    finally:
        for sock in socks:
            drop(sock)


def test_no_thread_or_connection_leak_after_200_drops(server: Server, emulator: Emulator) -> None:
    _fill_thread_pools(server)
    for _ in range(10):
        _drop_one(server)
    time.sleep(0.5)
    threads_before, sockets_before = _footprint(server)
    for _ in range(200):
        _drop_one(server)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        threads, sockets = _footprint(server)
        if threads <= threads_before and sockets <= sockets_before and not emulator.stats()["streams_open"]:
            break
        time.sleep(0.2)
    assert threads <= threads_before, f"threads {threads_before} -> {threads}"
    assert sockets <= sockets_before, f"sockets {sockets_before} -> {sockets}"
    assert emulator.stats()["streams_open"] == 0
