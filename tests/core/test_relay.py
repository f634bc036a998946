"""Every wire format, parsed back; errors before the first token as statuses, after it as events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken import Engine, Relay, Settings
from firsttoken._heartbeat import Heartbeat, beating
from firsttoken._sse import SSEDecoder
from firsttoken.testing.emulator import Emulator

from .conftest import USER

FAULT = "x-emulator-fault"


def _run(engine: Engine, fmt: str, **call: Any) -> tuple[int, dict[str, str], bytes]:
    relay = Relay(engine, format=fmt, messages=USER, **call)
    start = relay.open()
    if start.body is not None:
        return start.status, dict(start.headers), start.body
    body = b"".join(relay)
    assert relay.closed
    return start.status, dict(start.headers), body


def _sse(body: bytes) -> list[tuple[str, Any]]:
    return list(SSEDecoder().feed(body))


def test_sse_format(engine: Engine) -> None:
    with engine.stream(messages=USER) as stream:
        expected = stream.text()
    status, headers, body = _run(engine, "sse")
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Accel-Buffering"] == "no"
    assert headers["Server-Timing"].startswith("upstream;dur=")
    # The contract's first event names the response, as the X-Response-Id header does.
    rid = headers["X-Response-Id"]
    assert body.startswith(b'event: start\ndata: {"response_id":"' + rid.encode() + b'"}\n\n')
    assert len(rid) >= 22
    events = _sse(body)
    tokens = [data["text"] for name, data in events if name == "token"]
    assert tokens and all(isinstance(t, str) for t in tokens)
    name, done = events[-1]
    assert name == "done"
    assert set(done) >= {"model", "stop_reason", "usage", "ttft_ms", "tps"}
    assert set(done["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    }
    # Deltas that arrived together are one event (`coalesce_window`): the text is the same.
    assert "".join(tokens) == expected
    assert 1 <= len(tokens) <= done["usage"]["output_tokens"]
    assert done["stop_reason"] == "end_turn"
    assert done["ttft_ms"] > 0


def test_ndjson_format(engine: Engine) -> None:
    status, headers, body = _run(engine, "ndjson")
    assert status == 200 and headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in body.splitlines()]
    kinds = {line["type"] for line in lines}
    assert kinds == {"ping", "token", "done"}
    assert lines[-1]["type"] == "done" and lines[-1]["model"]
    text = "".join(line["text"] for line in lines if line["type"] == "token")
    assert text.strip()


def test_text_format(engine: Engine) -> None:
    with engine.stream(messages=USER) as stream:
        expected = stream.text()
    status, headers, body = _run(engine, "text")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.decode() == expected


def test_ai_sdk_format(engine: Engine) -> None:
    _, headers, body = _run(engine, "ai-sdk")
    assert headers["x-vercel-ai-ui-message-stream"] == "v1"
    parts = [data for _, data in _sse(body)]
    assert parts[-1] == "[DONE]"
    kinds = [p["type"] for p in parts[:-1]]
    assert kinds[:3] == ["start", "start-step", "text-start"]
    assert kinds[-5:] == ["text-end", "message-metadata", "data-cache", "finish-step", "finish"]
    assert set(kinds[3:-5]) == {"text-delta"}
    ids = {p["id"] for p in parts[:-1] if p["type"].startswith("text-")}
    assert len(ids) == 1
    assert parts[-2]["messageMetadata"]["stop_reason"] == "end_turn"
    assert parts[-2]["finishReason"] == "stop"
    metadata = parts[-5]["messageMetadata"]
    assert set(metadata) == {"model", "ttft_ms", "tps", "usage", "cost_usd", "awaiting_approval"}
    assert metadata["usage"]["output_tokens"] > 0 and metadata["awaiting_approval"] == []
    assert set(parts[-4]["data"]) == {"read", "written"} and parts[-4]["transient"] is True


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        ("overloaded", 503, "overloaded_error"),
        ("rate_limit", 429, "rate_limit_error"),
        ("server_error", 502, "api_error"),
    ],
)
def test_refusal_before_the_first_token_is_an_http_status(
    engine: Engine, fault: str, status: int, kind: str
) -> None:
    got, headers, body = _run(engine, "sse", extra_headers={FAULT: fault})
    assert got == status
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["type"] == kind and payload["error"]
    if fault == "rate_limit":
        assert int(headers["Retry-After"]) >= 0


@pytest.mark.parametrize("fmt", ["sse", "ndjson", "ai-sdk", "text"])
def test_failure_after_the_first_token_is_an_error_event(engine: Engine, fmt: str) -> None:
    status, _, body = _run(engine, fmt, extra_headers={FAULT: "midstream_overloaded"})
    assert status == 200
    if fmt == "sse":
        events = _sse(body)
        assert events[-1][0] == "error"
        assert events[-1][1]["type"] == "overloaded_error"
        assert any(name == "token" for name, _ in events)
    elif fmt == "ndjson":
        last = json.loads(body.splitlines()[-1])
        assert last["type"] == "error" and last["error"]["type"] == "overloaded_error"
    elif fmt == "ai-sdk":
        parts = [data for _, data in _sse(body)]
        assert parts[-1] == "[DONE]" and parts[-2]["type"] == "error"
        assert "overloaded_error" in parts[-2]["errorText"]
    else:
        assert body.decode().rstrip().splitlines()[-1].startswith("[error] overloaded_error")


def test_a_dropped_upstream_ends_with_an_error_event(engine: Engine) -> None:
    status, _, body = _run(engine, "sse", extra_headers={FAULT: "drop"})
    assert status == 200
    name, data = _sse(body)[-1]
    assert name == "error" and data["type"] == "api_connection_error"


async def test_async_relay_matches_the_sync_relay(engine: Engine) -> None:
    _, _, sync_body = _run(engine, "ndjson")
    relay = Relay(engine, format="ndjson", messages=USER)
    start = await relay.aopen()
    assert start.ok and start.status == 200
    body = b"".join([chunk async for chunk in relay])

    def text(raw: bytes) -> str:
        return "".join(json.loads(line).get("text", "") for line in raw.splitlines())

    assert text(body) == text(sync_body)
    refused = Relay(engine, messages=USER, extra_headers={FAULT: "overloaded"})
    start = await refused.aopen()
    assert start.status == 503 and refused.closed
    await engine.aclose()


def test_unknown_format_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown wire format 'xml'"):
        Relay(engine, format="xml", messages=USER)


@pytest.mark.parametrize(
    "data",
    [
        b'{"type":"text_delta","text":"caf\xc3\xa9 \\ud83d\\ude00"}',
        b'{"text":"\\ud83d"}',  # a lone surrogate escape: json accepts it, jiter does not
        b'{"n":12345678901234567890123,"f":0.1,"e":1e400}',
        b'{"broken": }',
        b"not json",
    ],
)
def test_the_decoder_reads_data_as_json_loads_does(data: bytes) -> None:
    try:
        expected: Any = json.loads(data)
    except ValueError:
        expected = data.decode("utf-8", "replace")
    assert _sse(b"event: x\ndata: " + data + b"\n\n") == [("x", expected)]


# -- the bodies adapters serve: the same bytes, with idle heartbeats ------------------------------


@pytest.fixture
def beating_engine(realtime_emulator: Emulator) -> Iterator[Engine]:
    settings = Settings(base_url=realtime_emulator.base_url, max_retries=0, heartbeat_interval=0.1)
    with Engine(settings) as eng:
        yield eng


# Opus's first token takes about 0.8 s at real-time pace: several beats' worth of silence.
IDLE = {"profile": "deep", "max_tokens": 5}


def _beats_before_first_token(body: bytes) -> int:
    blocks = [block for block in body.split(b"\n\n") if block]
    first = next(i for i, block in enumerate(blocks) if block.startswith(b"event: token"))
    return blocks[:first].count(b": ping")


async def test_sync_and_async_bodies_carry_the_same_bytes(engine: Engine) -> None:
    call = {"messages": USER, "extra_headers": {"x-emulator-seed": "3"}}
    relay = Relay(engine, format="text", **call)
    assert relay.open().ok
    sync_body = b"".join(relay.body())
    assert relay.closed
    relay = Relay(engine, format="text", **call)
    assert (await relay.aopen()).ok
    async_body = b"".join([chunk async for chunk in relay.abody()])
    assert sync_body == async_body and sync_body
    await engine.aclose()


def test_an_idle_sync_body_gets_heartbeats(beating_engine: Engine) -> None:
    relay = Relay(beating_engine, messages=USER, **IDLE)
    assert relay.open().ok
    body = b"".join(relay.body())
    # Without the idle timer there are two: one sent with the headers, one the API's own `ping`.
    assert _beats_before_first_token(body) >= 4
    assert body.split(b"\n\n")[-2].startswith(b"event: done")


async def test_an_idle_async_body_gets_heartbeats(beating_engine: Engine) -> None:
    relay = Relay(beating_engine, messages=USER, **IDLE)
    assert (await relay.aopen()).ok
    body = b"".join([chunk async for chunk in relay.abody()])
    assert _beats_before_first_token(body) >= 4
    await beating_engine.aclose()


def test_closing_a_sync_body_stops_the_upstream(beating_engine: Engine, realtime_emulator: Emulator) -> None:
    # What a WSGI server does when a write fails: close the iterable mid-answer.
    relay = Relay(
        beating_engine, messages=USER, profile="fast", extra_headers={"x-emulator-output-tokens": "3000"}
    )
    assert relay.open().ok
    body = relay.body()
    while b"event: token" not in next(body):
        pass
    body.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 2
    while realtime_emulator.stats()["streams_open"] and time.monotonic() < deadline:
        time.sleep(0.005)
    assert realtime_emulator.stats()["streams_open"] == 0
    assert relay.closed


def test_a_format_without_heartbeats_gets_none() -> None:
    timer = Heartbeat(b"", 0.01)
    assert not timer.enabled
    assert list(beating(iter([b"a", b"b"]), timer)) == [b"a", b"b"]


def test_an_error_in_the_read_thread_reaches_the_server() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a"
        raise RuntimeError("upstream broke")

    with pytest.raises(RuntimeError, match="upstream broke"):
        list(beating(chunks(), Heartbeat(b": ping\n\n", 5.0)))


def test_the_reader_hands_the_first_token_to_the_server_thread_before_reading_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reader keeps the GIL while it parses what came with the token (the rest of a burst, the
    # answer's end), so without a hand-over the server's thread, woken by the put, waits for it.
    # A long bound makes the order certain; in use it is the interpreter's switch interval.
    monkeypatch.setattr("firsttoken._heartbeat.HAND_OVER", 5.0)
    token_still_queued: list[bool] = []

    def items() -> Iterator[Any]:
        # Every event before the first text is an item of its own (the format's opening bytes,
        # message_start, content_block_start, the API's ping...), so "the first few items" is not
        # where the token is.
        yield from (b"opening", b"|message_start", b"|content_block_start", b"|ping")
        yield "Hello"
        token_still_queued.append(not body._queue.empty())  # type: ignore[attr-defined]
        sum(range(200_000))  # a burst parsed without blocking: what would hold the GIL
        yield " there"

    body = beating(items(), Heartbeat(b": ping\n\n", 5.0), lambda text: text.encode())
    assert b"".join(body) == b"opening|message_start|content_block_start|pingHello there"
    assert token_still_queued == [False]
