"""Coalescing text deltas (`Settings.coalesce_window`): the rules the relay keeps.

- Deltas that arrived together go out as one token event, and the browser's text is the same in
  every wire format (Hypothesis over answers, interleavings and arrival batches).
- The first token is written as soon as it is read, whatever the window.
- A window holds later text back by at most its length, and writes fewer events.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firsttoken import Engine, Relay, Settings, SettingsError
from firsttoken._coalesce import acoalesce, coalesce, encode
from firsttoken._events import EventReader
from firsttoken._relay.core import RelayCore
from firsttoken._sse import SSEDecoder
from firsttoken.testing.emulator import Emulator, ModelTiming

from .conftest import USER

FORMATS = ("sse", "ai-sdk", "ndjson", "text")


# -- the encoding: identical text, fewer events ------------------------------------------------


def _answer(thinking: list[str], text: list[tuple[str, bool]]) -> list[tuple[str, Any]]:
    """An upstream stream: a thinking block, then a text block whose deltas may have pings between."""
    events: list[tuple[str, Any]] = [("message_start", {"message": {"id": "m", "usage": {}}})]
    if thinking:
        events.append(("content_block_start", {"index": 0, "content_block": {"type": "thinking"}}))
        for piece in thinking:
            events.append(
                ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": piece}})
            )
        events.append(
            ("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "s"}})
        )
        events.append(("content_block_stop", {"index": 0}))
    events.append(("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}))
    for piece, ping in text:
        if ping:
            events.append(("ping", {}))
        events.append(("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": piece}}))
    events.append(("content_block_stop", {"index": 1}))
    events.append(("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {}}))
    return events


def _items(fmt: str, events: list[tuple[str, Any]]) -> tuple[list[bytes | str], Any]:
    """What the relay's item iterator gives for `events`: text deltas as text, the rest encoded."""
    relay = RelayCore(SimpleNamespace(settings=Settings()), format=fmt)  # type: ignore[arg-type]
    stream = SimpleNamespace(reader=EventReader())
    items: list[bytes | str] = []
    for name, data in events:
        if name == "content_block_delta" and data["delta"]["type"] == "text_delta":
            items.append(data["delta"]["text"])
        else:
            chunk = relay._encode(stream, name, data)  # type: ignore[arg-type]
            if chunk:
                items.append(chunk)
    return items, relay.format


def _shown(fmt: str, body: bytes) -> list[tuple[str, str]]:
    """What a browser shows of a body: (kind, text) runs, adjacent pieces of one kind joined."""
    pieces: list[tuple[str, str]] = []
    if fmt == "text":
        pieces.append(("text", body.decode()))
    elif fmt == "ndjson":
        for line in body.splitlines():
            item = json.loads(line)
            if item["type"] in ("token", "thinking"):
                pieces.append((item["type"], item["text"]))
            elif item["type"] != "ping":
                pieces.append((item["type"], ""))
    else:
        for name, data in SSEDecoder().feed(body):
            if not isinstance(data, dict):
                pieces.append((str(data), ""))
            elif fmt == "sse" and name in ("token", "thinking"):
                pieces.append((name, data["text"]))
            elif fmt == "ai-sdk" and data["type"] in ("text-delta", "reasoning-delta"):
                pieces.append((data["type"], data["delta"]))
            elif name != "ping":
                pieces.append((name if fmt == "sse" else data["type"], ""))
    runs: list[tuple[str, str]] = []
    for kind, text in pieces:
        if kind in _TEXTS and not text:
            continue  # an empty delta shows nothing
        if runs and runs[-1][0] == kind and kind in _TEXTS:
            runs[-1] = (kind, runs[-1][1] + text)
        else:
            runs.append((kind, text))
    return runs


_TEXTS = frozenset({"token", "thinking", "text-delta", "reasoning-delta", "text"})


def _token_events(fmt: str, body: bytes) -> int:
    if fmt == "sse":
        return body.count(b"event: token\n")
    if fmt == "ai-sdk":
        return body.count(b'"type":"text-delta"')
    if fmt == "ndjson":
        return body.count(b'{"type":"token"')
    return 0


def _cut(items: list[bytes | str], cuts: list[int]) -> list[list[bytes | str]]:
    edges = sorted({0, len(items), *(c % (len(items) + 1) for c in cuts)})
    return [items[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=150, deadline=None)
@given(
    thinking=st.lists(st.text(max_size=6), max_size=4),
    text=st.lists(st.tuples(st.text(max_size=8), st.booleans()), min_size=1, max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=12),
    fmt=st.sampled_from(FORMATS),
)
def test_coalesced_batches_show_the_same_text_as_one_event_per_delta(
    thinking: list[str], text: list[tuple[str, bool]], cuts: list[int], fmt: str
) -> None:
    events = _answer(thinking, text)
    items, one_format = _items(fmt, events)
    apart = b"".join(coalesce(iter(items), one_format.token, None))
    items, batch_format = _items(fmt, events)
    batches = _cut(items, cuts)
    together = b"".join(encode(batch, batch_format.token) for batch in batches)
    assert _shown(fmt, together) == _shown(fmt, apart)
    # Never more token events than deltas, and at most one per run of text in a batch.
    assert _token_events(fmt, together) <= _token_events(fmt, apart)
    runs = sum(
        sum(
            1
            for a, b in zip([b"", *batch], batch, strict=False)
            if isinstance(b, str) and not isinstance(a, str)
        )
        for batch in batches
    )
    assert _token_events(fmt, together) <= runs


def test_a_lone_item_encodes_as_itself() -> None:
    for fmt in FORMATS:
        events = _answer(["a"], [("Hello", False), (" world", True)])
        items, alone = _items(fmt, events)
        _, plain = _items(fmt, events)  # formats keep state (ai-sdk's open text part): one each
        encoded = [encode([item], alone.token) for item in items]
        if fmt == "ai-sdk":
            encoded = [c.replace(alone._message_id.encode(), plain._message_id.encode()) for c in encoded]
        assert encoded == list(coalesce(iter(items), plain.token, None)), fmt


async def _agen(items: list[bytes | str], ready: int) -> AsyncIterator[bytes | str]:
    """`items`, the first `ready` at once, each later one after a wait on the loop."""
    for n, item in enumerate(items):
        if n >= ready:
            await asyncio.sleep(0.001)
        yield item


async def test_async_coalescing_joins_what_came_while_writing_and_in_the_window() -> None:
    items: list[bytes | str] = [b": ping\n\n", "a", "b", "c", b"<event>", "d", "e", "f"]
    chunks = [c async for c in acoalesce(_agen(items, ready=5), lambda t: f"[{t}]".encode(), 0.05)]
    # The first five came at once, but the first token is never held for what came with it: it
    # goes out with what was read before it; the rest of those five and the last three (1 ms
    # apart, inside the 50 ms window after the first write) join in one more, each text run one
    # event.
    assert chunks == [b": ping\n\n[a]", b"[bc]<event>[def]"]
    chunks = [c async for c in acoalesce(_agen(items, ready=5), lambda t: f"[{t}]".encode(), None)]
    assert chunks == [b": ping\n\n", b"[a]", b"[b]", b"[c]", b"<event>", b"[d]", b"[e]", b"[f]"]


async def test_async_coalescing_closed_mid_read_closes_the_items() -> None:
    closed = []

    async def items() -> AsyncIterator[bytes | str]:
        try:
            yield "first"
            await asyncio.sleep(10)
            yield "never"
        finally:
            closed.append(True)

    chunks = acoalesce(items(), str.encode, 0.01)
    assert await anext(chunks) == b"first"
    await chunks.aclose()  # the reader task is waiting on the second item
    assert closed == [True]


async def test_async_coalescing_cancelled_mid_read_closes_the_items() -> None:
    closed = []

    async def items() -> AsyncIterator[bytes | str]:
        try:
            yield "first"
            await asyncio.sleep(10)
        finally:
            closed.append(True)

    async def consume() -> None:
        async for _ in acoalesce(items(), str.encode, 0.01):
            pass

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]


def test_the_window_is_a_setting_with_a_bound() -> None:
    assert Settings().coalesce_window == 0.0
    assert Settings(coalesce_window=None).coalesce_window is None
    assert Settings(coalesce_window=0.1).coalesce_window == 0.1
    for bad in (-0.01, 0.5, True, "0.02"):
        with pytest.raises(SettingsError, match="coalesce_window"):
            Settings(coalesce_window=bad)  # type: ignore[arg-type]


def test_the_window_reads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRSTTOKEN_COALESCE_WINDOW", "0.02")
    assert Settings.from_env().coalesce_window == 0.02
    monkeypatch.setenv("FIRSTTOKEN_COALESCE_WINDOW", "off")
    assert Settings.from_env().coalesce_window is None


# -- through a real engine at the API's pace ----------------------------------------------------

# 100 tokens/s, first token 30 ms after the request: deltas 10 ms apart, as the API paces them.
PACED = ModelTiming(ttft_p50_ms=30, ttft_p95_ms=30, tokens_per_second=100)
WINDOW = 0.05
LENGTH = {"x-emulator-output-tokens": "60"}


@pytest.fixture(scope="module")
def paced() -> Iterator[Emulator]:
    with Emulator(time_scale=1.0, seed=3, timings={"haiku": PACED}) as emu:
        yield emu


def _engine(emu: Emulator, window: float | None) -> Engine:
    return Engine(Settings(base_url=emu.base_url, max_retries=0, coalesce_window=window, advisor=False))


def _timed(engine: Engine, fmt: str = "sse") -> tuple[list[tuple[float, bytes]], Relay]:
    relay = Relay(engine, format=fmt, messages=USER, model="claude-haiku-5-5", extra_headers=LENGTH)
    assert relay.open().status == 200
    # The WSGI path: a reader thread, and the server's thread writing what it finds queued.
    body = relay.body()
    chunks = [(time.perf_counter(), chunk) for chunk in body]
    getattr(body, "close", lambda: None)()
    return chunks, relay


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_window_writes_fewer_events_with_the_same_text(paced: Emulator, fmt: str) -> None:
    with _engine(paced, None) as off, _engine(paced, WINDOW) as on:
        plain, _ = _timed(off, fmt)
        held, _ = _timed(on, fmt)
    plain_body = b"".join(c for _, c in plain)
    held_body = b"".join(c for _, c in held)
    assert _shown(fmt, held_body)[:3] == _shown(fmt, plain_body)[:3]
    text = [run for run in _shown(fmt, plain_body) if run[0] in ("token", "text-delta", "text")]
    assert text and text == [
        run for run in _shown(fmt, held_body) if run[0] in ("token", "text-delta", "text")
    ]
    # 60 deltas 10 ms apart under a 50 ms window: a few a write.
    assert len(held) < len(plain) / 2


def test_the_first_token_is_not_held_and_later_ones_at_most_a_window(paced: Emulator) -> None:
    with _engine(paced, WINDOW) as engine:
        chunks, relay = _timed(engine)
    stream = relay.stream
    assert stream is not None and stream.timings.ttft is not None
    first = next(at for at, chunk in chunks if b"event: token" in chunk)
    # ttft is when the first delta was parsed; it was written (yielded) straight after, not a
    # window later.
    parsed = stream.timings.started + stream.timings.ttft
    assert first - parsed < WINDOW / 5
    # Deltas are 10 ms apart upstream; with the window, writes are a window apart plus a delta at
    # most (on a busy machine, some slack).
    times = [at for at, chunk in chunks if b"event: token" in chunk]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps and max(gaps) < WINDOW + 0.01 + 0.04
    assert min(gaps) >= WINDOW * 0.9


async def test_the_async_relay_holds_the_same_rules(paced: Emulator) -> None:
    with _engine(paced, WINDOW) as engine:
        relay = Relay(engine, messages=USER, model="claude-haiku-5-5", extra_headers=LENGTH)
        assert (await relay.aopen()).status == 200
        chunks = [(time.perf_counter(), chunk) async for chunk in relay]
        stream = relay.stream
        assert stream is not None and stream.timings.ttft is not None
        first = next(at for at, chunk in chunks if b"event: token" in chunk)
        assert first - (stream.timings.started + stream.timings.ttft) < WINDOW / 5
        times = [at for at, chunk in chunks if b"event: token" in chunk]
        assert 3 <= len(times) < 30
        await asyncio.sleep(0)


async def test_the_reading_task_lets_the_writer_take_the_first_token_before_reading_on() -> None:
    # What arrives with the first token (the rest of a burst, the answer's end) is parsed by the
    # reading task without a step back to the loop, so the writer, woken, would wait for it all.
    written: list[bytes] = []
    token_written_first: list[bool] = []

    async def items() -> AsyncIterator[object]:
        # Every event before the first text is an item of its own.
        for item in (b"opening", b"|message_start", b"|content_block_start", "Hello"):
            yield item
        token_written_first.append(b"Hello" in b"".join(written))
        yield " there"

    beat = SimpleNamespace(beat=b"", due_in=lambda: 60.0, sent=lambda: None)
    async for chunk in acoalesce(items(), lambda text: text.encode(), None, beat):  # type: ignore[arg-type]
        written.append(chunk)
    assert b"".join(written) == b"opening|message_start|content_block_startHello there"
    assert token_written_first == [True]
