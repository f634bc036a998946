"""The per-client budget shared by every worker through a real Redis, and its local fallback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from firsttoken import Engine, Refused, Settings
from tests.redis.server import RedisServer

pytest.importorskip("redis")

pytestmark = pytest.mark.redis


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server.start()
    try:
        yield server
    finally:
        server.close()


def workers(redis: RedisServer, count: int, **settings: object) -> list[Engine]:
    base = Settings(
        redis_url=redis.url,
        base_url="http://127.0.0.1:9",
        api_key="sk-ant-test",
        client_requests_per_minute=3,
        client_tokens_per_minute=0,
    )
    return [Engine(base.replace(**settings)) for _ in range(count)]


def test_two_workers_draw_on_one_budget(redis: RedisServer) -> None:
    first, second = workers(redis, 2)
    try:
        first.limits.admit("203.0.113.7", 10)
        second.limits.admit("203.0.113.7", 10)
        first.limits.admit("203.0.113.7", 10)
        with pytest.raises(Refused) as caught:
            second.limits.admit("203.0.113.7", 10)
        assert caught.value.status == 429 and int(dict(caught.value.headers)["Retry-After"]) >= 1
        second.limits.admit("198.51.100.1", 10)  # another client
        # The client's name reaches Redis only as a digest.
        with redis.client() as client:
            keys = [key.decode() for key in client.keys("*")]
        assert keys and not any("203.0.113.7" in key for key in keys)
    finally:
        first.close()
        second.close()


async def test_async_admission_shares_the_budget(redis: RedisServer) -> None:
    first, second = workers(redis, 2)
    try:
        await first.limits.aadmit("u-1", 1)
        second.limits.admit("u-1", 1)
        await first.limits.aadmit("u-1", 1)
        with pytest.raises(Refused):
            await second.limits.aadmit("u-1", 1)
    finally:
        await first.aclose()
        await second.aclose()


def test_with_redis_gone_each_worker_keeps_a_local_budget(redis: RedisServer) -> None:
    (engine,) = workers(redis, 1, client_requests_per_minute=2)
    try:
        redis.kill()
        engine.limits.admit("c", 1)
        engine.limits.admit("c", 1)
        with pytest.raises(Refused):
            engine.limits.admit("c", 1)
    finally:
        engine.close()
