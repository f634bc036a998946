"""Prompt caching against the emulator over real HTTP: placement, sharing, warming, keep-warm, debug."""

from __future__ import annotations

import copy
import logging
import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import pytest

from firsttoken import Engine, Profile, Settings, SettingsError
from firsttoken._caching import count_breakpoints, refresh_pays
from firsttoken.testing.emulator import Emulator

MODEL = "claude-sonnet-5"
# About 10K tokens by the 4-characters-a-token rule the emulator counts by.
BIG_SYSTEM = "You answer questions about the firsttoken library precisely. " * 660
SHORT_SYSTEM = "You are terse."


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=1) as emulator:
        yield emulator


def engine_for(emu: Emulator, tmp_path: Any, **profile: Any) -> Engine:
    emu.reset()
    fields = {"model": MODEL, "max_tokens": 40, **profile}
    settings = Settings(
        base_url=emu.base_url, profiles={"chat": Profile(**fields)}, warm_lock_dir=str(tmp_path)
    )
    return Engine(settings)


def conversation(engine: Engine, turns: int, *, user: str = "u", **kwargs: Any) -> list[Any]:
    messages: list[dict[str, Any]] = []
    usages = []
    for turn in range(turns):
        messages.append({"role": "user", "content": f"{user} asks question number {turn} about caching."})
        message = engine.create(messages=list(messages), **kwargs)
        usages.append(message.usage)
        messages.append({"role": "assistant", "content": message.content[0].text})
    return usages


def prompt(usage: Any) -> int:
    return int(usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens)


def test_twenty_turns_read_ninety_percent_from_cache(emu: Emulator, tmp_path: Any) -> None:
    with engine_for(emu, tmp_path) as engine:
        usages = conversation(engine, 20, system=BIG_SYSTEM)
    later = usages[1:]
    read = sum(u.cache_read_input_tokens for u in later)
    assert read / sum(prompt(u) for u in later) >= 0.9
    assert usages[0].cache_creation_input_tokens >= 9000


def test_prewarmed_prefix_makes_the_first_turn_a_hit(emu: Emulator, tmp_path: Any) -> None:
    with engine_for(emu, tmp_path, prefix_system=BIG_SYSTEM) as engine:
        [result] = engine.warm()
        assert result.status == "warmed"
        assert result.cache_creation_input_tokens == result.prefix_tokens >= 9000
        [first] = conversation(engine, 1)
        assert first.cache_read_input_tokens >= result.prefix_tokens
        snapshot = engine.metrics_snapshot()
    assert snapshot["total"]["ttft_hit_p50_ms"] is None  # create() has no TTFT; the split is for streams
    assert snapshot["total"]["cost_saved_usd"] > 0
    assert snapshot["caching"]["prefixes"][0]["warmed"] is True


def test_two_users_share_the_static_prefix(emu: Emulator, tmp_path: Any) -> None:
    with engine_for(emu, tmp_path) as engine:
        [alice] = conversation(engine, 1, user="alice", system=BIG_SYSTEM)
        [bob] = conversation(engine, 1, user="bob", system=BIG_SYSTEM)
    assert alice.cache_read_input_tokens == 0
    assert bob.cache_read_input_tokens >= 9000


def test_automatic_caching_alone_does_not_share_between_users(emu: Emulator, tmp_path: Any) -> None:
    # The baseline the shared-prefix breakpoint beats: only the top-level cache_control.
    with engine_for(emu, tmp_path, caching="off") as engine:
        auto = {"type": "ephemeral"}
        [_alice] = conversation(engine, 1, user="alice", system=BIG_SYSTEM, cache_control=auto)
        [bob] = conversation(engine, 1, user="bob", system=BIG_SYSTEM, cache_control=auto)
    assert bob.cache_read_input_tokens == 0


def test_below_minimum_adds_no_breakpoint_and_warns_once(
    emu: Emulator, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="firsttoken.advisor")
    with engine_for(emu, tmp_path) as engine:
        _, params = engine.prepare(system=SHORT_SYSTEM, messages=[{"role": "user", "content": "hi"}])
        assert count_breakpoints(params) == 0
        usages = conversation(engine, 2, system=SHORT_SYSTEM)
    assert all(u.cache_creation_input_tokens == 0 for u in usages)
    warnings = [r for r in caplog.records if "not cached" in r.getMessage()]
    assert len(warnings) == 1
    assert "minimum cacheable length of 1024" in warnings[0].getMessage()


def test_user_breakpoints_are_kept_and_never_more_than_four(emu: Emulator, tmp_path: Any) -> None:
    marked = {"type": "ephemeral"}
    system = [{"type": "text", "text": BIG_SYSTEM}, {"type": "text", "text": "Today is Monday."}]
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "one", "cache_control": marked}]},
        {"role": "assistant", "content": [{"type": "text", "text": "two", "cache_control": marked}]},
        {"role": "user", "content": [{"type": "text", "text": "three", "cache_control": marked}]},
    ]
    original = copy.deepcopy((system, messages))
    with engine_for(emu, tmp_path) as engine:
        _, params = engine.prepare(system=system, messages=messages)
        assert count_breakpoints(params) == 4
        assert params["system"][1]["cache_control"] == marked  # the shared prefix took the last slot
        assert [m["content"][0]["cache_control"] for m in params["messages"]] == [marked] * 3
        engine.create(system=system, messages=messages)  # the emulator refuses a fifth breakpoint
        fourth = [
            *messages[:2],
            {"role": "user", "content": [{"type": "text", "text": "x", "cache_control": marked}]},
        ]
        _, full = engine.prepare(system=[{**system[0], "cache_control": marked}], messages=fourth)
        assert count_breakpoints(full) == 4
        assert "cache_control" not in full
    assert (system, messages) == original


def test_explicit_and_off_policies(emu: Emulator, tmp_path: Any) -> None:
    with engine_for(emu, tmp_path, caching="explicit", prefix_system=BIG_SYSTEM) as engine:
        _, params = engine.prepare(messages=[{"role": "user", "content": "hi"}])
        assert "cache_control" not in params and params["system"][0]["cache_control"] == {"type": "ephemeral"}
    with engine_for(emu, tmp_path, caching="off") as engine:
        _, params = engine.prepare(system=BIG_SYSTEM, messages=[{"role": "user", "content": "hi"}])
        assert count_breakpoints(params) == 0


def test_one_hour_ttl_marks_and_prices_writes_at_two_x(emu: Emulator, tmp_path: Any) -> None:
    with engine_for(emu, tmp_path, cache_ttl="1h") as engine:
        [usage] = conversation(engine, 1, system=BIG_SYSTEM)
        assert usage.cache_creation.ephemeral_1h_input_tokens >= 9000
        saved = engine.metrics_snapshot()["total"]["cost_saved_usd"]
    # A write that nobody read yet cost 1x more than plain input at 1h: about -$3/MTok x 10K.
    assert saved == pytest.approx(-3e-6 * usage.cache_creation_input_tokens, rel=0.01)


def test_keep_warm_refreshes_an_idle_prefix_near_its_ttl(tmp_path: Any) -> None:
    clock = FakeClock()
    with (
        Emulator(time_scale=0.0, clock=clock) as emulator,
        engine_for(emulator, tmp_path, prefix_system=BIG_SYSTEM) as engine,
    ):
        engine.caching.clock = clock
        engine.warm()
        for _ in range(3):
            clock.now += 20
            conversation(engine, 1)
        clock.now += 200  # 200 s idle: not yet near the 300 s TTL
        assert engine.caching.refresh_due() == 0
        clock.now += 50  # 250 s idle: within the last fifth of the TTL
        assert engine.caching.refresh_due() == 1
        # Counted: the deployment's sum with Redis, the scrape's firsttoken_warming_total.
        [counted] = [
            c for c in engine.metrics_snapshot()["series"]["counters"] if c["name"] == "firsttoken.warming"
        ]
        assert counted["attributes"]["firsttoken.warm.kind"] == "keep_warm" and counted["value"] == 1
        clock.now += 200  # 450 s after the last request: a hit only thanks to the refresh
        [usage] = conversation(engine, 1)
        assert usage.cache_read_input_tokens >= 9000


def test_keep_warm_stays_idle_under_steady_traffic_and_lets_a_dead_prefix_lapse(tmp_path: Any) -> None:
    clock = FakeClock()
    with Emulator(time_scale=0.0, clock=clock) as emulator:
        with engine_for(emulator, tmp_path, prefix_system=BIG_SYSTEM) as engine:
            engine.caching.clock = clock
            engine.warm()
            for _ in range(10):
                clock.now += 60
                conversation(engine, 1)
                assert engine.caching.refresh_due() == 0
            # Warmed but never used: no traffic, so a refresh would not pay.
            clock.now += 250
            assert engine.caching.refresh_due() == 1  # ten requests in ten minutes still pay
        with engine_for(emulator, tmp_path, prefix_system=BIG_SYSTEM + " v2") as idle:
            idle.caching.clock = clock
            idle.warm()
            clock.now += 250
            assert idle.caching.refresh_due() == 0


def test_keep_warm_thread_runs_on_the_injected_clock_and_stops_on_close(tmp_path: Any) -> None:
    clock = FakeClock()
    with Emulator(time_scale=0.0, clock=clock) as emulator:
        engine = engine_for(emulator, tmp_path, prefix_system=BIG_SYSTEM)
        engine.caching.clock = clock
        engine.caching.keep_warm.interval = 0.02
        engine.warm()
        conversation(engine, 2)
        assert engine.caching.keep_warm.running
        clock.now += 270
        deadline = time.monotonic() + 10
        while engine.caching.stats()["prefixes"][0]["refreshes"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.caching.stats()["prefixes"][0]["refreshes"] == 1
        engine.close()
        assert not engine.caching.keep_warm.running


def test_refresh_rule() -> None:
    # One request an hour still pays for a 5-minute refresh (0.1 read vs 1.15 x P(request)).
    assert refresh_pays(1 / 3000, "5m")
    assert not refresh_pays(1 / 4000, "5m")
    assert not refresh_pays(0.0, "1h")


def _warm_in_child(base_url: str, lock_dir: str, start: Any, done: Any, out: Any) -> None:
    settings = Settings(
        base_url=base_url,
        warm_lock_dir=lock_dir,
        profiles={"chat": Profile(model=MODEL, max_tokens=40, prefix_system=BIG_SYSTEM, keep_warm=False)},
    )
    with Engine(settings) as engine:
        start.wait(30)
        [result] = engine.warm()
        out.put(result.status)
        # Hold the lock until both have tried, as two live server workers would.
        done.wait(30)


def test_only_one_of_two_processes_warms_a_prefix(emu: Emulator, tmp_path: Any) -> None:
    emu.reset()
    ctx = multiprocessing.get_context("spawn")
    start, done, out = ctx.Barrier(2), ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=_warm_in_child, args=(emu.base_url, str(tmp_path), start, done, out)) for _ in "ab"
    ]
    for worker in workers:
        worker.start()
    statuses = sorted(out.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    out.close()
    out.join_thread()
    assert statuses == ["held_elsewhere", "warmed"]
    warm_calls = [r for r in emu.requests if r["path"] == "/v1/messages" and r["output_tokens"] == 0]
    assert len(warm_calls) == 1


def test_debug_mode_logs_why_a_continuing_conversation_missed(
    emu: Emulator, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="firsttoken.caching")
    emu.reset()
    settings = Settings(base_url=emu.base_url, cache_debug=True, warm_lock_dir=str(tmp_path))
    with Engine(settings) as engine:
        messages: list[dict[str, Any]] = [{"role": "user", "content": "first"}]
        first = engine.create(system=BIG_SYSTEM, messages=messages, max_tokens=20)
        messages += [
            {"role": "assistant", "content": first.content[0].text},
            {"role": "user", "content": "next"},
        ]
        _, params = engine.prepare(system=BIG_SYSTEM, messages=messages)
        assert params["diagnostics"] == {"previous_message_id": first.id}
        with engine.stream(system=BIG_SYSTEM + " Changed.", messages=messages, max_tokens=20) as stream:
            stream.text()
    assert not any(
        "cache miss" in r.getMessage() for r in caplog.records if "system_changed" not in r.getMessage()
    )
    assert any("system_changed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"profiles": {"chat": {"caching": "sometimes"}}}, "profiles['chat']['caching']"),
        ({"profiles": {"chat": {"cache_ttl": "10m"}}}, "profiles['chat']['cache_ttl']"),
        ({"cache_min_tokens": {"haiku": -1}}, "cache_min_tokens['haiku']"),
        ({"pricing": "cheap"}, "pricing"),
        ({"cache_debug": "yes"}, "cache_debug"),
    ],
)
def test_bad_caching_settings_name_their_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"base_url": "http://127.0.0.1:9", **settings})
    assert info.value.key == key


def test_min_tokens_and_pricing_are_configurable(emu: Emulator, tmp_path: Any) -> None:
    settings = Settings(base_url=emu.base_url, cache_min_tokens={"sonnet": 50_000}, pricing={"sonnet": 6.0})
    with Engine(settings) as engine:
        _, params = engine.prepare(system=BIG_SYSTEM, messages=[{"role": "user", "content": "hi"}])
        assert count_breakpoints(params) == 0
        assert engine.caching.costs.price(MODEL) == 6.0 / 1_000_000


# Digests an older version wrote to Redis (warm leases are named by a registered prefix's digest;
# warm-ahead claims by a conversation's): computed by the three functions `prefix_digest` replaced.
DIGEST_TOOLS = [
    {
        "name": "lookup",
        "description": "Find a word",
        "input_schema": {"type": "object", "properties": {"w": {"type": "string"}}},
        "cache_control": {"type": "ephemeral"},
    }
]
DIGEST_SYSTEM = "You are terse. Ünïcode."
DIGEST_CONVERSATION = [
    {"role": "user", "content": "Hello there"},
    {
        "role": "assistant",
        "content": [{"type": "text", "text": "Hi!", "cache_control": {"type": "ephemeral"}}],
    },
]


def test_prefix_digests_name_what_older_versions_named() -> None:
    from firsttoken._caching.estimate import prefix_digest
    from firsttoken._caching.prefixes import StaticPrefix
    from firsttoken._state.locks import lock_name

    def registered(model: str, system: str | None) -> StaticPrefix:
        return StaticPrefix.build(
            profile="chat",
            model=model,
            system=system,
            tools=DIGEST_TOOLS,
            ttl="5m",
            warm=True,
            keep_warm=True,
        )

    prefix = registered("claude-sonnet-4-5", DIGEST_SYSTEM)
    assert prefix.digest == "a5977b3dfc8b8c04e26aaaa06db1412e1457f7886cb451ea6b8633286919f46e"
    assert registered("claude-haiku-4-5", None).digest == (
        "11c8b22a49dcd9b7a011f9eb47be9e205621eca8b8802071753dcb958c37f18c"
    )
    lock = lock_name(prefix_digest=prefix.digest, model=prefix.model, base_url="http://127.0.0.1:9")
    assert lock == "410c69a75275c938b32b1d221b68bc93"
    blocks = [{"type": "text", "text": DIGEST_SYSTEM}]
    # The warm-ahead claim of a conversation (`ahead:<digest>`), breakpoints left out.
    assert prefix_digest("claude-sonnet-4-5", DIGEST_TOOLS, blocks, DIGEST_CONVERSATION) == (
        "16da2fd1380dc62dc183aafebc928db3596f947f976f60ffef27406da26f9785"
    )
    assert prefix_digest("claude-sonnet-4-5", None, None, DIGEST_CONVERSATION) == (
        "18b76bc6a373fedf06a00eb71323b3abbb0eae57b60161d24c0a653308065839"
    )
    assert prefix_digest("claude-sonnet-4-5", None, "Be brief", DIGEST_CONVERSATION) == (
        "513f1963332f837b3717d6496b3dccee9b54cd87c7de11b9f8f280f4168b5e69"
    )
    # A registered prefix and the same tools and system sent by a call are one prefix: a size
    # `count_tokens` confirmed for one is the other's.
    assert prefix_digest(prefix.model, DIGEST_TOOLS, blocks) == prefix.digest
