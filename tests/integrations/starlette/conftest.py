from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server, run_server

TESTAPP = ("-m", "uvicorn", "testapp:app", "--app-dir", "tests/integrations/starlette", "--host", "127.0.0.1")
# Short enough that a test sees several beats during one time-to-first-token at time-scale 1.
HEARTBEAT_SECONDS = 0.1


@pytest.fixture(scope="module")
def realtime_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def test_server(realtime_emulator: Emulator) -> Iterator[Server]:
    """The test app under a real uvicorn process (httptools), against a time-scale-1 emulator."""
    env = {
        "ANTHROPIC_BASE_URL": realtime_emulator.base_url,
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_HEARTBEAT_INTERVAL": str(HEARTBEAT_SECONDS),
    }
    argv = (*TESTAPP, "--port", "{port}", "--http", "httptools", "--log-level", "warning")
    with run_server(argv, env=env) as server:
        yield server


@pytest.fixture
def client(test_server: Server) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=test_server.url, timeout=30.0) as client:
        yield client
