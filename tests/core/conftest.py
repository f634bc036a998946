"""A real engine against a real emulator on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from firsttoken import Engine, Settings
from firsttoken.testing.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=7) as emu:
        yield emu


@pytest.fixture(scope="session")
def realtime_emulator() -> Iterator[Emulator]:
    """Time-scale 1: for what only real pacing shows (disconnects, parallel wall time)."""
    with Emulator(time_scale=1.0, seed=7) as emu:
        yield emu


@pytest.fixture
def engine(emulator: Emulator) -> Iterator[Engine]:
    emulator.reset()
    emulator.set_faults([])
    with Engine(Settings(base_url=emulator.base_url, max_retries=0)) as eng:
        yield eng


USER = [{"role": "user", "content": "Explain why streaming makes a chat feel fast."}]
