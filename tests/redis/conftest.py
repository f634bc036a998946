"""A real redis-server per session (skipped with a reason when the binary is absent), and engines on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from firsttoken import Engine, Settings
from firsttoken.testing.emulator import Emulator
from tests.redis.server import PortTaken, RedisServer

API_KEY = "sk-ant-test-never-in-redis-0123456789"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    server.start()
    try:
        yield server
    finally:
        server.close()


def _restart(server: RedisServer) -> None:
    if server.process is None:
        try:
            server.start()
        except PortTaken:
            server.move()
            server.start()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session server, restarted if a test killed it (on another port if its own was taken
    meanwhile), and empty when each test starts.

    Emptied before as well as after: a module's own server (tests/redis/test_workers.py's gunicorn)
    writes without this fixture, and its workers' last metrics snapshots outlive it by their TTL:
    the next module's deployment view counted them (CI, stop 34: 4 workers and 71 `fast` calls).
    """
    _restart(redis_server)
    _flush(redis_server)
    yield redis_server.url
    _restart(redis_server)
    _flush(redis_server)


def _flush(server: RedisServer) -> None:
    with server.client() as client:
        client.flushall()


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=11) as emu:
        yield emu


@pytest.fixture
def make_engine(emulator: Emulator, redis_url: str) -> Iterator[Callable[..., Engine]]:
    """Engines as separate workers would build them (each its own clients and local state)."""
    emulator.reset()
    emulator.set_faults([])
    engines: list[Engine] = []

    def make(**overrides: object) -> Engine:
        options: dict[str, object] = {
            "base_url": emulator.base_url,
            "api_key": API_KEY,
            "max_retries": 0,
            "redis_url": redis_url,
            **overrides,
        }
        engine = Engine(Settings(**options))  # type: ignore[arg-type]
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()
