"""The shared state on a Redis Cluster (three masters) and behind a Sentinel, not only one server.

Each store does one thing that only works if its keys and scripts suit the topology: the
governor's Lua scripts touch one key each (any cluster slot), the metrics read every worker's
window in one MGET (one hash tag), the response cache is read asynchronously as well, and
`redis+sentinel://` finds the master through the Sentinel.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from firsttoken import Engine, Settings
from firsttoken._state.connect import close_client, sync_client
from firsttoken.testing.emulator import Emulator
from tests.redis.conftest import API_KEY
from tests.redis.server import RedisTopology

pytestmark = pytest.mark.redis

OPUS, HAIKU = "claude-opus-5", "claude-haiku-5"
USER = [{"role": "user", "content": "What is a hash slot?"}]
EXACT = {"extra_body": {"temperature": 0}}
BILLING = {"extra_headers": {"x-emulator-reply": "billing"}}


@pytest.fixture(scope="module", params=["cluster", "sentinel"])
def topology(request: pytest.FixtureRequest) -> Iterator[RedisTopology]:
    try:
        topology = RedisTopology(request.param)
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    try:
        yield topology.start()
    finally:
        topology.close()


@pytest.fixture
def workers(topology: RedisTopology, emulator: Emulator) -> Iterator[tuple[Engine, Engine]]:
    emulator.reset()
    emulator.set_faults([])
    settings = {
        "base_url": emulator.base_url,
        "api_key": API_KEY,
        "max_retries": 0,
        "redis_url": topology.url,
        # A cluster client discovers the slots when it connects; give loopback a little more room.
        "redis_timeout": 0.5,
        "redis_prefix": f"firsttoken:{topology.kind}:",
    }
    a = Engine(Settings(**settings, breaker_failures=2, response_cache=True))  # type: ignore[arg-type]
    b = Engine(Settings(**settings, breaker_failures=2, response_cache=True))  # type: ignore[arg-type]
    try:
        yield a, b
    finally:
        a.close()
        b.close()
        client = sync_client(topology.url, 2.0)
        try:
            for key in client.scan_iter(match=f"firsttoken:{topology.kind}:*"):
                client.delete(key)
        finally:
            close_client(client)
        # A connection left open shows up here, as this test's ResourceWarning, not a later one's.
        gc.collect()


def test_workers_share_cooldowns_budgets_labels_and_metrics(
    workers: tuple[Engine, Engine], emulator: Emulator
) -> None:
    a, b = workers
    overloaded = {"x-emulator-fault": "overloaded@*opus*"}
    for _ in range(2):
        assert a.create(model=OPUS, fallbacks=[HAIKU], messages=USER, extra_headers=overloaded).model == HAIKU
    before = emulator.stats()["requests_by_model"].get(OPUS, 0)
    assert b.create(model=OPUS, fallbacks=[HAIKU], messages=USER).model == HAIKU
    assert emulator.stats()["requests_by_model"].get(OPUS, 0) == before  # B skipped opus: shared cooldown

    first = a.classification("refund my order", labels=["billing", "other"], default="other", **BILLING)
    second = b.classification("refund my order", labels=["billing", "other"], default="other", **BILLING)
    assert (first.source, second.source, second.label) == ("model", "cache", first.label)

    b.metrics_snapshot()  # publishes B's windows now
    snapshot = a.metrics_snapshot()
    assert snapshot["workers"] == 2
    assert snapshot["state"]["degraded"] is False


def test_the_response_cache_is_shared_sync_and_async(
    workers: tuple[Engine, Engine], emulator: Emulator
) -> None:
    import asyncio

    a, b = workers
    first = a.create(messages=USER, **EXACT)
    count = emulator.stats()["requests_total"]
    assert b.create(messages=USER, **EXACT).id == first.id

    async def from_async() -> str:
        return (await b.acreate(messages=USER, **EXACT)).id

    assert asyncio.run(from_async()) == first.id
    assert emulator.stats()["requests_total"] == count


def test_the_governor_keeps_one_budget_on_the_topology(workers: tuple[Engine, Engine]) -> None:
    a, b = workers
    headers = {"anthropic-ratelimit-requests-limit": "4", "anthropic-ratelimit-requests-remaining": "4"}
    budgets = [a.resilience.governor.budgets, b.resilience.governor.budgets]
    for budget in budgets:
        budget.observe(OPUS, 200, headers)
    admitted = sum(1 for i in range(10) if budgets[i % 2].reserve(OPUS, 10).wait == 0)
    assert admitted == 4


def test_a_held_chat_goes_on_from_the_other_worker_sync_and_async(
    workers: tuple[Engine, Engine], emulator: Emulator
) -> None:
    import asyncio

    from firsttoken import Relay

    a, b = workers

    def ask(engine: Engine, text: str) -> bytes:
        relay = Relay(
            engine,
            chat_id="topology-chat",
            hold=True,
            owner="alice",
            messages=[{"role": "user", "content": text}],
        )
        assert relay.open().status == 200
        return b"".join(relay)

    async def ask_async(engine: Engine, text: str) -> bytes:
        relay = Relay(
            engine,
            chat_id="topology-chat",
            hold=True,
            owner="alice",
            messages=[{"role": "user", "content": text}],
        )
        assert (await relay.aopen()).status == 200
        return b"".join([chunk async for chunk in relay])

    assert b'"chat_id":"topology-chat"' in ask(a, "Hello there.")
    assert b"event: done" in ask(b, "Tell me more.")
    assert b"event: done" in asyncio.run(ask_async(a, "And then?"))
    sent = [r.get("sent_messages") for r in emulator.requests if r["path"] == "/v1/messages"]
    assert sent[-3:] == [1, 3, 5]  # each worker read what the other held
