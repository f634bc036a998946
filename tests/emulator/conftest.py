from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import pytest

from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=0) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "emu" in request.fixturenames:
        emulator: Emulator = request.getfixturevalue("emu")
        emulator.reset()
        emulator.set_faults([])


@pytest.fixture
def client(emu: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=emu.base_url, api_key="test", max_retries=0, _strict_response_validation=True
    ) as c:
        yield c


@pytest.fixture
async def aclient(emu: Emulator) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=emu.base_url, api_key="test", max_retries=0, _strict_response_validation=True
    ) as c:
        yield c
