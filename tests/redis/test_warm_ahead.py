"""Two real servers on one Redis share the dedup of warming while typing (`POST /api/warm`).

Each server is its own process with its own engine; the warm's claims live in Redis, so a
conversation warmed by one is skipped by the other, and two warms of it at once send one.
Without Redis each server keeps its own claims: both warm (the control).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server, ServerSpec, run_servers
from tests.redis.server import RedisServer

pytestmark = pytest.mark.redis

LONG = "Two workers, one conversation, one warm of its prefix in the prompt cache. " * 160


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    # Real time, so a warm (the prefill of ~3,000 tokens) lasts long enough for two to overlap.
    with Emulator(time_scale=1.0, seed=8) as emu:
        yield emu


@contextlib.contextmanager
def two_servers(upstream: Emulator, redis_url: str | None) -> Iterator[tuple[Server, Server]]:
    env = {
        "ANTHROPIC_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-warm-test-not-a-key",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_REDIS_URL": redis_url,
        "FIRSTTOKEN_REDIS_TIMEOUT": "0.5",
    }
    argv = ("-m", "example_projects.starlette_chat")
    with run_servers(ServerSpec(argv, env=env), ServerSpec(argv, env=env)) as (one, two):
        yield one, two


def _warm(server: Server, messages: list[dict[str, str]]) -> dict[str, Any]:
    response = httpx2.post(
        server.url + "/api/warm", json={"messages": messages, "profile": "chat"}, timeout=30
    )
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def _conversation(tag: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"[{tag}] {LONG}"},
        {"role": "assistant", "content": "One of you warms it; the other reads it."},
    ]


def _warm_calls(upstream: Emulator) -> int:
    return sum(
        1 for e in upstream.stats()["recent_requests"] if e["path"] == "/v1/messages" and not e.get("stream")
    )


def test_a_prefix_warmed_by_one_server_is_skipped_by_the_other(
    upstream: Emulator, redis_server: RedisServer, redis_url: str
) -> None:
    upstream.reset()
    with two_servers(upstream, redis_url) as (one, two):
        so_far = _conversation("sequential")
        assert _warm(one, so_far) == {"warmed": True}
        second = _warm(two, so_far)
        assert second["warmed"] is False and "recently" in second["reason"]
        assert _warm_calls(upstream) == 1


def test_two_warms_at_once_on_two_servers_send_one(
    upstream: Emulator, redis_server: RedisServer, redis_url: str
) -> None:
    upstream.reset()
    with two_servers(upstream, redis_url) as (one, two):
        so_far = _conversation("concurrent")
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda server: _warm(server, so_far), (one, two)))
        assert sorted(a["warmed"] for a in answers) == [False, True], answers
        assert _warm_calls(upstream) == 1


def test_without_redis_each_server_warms_on_its_own(upstream: Emulator) -> None:
    upstream.reset()
    with two_servers(upstream, None) as (one, two):
        so_far = _conversation("no redis")
        assert _warm(one, so_far) == {"warmed": True}
        assert _warm(two, so_far) == {"warmed": True}
        assert _warm_calls(upstream) == 2
