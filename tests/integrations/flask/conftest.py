"""One emulator for the Flask tests, and real Werkzeug and gunicorn servers pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from firsttoken.testing.emulator import Emulator, ModelTiming
from tests.e2e.servers import Server, free_port, run_server

# Real time (streams take as long as their tokens), with a short first token so a test waits on
# tokens, not on the Anthropic Performance Tuning guide's 400 ms TTFT; 100 tokens/s keeps a natural
# answer streaming 0.6-2.5 s.
TIMINGS = {
    "sonnet": ModelTiming(ttft_p50_ms=40, ttft_p95_ms=80, tokens_per_second=100),
    "haiku": ModelTiming(ttft_p50_ms=20, ttft_p95_ms=40, tokens_per_second=200),
}
EXAMPLE = "example_projects.flask_chat"
TEST_APP = "tests.integrations.flask.streaming_app"


@pytest.fixture(scope="package")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=0, timings=TIMINGS) as emu:
        yield emu


@pytest.fixture
def faults(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator, with any faults a test sets cleared afterwards."""
    yield emulator
    emulator.set_faults([])


def server_env(emulator: Emulator) -> dict[str, str]:
    # No SDK retries: a fault test wants the refusal itself, not three of them and a backoff.
    return {"ANTHROPIC_BASE_URL": emulator.base_url, "FIRSTTOKEN_MAX_RETRIES": "0"}


@contextmanager
def werkzeug_server(module: str, emulator: Emulator, **env: str) -> Iterator[Server]:
    with run_server(["-m", module], env={**server_env(emulator), **env}) as server:
        yield server


# Threads per gthread worker; the leak test fills the pools to this bound first.
THREADS = 8


@contextmanager
def gunicorn_server(
    target: str, emulator: Emulator, *, worker: str = "gthread", workers: int = 2, **env: str
) -> Iterator[Server]:
    port = free_port()
    argv = [
        "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", worker,
        "--threads", str(THREADS), "--preload", "--graceful-timeout", "2", "--log-level", "warning", target,
    ]  # fmt: skip
    with run_server(argv, env={**server_env(emulator), **env}, port=port) as server:
        yield server
