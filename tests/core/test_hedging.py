"""Hedged first tokens through the real SDK against the emulator at time-scale 1.

Which request is slow is the emulator's `slow` fault, decided per arrival: with the request's seed
27, `slow:0.5` fires on the first arrival after a reset and not on the second, so the first
request stalls (ten times its draw) and its hedge does not. Nothing here depends on a random draw
of TTFT, and no test asserts how fast anything was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken import Engine, Relay, Settings, SettingsError
from firsttoken._metrics import CallRecord, Metrics, merge_dumps
from firsttoken._profiles import Profile
from firsttoken._sse import SSEDecoder
from firsttoken._upstream.breaker import Breaker
from firsttoken._upstream.governor import Governor
from firsttoken._upstream.hedging import Hedging
from firsttoken.testing.emulator import Emulator

from .conftest import USER

MODEL = "claude-haiku-5-5"
# Seed 27's first two arrivals draw 0.18 and 0.87: a fault at rate 0.5 fires on the first only.
FIRST_ONLY = "27"


def first_only(kind: str) -> dict[str, Any]:
    return {"extra_headers": {"x-emulator-fault": f"{kind}:0.5", "x-emulator-seed": FIRST_ONLY}}


def hedging_engine(emu: Emulator, settings: dict[str, Any] | None = None, **profile: Any) -> Engine:
    # Short answers: what is measured here ends at the first token.
    fields = {"max_tokens": 8, "hedge_after": 100, "hedge_share": 1.0, **profile}
    base = {"base_url": emu.base_url, "max_retries": 0, "advisor": False, "profiles": {"fast": fields}}
    return Engine(Settings.from_mapping({**base, **(settings or {})}))


@pytest.fixture
def emu(realtime_emulator: Emulator) -> Iterator[Emulator]:
    # A stream's close reaches the emulator a moment after its last byte reached us: counted
    # before the reset, or it would be taken off the next test's count.
    settled(realtime_emulator)
    realtime_emulator.reset()
    realtime_emulator.set_faults([])
    yield realtime_emulator
    settled(realtime_emulator)
    realtime_emulator.reset()


def settled(emu: Emulator) -> dict[str, Any]:
    """The emulator's stats once every stream it served has closed (it sees a disconnect a moment
    after the client closes)."""
    deadline = time.monotonic() + 5.0
    while (stats := emu.stats())["streams_open"] > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return stats


def reference_text(emu: Emulator) -> str:
    """The answer to USER unhedged (the seed header picks the text, as it does for the hedge)."""
    with Engine(Settings(base_url=emu.base_url, max_retries=0, advisor=False)) as plain:
        seeded = {"x-emulator-seed": FIRST_ONLY}
        with plain.stream(messages=USER, profile="fast", max_tokens=8, extra_headers=seeded) as s:
            return s.text()


def assert_hedge_won(emu: Emulator, engine: Engine, hedge: str | None) -> None:
    assert hedge == "won"
    stats = settled(emu)
    statuses = [(r["fault"], r["disconnected"]) for r in emu.requests]
    # The slow first request was closed as soon as the hedge's token came: it stopped generating.
    assert statuses == [("slow", True), (None, False)]
    assert stats["streams_open"] == 0 and stats["client_disconnects"] == 1
    window = engine.metrics.snapshot()["models"][MODEL]
    assert (window["count"], window["hedges"], window["hedges_won"]) == (1, 1, 1)
    # The loser's prompt (its message_start's usage) is the hedge's extra, and priced.
    assert window["hedge_input_tokens"] == window["input_tokens"] > 0
    assert window["hedge_cost_usd"] > 0


def test_a_hedge_wins_over_a_slow_request_and_the_loser_is_closed(emu: Emulator) -> None:
    expected = reference_text(emu)
    settled(emu)
    emu.reset()
    with hedging_engine(emu) as engine:
        relay = Relay(engine, format="sse", messages=USER, profile="fast", **first_only("slow"))
        start = relay.open()
        assert start.status == 200
        events = list(SSEDecoder().feed(b"".join(relay)))
        assert_hedge_won(emu, engine, events[-1][1].get("hedge"))
        # The answer the browser got is one answer, the hedge's: nothing of the slow request's.
        assert "".join(data["text"] for name, data in events if name == "token") == expected
        assert [name for name, _ in events].count("done") == 1
        scrape = engine.prometheus()[0].decode()
        assert f'firsttoken_hedges_total{{gen_ai_response_model="{MODEL}"}} 1.0' in scrape
        assert f'firsttoken_hedges_won_total{{gen_ai_response_model="{MODEL}"}} 1.0' in scrape


async def test_an_async_hedge_wins_over_a_slow_request_and_the_loser_is_closed(emu: Emulator) -> None:
    expected = reference_text(emu)
    settled(emu)
    emu.reset()
    async with hedging_engine(emu) as engine:
        async with engine.astream(messages=USER, profile="fast", **first_only("slow")) as s:
            text = await s.text()
        assert text == expected
        assert s.hedge is not None and s.hedge.won
        assert_hedge_won(emu, engine, s.timings.hedge)


@pytest.mark.parametrize("side", ["sync", "async"])
async def test_a_token_before_the_delay_sends_no_hedge(emu: Emulator, side: str) -> None:
    with hedging_engine(emu, hedge_after=30_000) as engine:
        if side == "sync":
            with engine.stream(messages=USER, profile="fast") as s:
                s.text()
        else:
            async with engine.astream(messages=USER, profile="fast") as a:
                await a.text()
            s = a  # type: ignore[assignment]
        assert s.timings.hedge is None and s.hedge is None
        assert emu.stats()["requests_total"] == 1
        assert engine.metrics.snapshot()["models"][MODEL]["hedges"] == 0


def test_hedges_stay_within_their_share_of_calls(emu: Emulator) -> None:
    # A delay of 1 ms: every call is past it before its first token, so only the budget decides.
    with hedging_engine(emu, hedge_after=1, hedge_share=0.5) as engine:
        hedged = []
        for _ in range(4):
            with engine.stream(messages=USER, profile="fast") as s:
                s.text()
            hedged.append(s.timings.hedge is not None)
        # Each call earns half a hedge: the 2nd and the 4th have a whole one to spend.
        assert hedged == [False, True, False, True]
        stats = settled(emu)
        # Nothing left open. (Whether the emulator counts the loser's close as a disconnect depends
        # on timing here: an eight-token answer can be all sent before the close reaches it.)
        assert (stats["requests_total"], stats["streams_open"]) == (6, 0)
        assert engine.metrics.snapshot()["models"][MODEL]["hedges"] == 2


@pytest.mark.parametrize("pushback", ["overloaded", "rate_limit"])
def test_no_hedges_after_the_api_pushed_back(emu: Emulator, pushback: str) -> None:
    with hedging_engine(emu, {"max_retries": 1}, hedge_after=1) as engine:
        # The SDK retries the first arrival's 529 (or 429, after its retry-after) and the second
        # arrival answers; the governor told hedging as each pushback arrived.
        with engine.stream(messages=USER, profile="fast", **first_only(pushback)) as s:
            s.text()
        assert s.timings.retries == 1
        for _ in range(2):
            with engine.stream(messages=USER, profile="fast") as s:
                s.text()
            assert s.timings.hedge is None
        assert settled(emu)["requests_total"] == 4
        assert engine.metrics.snapshot()["models"][MODEL]["hedges"] == 0


def test_no_hedges_while_the_circuit_is_open(emu: Emulator) -> None:
    # One 529 opens the circuit for a minute; hedging's own pause (the breaker's window) is over
    # long before, so only the open circuit stops the next call's hedge.
    settings = {"max_retries": 1, "breaker_failures": 1, "breaker_window": 0.05, "breaker_cooldown": 60}
    with hedging_engine(emu, settings, hedge_after=1) as engine:
        with engine.stream(messages=USER, profile="fast", **first_only("overloaded")) as s:
            s.text()
        assert engine.resilience.breaker.cooling_down(MODEL)
        time.sleep(0.1)
        with engine.stream(messages=USER, profile="fast") as s:
            s.text()
        assert s.timings.hedge is None
        assert settled(emu)["requests_total"] == 3


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"hedge_after": 0}, "hedge_after"),
        ({"hedge_after": "p100"}, "hedge_after"),
        ({"hedge_after": "90%"}, "hedge_after"),
        ({"hedge_after": True}, "hedge_after"),
        ({"hedge_share": 0}, "hedge_share"),
        ({"hedge_share": 1.5}, "hedge_share"),
    ],
)
def test_a_bad_hedge_setting_fails_at_start_up_naming_the_key(fields: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({"profiles": {"chat": fields}})
    assert caught.value.key == f"profiles['chat'][{key!r}]"


def test_a_percentile_delay_waits_for_enough_calls_and_follows_the_window() -> None:
    metrics = Metrics(window=64)

    def call(ttft: float) -> None:
        metrics.record(CallRecord(profile="chat", model=MODEL, streamed=True, total=1.0, ttft=ttft))

    for i in range(19):
        call(0.1 * (i + 1))
    assert metrics.ttft_percentile(MODEL, 90) is None
    call(2.0)
    assert metrics.ttft_percentile(MODEL, 90) == pytest.approx(1.8)
    # Worked out again only every 16 calls: sorting the window on each would cost every call.
    for _ in range(16):
        call(10.0)
    assert metrics.ttft_percentile(MODEL, 90) == 10.0


def test_a_tenth_share_has_its_hedge_after_ten_calls() -> None:
    # Regression: ten additions of 0.1 are 0.9999999999999999, and a budget compared with 1.0
    # refused the hedge the share had paid for.
    hedging = Hedging(
        governor=Governor(), breaker=Breaker(failures=5, window=30, cooldown=30), ttft=None, pause=30
    )
    options = Profile(model=MODEL, max_tokens=8, hedge_after=100, hedge_share=0.1)
    for _ in range(9):
        assert hedging.delay("fast", options, MODEL) == 0.1
    assert hedging.admit("fast", MODEL, 8) is None
    hedging.delay("fast", options, MODEL)
    assert hedging.admit("fast", MODEL, 8) is not None


def test_hedge_counters_add_up_across_workers() -> None:
    # What Redis deployments merge (`merge_dumps`); a worker of an older version has no hedge counters.
    metrics = Metrics()
    hedged = CallRecord(
        profile="chat",
        model=MODEL,
        streamed=True,
        total=1.0,
        ttft=0.5,
        hedge="won",
        hedge_input_tokens=40,
        hedge_cache_read_input_tokens=10,
        hedge_output_tokens=1,
    )
    metrics.record(hedged, hedge_cost=0.002)
    metrics.record(CallRecord(profile="chat", model=MODEL, streamed=True, total=1.0, ttft=0.4))
    dump = metrics.dump()
    older = json.loads(json.dumps(dump))
    for window in (older["total"], *older["models"].values(), *older["profiles"].values()):
        for name in ("hedges", "hedges_won", "hedge_input", "hedge_output", "hedge_cost"):
            del window[name]
    merged = merge_dumps([dump, dump, older])["models"][MODEL]
    assert (merged["count"], merged["hedges"], merged["hedges_won"]) == (6, 2, 2)
    assert (merged["hedge_input_tokens"], merged["hedge_output_tokens"]) == (100, 2)
    assert merged["hedge_cost_usd"] == pytest.approx(0.004)
