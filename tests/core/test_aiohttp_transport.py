"""`async_http_client: aiohttp`: the async clients are the SDK's `DefaultAioHttpClient`, and a stream
through them is what the SDK itself builds, its errors and retries the SDK's."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from firsttoken import Engine, Settings, SettingsError, UpstreamFailure
from firsttoken.testing.emulator import Emulator

from .conftest import USER

pytest.importorskip("aiohttp")


def _engine(emulator: Emulator, **settings: Any) -> Engine:
    emulator.reset()
    emulator.set_faults([])
    return Engine(Settings(base_url=emulator.base_url, async_http_client="aiohttp", **settings))


async def test_a_stream_over_aiohttp_is_the_message_the_sdk_builds(emulator: Emulator) -> None:
    engine = _engine(emulator, max_retries=0)
    texts: list[str] = []
    async with engine.astream(messages=USER, profile="chat") as stream:
        client = engine.async_client
        async for text in stream:
            if not texts:
                # The shard counts its open responses over aiohttp as over httpx (`shards.py`).
                assert client._client.counting.open_responses == 1  # type: ignore[attr-defined]
            texts.append(text)
    assert client._client.counting.open_responses == 0  # type: ignore[attr-defined]
    text = "".join(texts)
    assert isinstance(client._client, anthropic.DefaultAioHttpClient)
    _, params = engine.prepare(profile="chat", messages=USER)
    params.pop("timeout")
    async with client.messages.stream(**params) as sdk_stream:
        sdk = await sdk_stream.get_final_message()
    ours, theirs = stream.message.model_dump(), sdk.model_dump()
    ours.pop("id"), theirs.pop("id")
    assert ours == theirs
    assert text and text == "".join(b.text for b in sdk.content if b.type == "text")
    await engine.aclose()


async def test_aiohttp_keeps_the_sdks_retries_and_errors(emulator: Emulator) -> None:
    engine = _engine(emulator, max_retries=1, breaker_failures=2)
    emulator.set_faults(["overloaded"])
    with pytest.raises(anthropic.APIStatusError) as refused:
        async with engine.astream(messages=USER, profile="fast") as stream:
            await stream.text()
    assert refused.value.status_code == 529
    assert len(emulator.requests) == 2  # the SDK's retry, over aiohttp
    # The governor read both attempts (the clients' httpx hooks run over aiohttp too): each 529
    # went to the breaker as it came, and two of them open it.
    assert engine.resilience.breaker.cooling_down(engine.profile("fast").model)
    await engine.aclose()

    engine = _engine(emulator, max_retries=0)
    emulator.set_faults(["midstream_overloaded"])
    with pytest.raises(UpstreamFailure) as broken:
        async with engine.astream(messages=USER, profile="fast") as stream:
            await stream.text()
    assert broken.value.type == "overloaded_error"

    # A cut connection: aiohttp's error, mapped by the SDK's transport to httpx's, is the relay's
    # lost connection, as over httpx.
    emulator.set_faults([])
    with pytest.raises(UpstreamFailure) as cut:
        async with engine.astream(messages=USER, extra_headers={"x-emulator-fault": "drop"}) as stream:
            await stream.text()
    assert cut.value.type == "api_connection_error"
    await engine.aclose()


def test_an_unknown_transport_fails_naming_the_key() -> None:
    with pytest.raises(SettingsError, match="async_http_client"):
        Settings(async_http_client="curl")  # type: ignore[arg-type]
