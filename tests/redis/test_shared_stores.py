"""Two engines on one Redis behave as two workers of one deployment: they share what they learn.

Each engine has its own clients, its own process-local twins and its own lock directory (a
separate machine's), so anything one sees because of the other went through Redis.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from firsttoken import DEFAULT_PROFILES, Engine, Profile
from firsttoken._state import Budgets, MemoryBudgets
from firsttoken._state.guard import Guard
from firsttoken._state.keys import Keys
from firsttoken._state.lease import LeaseKeeper
from firsttoken.testing.emulator import Emulator
from tests.core.test_budgets import lone_reading_rebases, reordered_burst
from tests.redis.conftest import API_KEY

pytestmark = pytest.mark.redis

OPUS, HAIKU = "claude-opus-5", "claude-haiku-5"
USER = [{"role": "user", "content": "What is a circuit breaker?"}]
OVERLOADED = {"x-emulator-fault": "overloaded@*opus*"}
# This SDK's create() has no `temperature`; the API still reads it from the body.
EXACT = {"extra_body": {"temperature": 0}}
BILLING = {"extra_headers": {"x-emulator-reply": "billing"}}
BIG_SYSTEM = "You answer questions about the firsttoken library precisely. " * 660
WARMED = Profile(model="claude-sonnet-5", max_tokens=40, prefix_system=BIG_SYSTEM, keep_warm=False)


def _requests_to(emulator: Emulator, model: str) -> int:
    return int(emulator.stats()["requests_by_model"].get(model, 0))


def test_one_workers_overloads_cool_the_model_down_for_all(
    make_engine: Callable[..., Engine], emulator: Emulator
) -> None:
    a, b = make_engine(breaker_failures=3), make_engine(breaker_failures=3)
    for _ in range(3):
        message = a.create(model=OPUS, fallbacks=[HAIKU], messages=USER, extra_headers=OVERLOADED)
        assert message.model == HAIKU
    before = _requests_to(emulator, OPUS)
    # No fault now: only the shared cooldown keeps B off opus.
    message = b.create(model=OPUS, fallbacks=[HAIKU], messages=USER)
    assert message.model == HAIKU
    assert _requests_to(emulator, OPUS) == before


def test_budgets_are_one_budget_across_workers(redis_url: str) -> None:
    headers = {"anthropic-ratelimit-requests-limit": "10", "anthropic-ratelimit-requests-remaining": "10"}
    client = redis.Redis.from_url(redis_url)
    keys = Keys("firsttoken:test:")
    try:
        from firsttoken._state.redis_budgets import RedisBudgets

        shared: list[Budgets] = [
            RedisBudgets(client, keys, Guard(where="test"), clock=time.time) for _ in range(2)
        ]
        local: list[Budgets] = [MemoryBudgets(clock=time.time) for _ in range(2)]
        for budgets in [*shared, *local]:
            budgets.observe(OPUS, 200, headers)

        def admitted(workers: list[Budgets]) -> int:
            results: list[float] = []

            def worker(budgets: Budgets) -> None:
                for _ in range(15):
                    results.append(budgets.reserve(OPUS, 10).wait)

            threads = [threading.Thread(target=worker, args=(b,)) for b in workers for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return sum(1 for wait in results if wait == 0)

        # 60 attempts at 10 requests of budget: per-process budgets admit 10 each, the shared one 10.
        assert admitted(local) == 20
        assert admitted(shared) == 10
    finally:
        client.close()


@pytest.mark.parametrize("story", [reordered_burst, lone_reading_rebases])
def test_shared_budgets_read_responses_out_of_order(redis_url: str, story: Callable[[Budgets], None]) -> None:
    from firsttoken._state.redis_budgets import RedisBudgets

    client = redis.Redis.from_url(redis_url)
    guard = Guard(where="test")
    try:
        story(RedisBudgets(client, Keys(f"firsttoken:test:{story.__name__}:"), guard, clock=time.time))
    finally:
        client.close()
    # Every step ran in Redis: a script that failed would have fallen back to the local twin.
    assert not guard.degraded


def test_a_label_classified_by_one_worker_is_a_cache_hit_for_another(
    make_engine: Callable[..., Engine],
) -> None:
    a, b = make_engine(), make_engine()
    first = a.classification("refund my order", labels=["billing", "other"], default="other", **BILLING)
    second = b.classification("refund my order", labels=["billing", "other"], default="other", **BILLING)
    assert first.source == "model"
    assert (second.source, second.label) == ("cache", first.label)


def test_response_cache_is_shared_but_never_across_keys_or_tenants(
    make_engine: Callable[..., Engine], emulator: Emulator
) -> None:
    a, b = make_engine(response_cache=True), make_engine(response_cache=True)
    first = a.create(messages=USER, **EXACT)
    count = emulator.stats()["requests_total"]
    assert b.create(messages=USER, **EXACT).id == first.id
    assert emulator.stats()["requests_total"] == count
    # Another tenant, another API key, a sampled call: each goes upstream.
    assert b.create(messages=USER, **EXACT, tenant="acme").id != first.id
    other_tenant = make_engine(response_cache=True, tenant="globex")
    assert other_tenant.create(messages=USER, **EXACT).id != first.id
    other_key = make_engine(response_cache=True, api_key="sk-ant-another-key")
    assert other_key.create(messages=USER, **EXACT).id != first.id
    assert a.create(messages=USER, extra_body={"temperature": 1}).id != first.id
    assert emulator.stats()["requests_total"] == count + 4
    # The tenant's own entry is shared by that tenant's workers.
    assert a.create(messages=USER, **EXACT, tenant="acme").id != first.id
    assert emulator.stats()["requests_total"] == count + 4


async def test_async_create_reads_and_fills_the_same_response_cache(
    make_engine: Callable[..., Engine], emulator: Emulator
) -> None:
    a, b = make_engine(response_cache=True), make_engine(response_cache=True)
    first = await a.acreate(messages=USER, **EXACT)
    count = emulator.stats()["requests_total"]
    assert b.create(messages=USER, **EXACT).id == first.id
    assert (await b.acreate(messages=USER, **EXACT)).id == first.id
    assert emulator.stats()["requests_total"] == count
    await a.aclose()
    await b.aclose()


def test_exactly_one_machine_warms_a_prefix(
    make_engine: Callable[..., Engine], emulator: Emulator, tmp_path: Path
) -> None:
    profiles = {"chat": WARMED}
    # Separate lock directories: two machines, where a file lock alone would let both warm.
    engines = [make_engine(profiles=profiles, warm_lock_dir=str(tmp_path / m)) for m in "ab"]
    statuses = sorted(result.status for engine in engines for result in engine.warm())
    assert statuses == ["held_elsewhere", "warmed"]


_HOLDER = """
import sys, time, redis
from firsttoken._state.guard import Guard
from firsttoken._state.keys import Keys
from firsttoken._state.lease import LeaseKeeper
keeper = LeaseKeeper(redis.Redis.from_url(sys.argv[1]), Keys("firsttoken:test:"), Guard(where="t"), lease=0.6)
lease = keeper.factory(sys.argv[2])("prefix")
print("held" if lease.acquire() else "refused", flush=True)
time.sleep(60)
"""


def test_a_warm_lease_outlives_its_ttl_while_renewed_and_lapses_when_its_holder_dies(
    redis_url: str, tmp_path: Path
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, redis_url, str(tmp_path / "other-machine")], stdout=subprocess.PIPE
    )
    client = redis.Redis.from_url(redis_url)
    keeper = LeaseKeeper(client, Keys("firsttoken:test:"), Guard(where="t"), lease=0.6)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held"
        lease = keeper.factory(str(tmp_path))("prefix")
        assert not lease.acquire()
        # Three lease lengths later the holder's renewals still keep it.
        time.sleep(1.8)
        assert not lease.acquire()
        holder.kill()
        holder.wait(10)
        deadline = time.monotonic() + 5
        while not lease.acquire():
            assert time.monotonic() < deadline, "the dead holder's lease never lapsed"
            time.sleep(0.05)
        lease.release()
        assert client.exists(lease.key) == 0
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        keeper.close()
        client.close()


def test_metrics_snapshot_covers_every_worker(make_engine: Callable[..., Engine]) -> None:
    a, b = make_engine(), make_engine()
    for engine, calls in ((a, 2), (b, 3)):
        for _ in range(calls):
            engine.create(messages=USER)
    b.metrics_snapshot()  # publishes B's windows now rather than within the second
    snapshot = a.metrics_snapshot()
    assert snapshot["workers"] == 2
    assert snapshot["total"]["count"] == 5
    assert snapshot["state"]["backend"] == "redis"
    assert snapshot["state"]["degraded"] is False


def test_keys_are_namespaced_expire_and_never_hold_the_api_key(
    make_engine: Callable[..., Engine], redis_url: str, tmp_path: Path
) -> None:
    profiles = {**DEFAULT_PROFILES, "chat": WARMED}
    engine = make_engine(
        response_cache=True, tenant="acme", breaker_failures=1, profiles=profiles, warm_lock_dir=str(tmp_path)
    )
    engine.warm()
    engine.create(messages=USER, **EXACT)
    engine.create(model=OPUS, fallbacks=[HAIKU], messages=USER, extra_headers=OVERLOADED)
    engine.classify("refund my order", labels=["billing", "other"], default="other", **BILLING)
    engine.metrics_snapshot()
    client = redis.Redis.from_url(redis_url)
    secrets = [API_KEY.encode(), hashlib.sha256(API_KEY.encode()).hexdigest().encode()]
    kinds = set()
    try:
        keys = list(client.scan_iter(count=1000))
        for key in keys:
            assert key.startswith(b"firsttoken:"), key
            kinds.add(key.split(b":")[1])
            assert client.pttl(key) > 0, f"{key!r} never expires"
            dumped = client.dump(key)
            assert dumped is not None
            for secret in secrets:
                assert secret not in key and secret not in dumped
    finally:
        client.close()
    assert kinds >= {b"breaker", b"budget", b"classify", b"response", b"warm", b"metrics"}


def test_the_prefix_separates_deployments(make_engine: Callable[..., Engine]) -> None:
    a, b = make_engine(), make_engine(redis_prefix="staging:")
    a.classification("refund my order", labels=["billing", "other"], default="other", **BILLING)
    other = b.classification("refund my order", labels=["billing", "other"], default="other", **BILLING)
    assert other.source == "model"


def test_a_resumable_producer_hands_its_first_events_to_the_server_thread_before_reading_on(
    make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under WSGI a resumable answer is read by a thread of its own, which writes each event to
    # Redis after queuing it for the server's thread; without a hand-over that thread, woken by the
    # put, waits for the GIL while this one writes and reads on. A long bound makes the order
    # certain (in use it is the interpreter's switch interval).
    from firsttoken._relay.ids import new_response_id
    from firsttoken._relay.resume.producers import HANDED_OVER
    from firsttoken._wire import get_format

    monkeypatch.setattr("firsttoken._relay.resume.producers.HAND_OVER", 5.0)
    hub = make_engine().resume
    assert hub is not None
    started = threading.Event()
    taken_when_written: list[bool] = []
    append = hub.store.append

    def recording_append(*args: Any, **kwargs: Any) -> Any:
        taken_when_written.append(producer.queue.empty())
        return append(*args, **kwargs)

    monkeypatch.setattr(hub.store, "append", recording_append)
    events = [b"event: start\ndata: {}\n\n", b'event: token\ndata: {"text":"Hi"}\n\n']
    events += [b'event: token\ndata: {"text":"!"}\n\n', b"event: done\ndata: {}\n\n"]

    def answer() -> Iterator[bytes]:
        started.wait(5)
        yield from events

    producer = hub.produce(answer(), new_response_id(), get_format("sse"), "owner", None)
    started.set()
    body = b"".join(producer)
    assert body == b"".join(b"id: %d\n" % n + event for n, event in enumerate(events, 1))
    assert taken_when_written[:HANDED_OVER] == [True] * HANDED_OVER
