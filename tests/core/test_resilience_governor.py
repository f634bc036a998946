"""The rate-limit governor: budgets from the API's headers, retry-after, and the per-profile policy."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anthropic
import pytest

from firsttoken import Engine, RateLimited, Settings
from firsttoken._state.budgets import retry_after as _retry_after
from firsttoken._upstream.governor import ASYNC_HOOKS, HOOKS, Attempts, Governor
from firsttoken.testing.emulator import Emulator, RateLimit
from tests import files

FAST = "claude-haiku-5-5"
CHAT = "claude-sonnet-5-5"
USER = [{"role": "user", "content": "Say hello."}]


def engine_for(emu: Emulator, **fast: object) -> Engine:
    return Engine(
        Settings.from_mapping({"base_url": emu.base_url, "max_retries": 0, "profiles": {"fast": fast}})
    )


def statuses(emu: Emulator) -> list[int]:
    return [r["status"] for r in emu.requests if r.get("path", "/v1/messages") == "/v1/messages"]


@pytest.fixture
def limited() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, rate_limits=[RateLimit(model="*haiku*", requests_per_minute=5)]) as emu:
        yield emu


def test_a_concurrent_burst_stays_under_the_limit_with_no_upstream_429(limited: Emulator) -> None:
    # The burst's first call probes the cold model while the others wait for its answer; a loaded
    # CI machine once took longer than the default 2 s queue timeout for it, and the waiting calls
    # then went ahead unbudgeted (by design) into an upstream 429. The budget is what this tests.
    with engine_for(limited, on_rate_limit="fail", queue_timeout=30.0) as engine:
        # As a server does at start-up: the cold path (imports, clients, the connection) is paid
        # before the burst, so the probe's answer does not outlast the probe patience on a busy host.
        engine.warm_up()
        results = engine.gather([{"profile": "fast", "messages": USER, "max_tokens": 5}] * 8, concurrency=8)
    refused = [r for r in results if isinstance(r, RateLimited)]
    served = [r for r in results if not isinstance(r, BaseException)]
    others = [r for r in results if isinstance(r, BaseException) and not isinstance(r, RateLimited)]
    # Never over the limit. One fewer may be served when a call reached the API before an earlier
    # one whose answer is read first: that reading already counts it, and it is still subtracted
    # as in flight until its own answer is read. The governor errs that way on purpose (a refusal
    # with a retry-after, never an upstream 429); a loaded host reorders calls more often.
    assert not others, (others, statuses(limited))
    assert len(served) + len(refused) == 8
    assert len(served) in (4, 5), (len(served), statuses(limited))
    assert statuses(limited) == [200] * len(served)
    assert all(r.retry_after > 1.0 for r in refused)


def test_an_image_is_charged_by_its_pixels_not_by_its_base64() -> None:
    # The governor once charged a call `len(str(params)) / 4` input tokens: this photo's 960 KB of
    # base64 counted as 240,000 against a budget of 100,000 a minute, and the calls after the first
    # were refused here although the API takes each for the 320 tokens its pixels cost.
    photo = base64.b64encode(files.png(600, 400, noise=True)).decode()
    assert len(photo) > 900_000
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": photo}},
        {"type": "text", "text": "What is in it?"},
    ]
    budget = RateLimit(model="*haiku*", input_tokens_per_minute=100_000)
    with Emulator(time_scale=0.0, rate_limits=[budget]) as emu:
        with engine_for(emu, on_rate_limit="fail") as engine:
            for _ in range(3):
                engine.create(profile="fast", messages=[{"role": "user", "content": content}], max_tokens=5)
            snap = engine.resilience.governor.snapshot()
        assert statuses(emu) == [200, 200, 200]
    assert 98_000 < snap[FAST]["remaining"]["input-tokens"] < 100_000, snap[FAST]


def test_queue_waits_for_the_budget_to_refill() -> None:
    limit = RateLimit(model="*haiku*", requests_per_minute=60)
    with Emulator(time_scale=0.0, rate_limits=[limit]) as emu:
        with engine_for(emu, on_rate_limit="queue", queue_timeout=5.0) as engine:
            for _ in range(60):
                engine.create(profile="fast", messages=USER, max_tokens=1)
            started = time.monotonic()
            engine.create(profile="fast", messages=USER, max_tokens=1)
            waited = time.monotonic() - started
        # 60 a minute refill one a second; the last call waited for it instead of drawing a 429.
        assert 0.3 < waited < 3.0
        assert statuses(emu) == [200] * 61


def test_queue_gives_up_after_queue_timeout(limited: Emulator) -> None:
    with engine_for(limited, on_rate_limit="queue", queue_timeout=0.2) as engine:
        for _ in range(5):
            engine.create(profile="fast", messages=USER, max_tokens=5)
        started = time.monotonic()
        with pytest.raises(RateLimited):
            engine.create(profile="fast", messages=USER, max_tokens=5)
        assert time.monotonic() - started < 2.0
    assert statuses(limited) == [200] * 5


def test_fallback_policy_moves_to_the_next_model(limited: Emulator) -> None:
    with engine_for(limited, on_rate_limit="fallback", fallbacks=[CHAT]) as engine:
        models = [engine.create(profile="fast", messages=USER, max_tokens=5).model for _ in range(7)]
    assert models == [FAST] * 5 + [CHAT] * 2
    assert 429 not in statuses(limited)


def test_the_relay_answers_a_spent_budget_with_429_and_retry_after(limited: Emulator) -> None:
    with engine_for(limited, on_rate_limit="fail") as engine:
        for _ in range(5):
            engine.create(profile="fast", messages=USER, max_tokens=5)
        relay = engine.relay(profile="fast", messages=USER)
        start = relay.open()
    assert start.status == 429
    assert int(dict(start.headers)["Retry-After"]) >= 1
    assert 429 not in statuses(limited)


def test_retry_after_of_a_429_is_honoured() -> None:
    # Time-scale 1 so the emulator's retry-after-ms is the real second it announces.
    with Emulator(time_scale=1.0) as emu, engine_for(emu, on_rate_limit="fail") as engine:
        with pytest.raises(anthropic.RateLimitError):
            engine.create(
                profile="fast", messages=USER, max_tokens=3, extra_headers={"x-emulator-fault": "rate_limit"}
            )
        with pytest.raises(RateLimited) as info:
            engine.create(profile="fast", messages=USER, max_tokens=3)
        assert 0.5 < info.value.retry_after <= 1.0
        # Refused locally: the upstream saw only the one request that drew the 429.
        assert statuses(emu) == [429]
        time.sleep(info.value.retry_after)
        assert engine.create(profile="fast", messages=USER, max_tokens=3).model == FAST
        assert statuses(emu) == [429, 200]


async def test_async_calls_queue_behind_retry_after() -> None:
    with Emulator(time_scale=1.0) as emu:
        async with engine_for(emu, on_rate_limit="queue", queue_timeout=3.0) as engine:
            with pytest.raises(anthropic.RateLimitError):
                await engine.acreate(
                    profile="fast",
                    messages=USER,
                    max_tokens=3,
                    extra_headers={"x-emulator-fault": "rate_limit"},
                )
            started = time.monotonic()
            message = await engine.acreate(profile="fast", messages=USER, max_tokens=3)
            assert message.model == FAST and time.monotonic() - started > 0.5
        assert statuses(emu) == [429, 200]


def test_retry_after_forms() -> None:
    assert _retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert _retry_after({"retry-after": "2"}) == 2.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = _retry_after({"retry-after": later})
    assert seconds is not None and 25 < seconds <= 30
    assert _retry_after({}) is None and _retry_after({"retry-after": "soon"}) is None


def test_snapshot_reports_budgets_never_the_key(limited: Emulator) -> None:
    with engine_for(limited) as engine:
        engine.create(profile="fast", messages=USER, max_tokens=5)
        snap = engine.resilience.governor.snapshot()
    assert snap[FAST]["remaining"]["requests"] == 4 and snap[FAST]["limit"]["requests"] == 5
    assert "key" not in repr(snap).lower()


# -- which call an HTTP attempt belongs to: an explicit header, never a ContextVar ----------------

OPUS = "claude-opus-5-5"
OVERLOADED = {"x-emulator-fault": "overloaded@*opus*"}


def _client_seeing_headers(emu: Emulator, sent: list[dict[str, str]], *, retries: int) -> anthropic.Anthropic:
    """A real SDK client with the governor's hooks, as the pool builds it; `sent` gets each
    request's headers as sent."""
    hooks = {**HOOKS, "request": [*HOOKS["request"], lambda r: sent.append(dict(r.headers))]}
    return anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url=emu.base_url,
        max_retries=retries,
        http_client=anthropic.DefaultHttpxClient(event_hooks=hooks),
    )


def test_each_call_counts_its_own_attempts_and_its_requests_go_out_as_the_caller_made_them() -> None:
    sent: list[dict[str, str]] = []
    with Emulator(time_scale=0.0) as emu:
        governor = Governor()
        client = _client_seeing_headers(emu, sent, retries=1)
        failing, fine = Attempts(OPUS), Attempts(FAST)
        with governor.tracking(1, failing), pytest.raises(anthropic.InternalServerError):
            client.messages.create(model=OPUS, max_tokens=5, messages=USER, extra_headers=OVERLOADED)
        with governor.tracking(2, fine):
            client.messages.create(model=FAST, max_tokens=5, messages=USER)
        # Untracked: counted in no call, and read into no budget.
        client.messages.create(model=FAST, max_tokens=5, messages=USER)
        client.close()
    # The SDK retried the overloaded call once; the other call saw only its own attempt.
    assert (failing.count, failing.statuses) == (2, [529, 529])
    assert (fine.count, fine.statuses) == (1, [200])
    assert len(sent) == 4
    assert governor.snapshot()[FAST]["remaining"]
    # The caller's own extra headers still went out, and nothing of ours did.
    assert sent[0]["x-emulator-fault"] == OVERLOADED["x-emulator-fault"]
    assert not [name for headers in sent for name in headers if "firsttoken" in name.lower()]


def test_an_attempt_that_got_no_response_counts_with_status_0() -> None:
    # Nothing listens on the port: each attempt fails before any response, which no response hook
    # sees; the next attempt's start, and the call's end, count it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url=f"http://127.0.0.1:{port}",
        max_retries=1,
        http_client=anthropic.DefaultHttpxClient(event_hooks=HOOKS),
    )
    governor, attempts = Governor(), Attempts(FAST)
    with (
        governor.tracking(governor.reserve(FAST, 10).seq, attempts),
        pytest.raises(anthropic.APIConnectionError),
    ):
        client.messages.create(model=FAST, max_tokens=5, messages=USER)
    client.close()
    assert (attempts.count, attempts.statuses) == (2, [0, 0])


async def test_concurrent_async_calls_are_told_apart_by_their_task() -> None:
    with Emulator(time_scale=0.0) as emu:
        governor = Governor()
        client = anthropic.AsyncAnthropic(
            api_key="sk-ant-test",
            base_url=emu.base_url,
            max_retries=1,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks=ASYNC_HOOKS),
        )
        calls = [Attempts(OPUS) for _ in range(4)]

        async def one(i: int, attempts: Attempts) -> None:
            extra = OVERLOADED if i % 2 else {}
            params = {"model": OPUS, "max_tokens": 5, "messages": USER, "extra_headers": extra}
            with governor.tracking(i + 1, attempts), contextlib.suppress(anthropic.InternalServerError):
                await asyncio.sleep(0.01 * (3 - i))  # the four calls' attempts interleave
                await client.messages.create(**params)

        await asyncio.gather(*(one(i, a) for i, a in enumerate(calls)))
        # Nothing is left tracking in this task once the calls are done: this one counts in none.
        await client.messages.create(model=OPUS, max_tokens=5, messages=USER)
        await client.close()
    assert [a.statuses for a in calls] == [[200], [529, 529], [200], [529, 529]]
