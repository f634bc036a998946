"""Every fault kind, the SDK's own retries, and the control endpoints."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import anthropic
import httpx2
import pytest

from firsttoken import Engine, Settings, UpstreamFailure
from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator.faults import draw, parse_fault

MODEL = "claude-sonnet-5"
USER: Any = [{"role": "user", "content": "Explain streaming latency"}]


@pytest.mark.parametrize(
    ("kind", "exc", "status"),
    [
        ("overloaded", anthropic.OverloadedError, 529),
        ("rate_limit", anthropic.RateLimitError, 429),
        ("server_error", anthropic.InternalServerError, 500),
    ],
)
def test_status_faults(
    client: anthropic.Anthropic, emu: Emulator, kind: str, exc: type[Exception], status: int
) -> None:
    emu.set_faults([kind])
    with pytest.raises(exc) as info:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert info.value.status_code == status  # type: ignore[attr-defined]
    assert emu.requests[-1]["fault"] == kind
    assert emu.stats()["requests_by_status"] == {str(status): 1}


def test_rate_limit_fault_has_retry_after(client: anthropic.Anthropic, emu: Emulator) -> None:
    emu.set_faults(["rate_limit"])
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert info.value.response.headers["retry-after"] == "1"


def test_sdk_retries_until_it_gives_up(emu: Emulator) -> None:
    emu.set_faults(["overloaded@*sonnet*"])
    with anthropic.Anthropic(base_url=emu.base_url, api_key="t", max_retries=2) as c:
        with pytest.raises(anthropic.OverloadedError):
            c.messages.create(model=MODEL, max_tokens=5, messages=USER)
        c.messages.create(model="claude-haiku-5-5", max_tokens=5, messages=USER)  # glob spares haiku
    assert emu.stats()["requests_by_status"] == {"529": 3, "200": 1}


def test_sdk_retry_succeeds_after_a_failed_attempt(emu: Emulator) -> None:
    # Pick a seed whose first arrival draws below 0.5 (fails) and whose second draws above (succeeds).
    seed = next(s for s in range(1000) if draw(s, 0) < 0.5 <= draw(s, 1))
    emu.set_faults(["rate_limit:0.5"])
    with anthropic.Anthropic(base_url=emu.base_url, api_key="t", max_retries=2) as c:
        msg = c.messages.create(
            model=MODEL, max_tokens=5, messages=USER, extra_headers={"x-emulator-seed": str(seed)}
        )
    assert msg.usage.output_tokens == 5
    assert [r["status"] for r in emu.requests] == [429, 200]


def test_fault_header_per_request(client: anthropic.Anthropic, emu: Emulator) -> None:
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(
            model=MODEL, max_tokens=5, messages=USER, extra_headers={"x-emulator-fault": "server_error"}
        )
    client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    with pytest.raises(anthropic.BadRequestError, match="x-emulator-fault"):
        client.messages.create(
            model=MODEL, max_tokens=5, messages=USER, extra_headers={"x-emulator-fault": "nope"}
        )


def test_midstream_overloaded(client: anthropic.Anthropic, emu: Emulator) -> None:
    emu.set_faults(["midstream_overloaded"])
    got: list[str] = []
    # The error arrives while iterating, inside the stream's own context.
    with pytest.raises(anthropic.APIStatusError) as info:  # noqa: SIM117
        with client.messages.stream(model=MODEL, max_tokens=500, messages=USER) as stream:
            got.extend(stream.text_stream)
    assert len(got) == 5
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_drop_mid_stream_is_one_upstream_failure(emu: Emulator) -> None:
    # What firsttoken promises for a connection lost mid-stream, whatever the SDK version: the SDK
    # raised httpx2's RemoteProtocolError up to 2.16 and wraps it in APIConnectionError from 2.17,
    # but an engine stream reads the response bytes itself and raises `UpstreamFailure`, with the
    # transport's error as its cause.
    emu.set_faults(["drop"])
    received: list[str] = []
    with (
        Engine(Settings(base_url=emu.base_url, api_key="test", max_retries=0)) as engine,
        pytest.raises(UpstreamFailure) as caught,
        engine.stream(messages=USER, max_tokens=500) as stream,
    ):
        received.extend(stream)
    assert caught.value.type == "api_connection_error"
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    # The emulator cuts the chunked body after some of the answer, as a dropped connection does.
    assert "incomplete chunked read" in str(caught.value.__cause__)
    assert received


async def test_drop_mid_stream_is_one_upstream_failure_async(emu: Emulator) -> None:
    emu.set_faults(["drop"])
    received: list[str] = []
    async with Engine(Settings(base_url=emu.base_url, api_key="test", max_retries=0)) as engine:
        with pytest.raises(UpstreamFailure) as caught:  # noqa: PT012
            async with engine.astream(messages=USER, max_tokens=500) as stream:
                async for text in stream:
                    received.append(text)
    assert caught.value.type == "api_connection_error"
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert received


def test_drop_non_streaming_is_apiconnectionerror(client: anthropic.Anthropic, emu: Emulator) -> None:
    emu.set_faults(["drop"])
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=50, messages=USER)


def test_slow_multiplies_ttft() -> None:
    from firsttoken.testing.emulator import ModelTiming

    fixed = ModelTiming(ttft_p50_ms=20, ttft_p95_ms=20.0001, tokens_per_second=10_000, prefill_ms_per_token=0)
    with (
        Emulator(time_scale=1.0, timings={"sonnet": fixed}, faults=["slow"]) as emu,
        anthropic.Anthropic(base_url=emu.base_url, api_key="t", max_retries=0) as c,
    ):
        import time

        t0 = time.perf_counter()
        c.messages.create(model=MODEL, max_tokens=1, messages=USER)
        elapsed = time.perf_counter() - t0
    assert 0.2 <= elapsed < 1.0


def test_fault_grammar() -> None:
    f = parse_fault("overloaded:0.25@*opus*")
    assert (f.kind, f.rate, f.model) == ("overloaded", 0.25, "*opus*")
    assert parse_fault("drop").rate == 1.0
    for bad in ("nope", "overloaded:2", "overloaded:x", "drop@"):
        with pytest.raises(ValueError, match=r"."):
            parse_fault(bad)


def test_control_endpoints(client: anthropic.Anthropic, emu: Emulator) -> None:
    client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    req = urllib.request.Request(
        f"{emu.base_url}/_emulator/faults", data=json.dumps(["overloaded:1@x*"]).encode(), method="POST"
    )
    with urllib.request.urlopen(req) as resp:
        assert json.load(resp)["faults"] == ["overloaded:1@x*"]
    with urllib.request.urlopen(f"{emu.base_url}/_emulator/stats") as resp:
        stats = json.load(resp)
    assert stats["requests_by_model"] == {MODEL: 1}
    assert stats["output_tokens"] == 5
    assert stats["recent_requests"][0]["stream"] is False
    with urllib.request.urlopen(
        urllib.request.Request(f"{emu.base_url}/_emulator/reset", data=b"", method="POST")
    ):
        pass
    assert emu.stats()["requests_total"] == 0
