"""Warm-up, staying warm and warming ahead, on a real engine against the emulator (HTTP and HTTPS)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator

import anthropic
import httpx2
import pytest

from firsttoken import AheadResult, Engine, Settings
from firsttoken.testing.emulator import Emulator

LONG = "Notes on prompt caching, prefill and the time to the first token of an answer. " * 60
SO_FAR = [
    {"role": "user", "content": LONG},
    {"role": "assistant", "content": "A cached prefix is read, not prefilled."},
]


def _paths(emulator: Emulator) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in emulator.stats()["recent_requests"]]


def _engine(emulator: Emulator, **settings: object) -> Engine:
    return Engine(Settings(base_url=emulator.base_url, max_retries=0, **settings))  # type: ignore[arg-type]


# -- start-up warm-up ------------------------------------------------------------------------------


def test_warm_up_opens_the_connection_the_first_call_uses(emulator: Emulator) -> None:
    emulator.reset()
    with _engine(emulator) as engine:
        report = engine.warm_up()
        assert report is not None and report.status == "warm"
        assert report.connection == "GET /v1/models?limit=1"
        assert _paths(emulator) == ["GET /v1/models"]
        engine.create(messages=[{"role": "user", "content": "Hi"}], profile="fast", max_tokens=5)
        log = emulator.stats()["recent_requests"]
        assert log[1]["path"] == "/v1/messages" and log[1]["client_port"] == log[0]["client_port"]
        stats = engine.metrics_snapshot()["warm_up"]
        assert stats["runs"] == 1 and stats["last"]["status"] == "warm"


async def test_awarm_up_warms_the_running_loops_client(emulator: Emulator) -> None:
    emulator.reset()
    async with _engine(emulator) as engine:
        report = await engine.awarm_up()
        assert report.status == "warm" and report.kind == "async"
        await engine.acreate(messages=[{"role": "user", "content": "Hi"}], profile="fast", max_tokens=5)
        log = emulator.stats()["recent_requests"]
        assert [e["path"] for e in log] == ["/v1/models", "/v1/messages"]
        assert log[0]["client_port"] == log[1]["client_port"]


def test_warm_up_off_sends_nothing(emulator: Emulator) -> None:
    emulator.reset()
    with _engine(emulator, warm_up=False) as engine:
        report = engine.warm_up()
        assert report is not None and report.status == "off"
        assert _paths(emulator) == []
        assert engine.state == "unopened"


def test_a_failed_warm_up_is_logged_once_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once the socket closes
    url = f"http://operator:hunter2pass@127.0.0.1:{port}"
    engine = Engine(Settings(base_url=url, api_key="sk-ant-secret-0123", max_retries=0))
    with engine, caplog.at_level(logging.WARNING, logger="firsttoken"):
        first, second = engine.warm_up(), engine.warm_up()
        assert first is not None and first.status == "failed" and first.error == "APIConnectionError"
        assert second is not None and second.status == "failed"
    warnings = [r for r in caplog.records if "warm-up" in r.getMessage()]
    assert len(warnings) == 1
    # The cause, not only its type (issue 28: "warm-up failed (RuntimeError)" said nothing more).
    assert "warm-up failed (APIConnectionError: " in warnings[0].getMessage()
    assert "sk-ant-secret" not in caplog.text and "hunter2pass" not in caplog.text


def test_warm_up_never_waits_longer_than_its_timeout() -> None:
    # A port that accepts connections and never answers: the warm-up's request hangs.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with Engine(Settings(base_url=url, api_key="k", warm_up_timeout=0.3, timeout=30.0)) as engine:
            started = time.monotonic()
            report = engine.warm_up()
            waited = time.monotonic() - started
            assert report is not None and report.status == "timed_out"
            assert 0.25 < waited < 1.5


def test_warm_up_over_https_against_the_emulators_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(time_scale=0.0, tls=True) as emu:
        assert emu.base_url.startswith("https://") and emu.ca_path is not None
        # Not trusted by default: the certificate is the emulator's own, made at start.
        with pytest.raises(anthropic.APIConnectionError):
            anthropic.Anthropic(api_key="k", base_url=emu.base_url, max_retries=0).models.list()
        monkeypatch.setenv("SSL_CERT_FILE", emu.ca_path)
        with Engine(Settings(base_url=emu.base_url, api_key="k", max_retries=0)) as engine:
            report = engine.warm_up()
            assert report is not None and report.status == "warm"
            message = engine.create(
                messages=[{"role": "user", "content": "Hi"}], profile="fast", max_tokens=5
            )
            assert message.stop_reason == "max_tokens"
        context = ssl.create_default_context(cafile=emu.ca_path)
        with httpx2.Client(verify=context) as client:
            # The handshake succeeds; the emulator then asks for a key, as the API does.
            assert client.get(emu.base_url + "/v1/models").status_code == 401


# A process that warms up and streams three answers over the SDK's aiohttp transport (the
# transport whose stalls led here, BENCHMARKS.md), in a process of its own: the freeze is the
# whole interpreter's, and the test run's own heap is not what a server's is.
_FREEZE_SCRIPT = """
import asyncio, gc, json, sys
from firsttoken import Engine, Settings

async def main(base_url, freeze):
    settings = Settings(base_url=base_url, max_retries=0, async_http_client="aiohttp", gc_freeze=freeze)
    engine = Engine(settings)
    report = await engine.awarm_up()

    async def answer():
        user = [{"role": "user", "content": "Hi"}]
        async with engine.astream(messages=user, profile="fast", max_tokens=20) as s:
            return await s.text()

    texts = await asyncio.gather(*(answer() for _ in range(3)))
    await engine.aclose()
    gc.collect()
    print(json.dumps({"status": report.status, "answered": all(texts), "frozen": gc.get_freeze_count(),
                      "walked": len(gc.get_objects())}))

asyncio.run(main(sys.argv[1], sys.argv[2] == "on"))
"""


@pytest.mark.parametrize("freeze", ["on", "off"])
def test_warm_up_leaves_what_the_process_loaded_out_of_full_collections(
    emulator: Emulator, freeze: str
) -> None:
    pytest.importorskip("aiohttp")
    # A full collection walks every object the collector tracks, holding the GIL: in a relay it
    # stopped every stream at once for 50 to 100 ms (`benchmarks/gc_pauses.py`). Counted in
    # objects, not milliseconds, so that a loaded machine cannot fail it.
    done = subprocess.run(
        [sys.executable, "-c", _FREEZE_SCRIPT, emulator.base_url, freeze],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = json.loads(done.stdout.splitlines()[-1])
    assert after["status"] == "warm" and after["answered"]
    if freeze == "on":
        # The framework-free core, the SDK, aiohttp and their classes: tens of thousands of objects.
        assert after["frozen"] > 50_000
        # What a full pass still walks: what the answers and the process made since the warm-up.
        assert after["walked"] < after["frozen"] / 5, after
    else:
        assert after["frozen"] == 0 and after["walked"] > 50_000, after


# -- staying warm ------------------------------------------------------------------------------------


def test_an_idle_worker_pings_until_stay_warm_runs_out(emulator: Emulator) -> None:
    emulator.reset()
    with _engine(emulator, stay_warm=1.2, stay_warm_interval=0.3) as engine:
        engine.warm_up()
        time.sleep(2.0)
        pings = engine.metrics_snapshot()["warm_up"]["stay_warm_pings"]
        # Idle since the warm-up: a ping about every 0.3 s, then none past 1.2 s of quiet.
        assert 2 <= pings <= 5, pings
        time.sleep(0.8)
        assert engine.metrics_snapshot()["warm_up"]["stay_warm_pings"] == pings
        assert _paths(emulator).count("GET /v1/models") == 1 + pings
        # Counted in the metrics too (the deployment's sum with Redis), and scraped.
        assert warming(engine) == {("stay_warm", "sent", ""): pings}
        scrape = engine.prometheus()[0].decode()
        labels = 'firsttoken_warm_kind="stay_warm",firsttoken_warm_outcome="sent",firsttoken_warm_reason=""'
        assert f"firsttoken_warming_total{{{labels}}} {pings}.0" in scrape


def test_calls_keep_the_worker_warm_without_pings(emulator: Emulator) -> None:
    emulator.reset()
    with _engine(emulator, stay_warm=30.0, stay_warm_interval=0.5) as engine:
        engine.warm_up()
        for _ in range(8):
            engine.create(messages=[{"role": "user", "content": "Hi"}], profile="fast", max_tokens=3)
            time.sleep(0.15)
        assert engine.metrics_snapshot()["warm_up"]["stay_warm_pings"] == 0


# -- warming ahead --------------------------------------------------------------------------------------


@pytest.fixture
def engine(emulator: Emulator) -> Iterator[Engine]:
    emulator.reset()
    with _engine(emulator, warm_up=False) as eng:
        yield eng


def test_max_tokens_0_prefills_the_cache_and_generates_nothing(emulator: Emulator) -> None:
    # As the API does for cache pre-warming: an empty answer that stops at max_tokens.
    client = anthropic.Anthropic(api_key="k", base_url=emulator.base_url, max_retries=0)
    system = [{"type": "text", "text": LONG * 2, "cache_control": {"type": "ephemeral"}}]
    message = client.messages.create(
        model="claude-sonnet-5", max_tokens=0, system=system, messages=[{"role": "user", "content": "."}]
    )
    assert message.content == [] and message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 0 and message.usage.cache_creation_input_tokens > 1000


def test_a_warm_makes_the_next_turn_read_the_conversation(engine: Engine, emulator: Emulator) -> None:
    # What goes upstream: no output, the breakpoint on the conversation's last block, a placeholder.
    planned = engine.ahead.plan(SO_FAR, profile="chat")
    assert not isinstance(planned, AheadResult)
    sent = planned.params
    assert sent["max_tokens"] == 0 and "cache_control" not in sent
    assert sent["messages"][-1] == {"role": "user", "content": "."}
    assert sent["messages"][-2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    result = engine.warm_for(SO_FAR, profile="chat")
    assert result.as_json() == {"warmed": True} and result.cache_creation_input_tokens > 1000
    with engine.stream(messages=[*SO_FAR, {"role": "user", "content": "Next?"}], profile="chat") as s:
        s.text()
    assert s.usage["cache_read_input_tokens"] == result.cache_creation_input_tokens
    ahead = engine.metrics_snapshot()["warm_ahead"]
    assert ahead["warms_sent"] == 1 and ahead["cache_reads_after_warm"] == 1
    assert warming(engine) == {("ahead", "sent", ""): 1, ("ahead", "hit", ""): 1}


def test_the_same_prefix_is_warmed_once(engine: Engine, emulator: Emulator) -> None:
    assert engine.warm_for(SO_FAR).warmed
    again = engine.warm_for(SO_FAR)
    assert again.skipped == "warmed_recently"
    # A longer conversation is a new prefix.
    longer = [*SO_FAR, {"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Lookback."}]
    assert engine.warm_for(longer).warmed
    assert engine.metrics_snapshot()["warm_ahead"]["warms_skipped"] == {"warmed_recently": 1}
    assert warming(engine) == {("ahead", "sent", ""): 2, ("ahead", "skipped", "warmed_recently"): 1}


def test_skipped_below_the_models_minimum_and_when_the_profile_does_not_cache(engine: Engine) -> None:
    short = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert engine.warm_for(short).skipped == "too_short"
    with _engine_with_profile(engine, caching="off") as other:
        assert other.warm_for(SO_FAR).skipped == "caching_off"


def _engine_with_profile(engine: Engine, **fields: object) -> Engine:
    chat = engine.settings.profiles["chat"].replace(**fields)
    return Engine(engine.settings.replace(profiles={**engine.settings.profiles, "chat": chat}))


async def test_one_warm_in_flight_per_conversation(realtime_emulator: Emulator) -> None:
    realtime_emulator.reset()
    async with Engine(Settings(base_url=realtime_emulator.base_url, max_retries=0, warm_up=False)) as engine:
        longer = [*SO_FAR, {"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Lookback."}]
        first, second = await asyncio.gather(engine.awarm_for(SO_FAR), engine.awarm_for(longer))
        assert sorted([first.skipped or "", second.skipped or ""]) == ["", "in_flight"]


def test_a_client_over_its_warm_budget_is_skipped(emulator: Emulator) -> None:
    emulator.reset()
    with _engine(emulator, warm_up=False, warm_requests_per_minute=1) as engine:
        assert engine.warm_for(SO_FAR, client="203.0.113.9").warmed
        other = [{"role": "user", "content": "Another conversation. " + LONG}, SO_FAR[1]]
        over = engine.warm_for(other, client="203.0.113.9")
        assert over.skipped == "over_budget" and not over.warmed
        # Another client has its own budget; the refused warm left no claim behind.
        assert engine.warm_for(other, client="198.51.100.7").warmed


def test_an_upstream_refusal_is_an_answer_not_an_error(engine: Engine, emulator: Emulator) -> None:
    emulator.set_faults(["overloaded"])
    try:
        result = engine.warm_for(SO_FAR)
    finally:
        emulator.set_faults([])
    assert result.warmed is False and "OverloadedError" in (result.reason or "")
    # The failed warm released its claim: the next one goes.
    assert engine.warm_for(SO_FAR).warmed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_worker_warms_up_again(emulator: Emulator) -> None:
    # gunicorn --preload: the parent warmed up, and its connection is not the child's.
    emulator.reset()
    with _engine(emulator, stay_warm=0) as engine:
        assert engine.warm_up() is not None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                deadline = time.monotonic() + 20
                while engine.warmup.last is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                last = engine.warmup.last
                os.write(write, json.dumps({"status": last and last.status, "pid": os.getpid()}).encode())
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read) as pipe:
            report = json.loads(pipe.read())
        assert status == 0 and report["status"] == "warm"
        opened = [e for e in emulator.stats()["recent_requests"] if e["path"] == "/v1/models"]
        # One connection for the parent's warm-up, another for the child's.
        assert len({e["client_port"] for e in opened}) == 2


def warming(engine: Engine) -> dict[tuple[str, str, str], float]:
    """The engine's warming counters (`firsttoken.warming`) by kind, outcome and reason."""
    return {
        (c["attributes"]["firsttoken.warm.kind"], c["attributes"]["firsttoken.warm.outcome"],
         c["attributes"].get("firsttoken.warm.reason", "")): c["value"]
        for c in engine.metrics_snapshot()["series"]["counters"]
        if c["name"] == "firsttoken.warming"
    }  # fmt: skip
