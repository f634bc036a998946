"""pytest fixtures for testing code against the Messages API emulator.

`anthropic_emulator` is a per-test handle on one session-wide emulator (time-scale 0), reset
before each test; `anthropic_emulator_factory(**config)` starts dedicated ones, stopped at the
end of the test. Loaded in every pytest run through the `pytest11` entry point, so this module
imports nothing heavy and starts nothing until a fixture is requested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import anthropic

    from firsttoken.testing.emulator import Emulator

__all__ = ["EmulatorHandle", "anthropic_emulator", "anthropic_emulator_factory"]

DUMMY_API_KEY = "sk-ant-emulator-not-a-real-key"


class EmulatorHandle:
    """What a test sees: where the emulator is, what it did, and SDK clients pointed at it."""

    api_key = DUMMY_API_KEY

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._clients: list[anthropic.Anthropic] = []
        self._async_clients: list[anthropic.AsyncAnthropic] = []

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    def stats(self) -> dict[str, Any]:
        return self.emulator.stats()

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.emulator.requests

    def set_faults(self, faults: list[str]) -> None:
        self.emulator.set_faults(faults)

    def reset(self) -> None:
        self.emulator.reset()

    def client(self, **options: Any) -> anthropic.Anthropic:
        import anthropic

        options.setdefault("max_retries", 0)
        client = anthropic.Anthropic(base_url=self.base_url, api_key=self.api_key, **options)
        self._clients.append(client)
        return client

    def async_client(self, **options: Any) -> anthropic.AsyncAnthropic:
        import anthropic

        options.setdefault("max_retries", 0)
        client = anthropic.AsyncAnthropic(base_url=self.base_url, api_key=self.api_key, **options)
        self._async_clients.append(client)
        return client

    def _close_sync_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@pytest.fixture(scope="session")
def _firsttoken_session_emulator() -> Iterator[Emulator]:
    from firsttoken.testing.emulator import Emulator

    with Emulator(time_scale=0.0, seed=0) as emulator:
        yield emulator


@pytest.fixture
def anthropic_emulator(_firsttoken_session_emulator: Emulator) -> Iterator[EmulatorHandle]:
    emulator = _firsttoken_session_emulator
    emulator.reset()
    emulator.set_faults([])
    handle = EmulatorHandle(emulator)
    yield handle
    handle._close_sync_clients()
    # Async clients are closed by their tests' event loop; a leaked one is the test's bug to see.
    emulator.set_faults([])


@pytest.fixture
def anthropic_emulator_factory() -> Iterator[Callable[..., EmulatorHandle]]:
    from firsttoken.testing.emulator import Emulator

    started: list[tuple[Emulator, EmulatorHandle]] = []

    def start(**config: Any) -> EmulatorHandle:
        config.setdefault("time_scale", 0.0)
        emulator = Emulator(**config).start()
        handle = EmulatorHandle(emulator)
        started.append((emulator, handle))
        return handle

    yield start
    for emulator, handle in started:
        handle._close_sync_clients()
        emulator.stop()
