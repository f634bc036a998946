"""Threaded chats across two real workers on one real Redis: a Starlette worker (uvicorn) and a
Django one (gunicorn gthread, the sync store), sharing only Redis and the emulator. The worker that
held the first turn is killed before the second; the other continues the API's thread from what
Redis holds, and either serves the held messages to their owner alone."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import redis

from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import ServerSpec, run_servers
from tests.e2e.sse import parse
from tests.redis.server import RedisServer

pytestmark = pytest.mark.redis

PREFIX = "threads-test:"
TTL = 30.0
# A held chat's own TTL (`chat_ttl`), apart from the resumable answers'.
CHAT_TTL = 45.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with Emulator(time_scale=0.0, seed=5) as emu:
        yield emu


def _env(upstream: Emulator, redis_url: str) -> dict[str, str | None]:
    return {
        "ANTHROPIC_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-threads-test",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_REDIS_URL": redis_url,
        "FIRSTTOKEN_REDIS_PREFIX": PREFIX,
        "FIRSTTOKEN_RESUME_TTL": str(TTL),
        "FIRSTTOKEN_CHAT_TTL": str(CHAT_TTL),
        "FIRSTTOKEN_DEVELOPMENT": "1",
    }


def _ask(url: str, chat_id: str, text: str, owner: str = "alice") -> dict[str, Any]:
    # The examples' `agent` profile has `threads`.
    body = {"chat_id": chat_id, "profile": "agent", "messages": [{"role": "user", "content": text}]}
    response = httpx2.post(
        url + "/api/chat", json=body, headers={"Cookie": f"firsttoken_owner={owner}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    events = parse(response.content)
    assert not [e for e in events if e.name == "error"], events
    return next(e.data for e in events if e.name == "done")  # type: ignore[no-any-return]


def _sent(upstream: Emulator, n: int) -> list[tuple[str | None, int | None]]:
    asked = [r for r in upstream.requests if r["path"] == "/v1/messages"]
    return [(r.get("thread"), r.get("sent_messages")) for r in asked[-n:]]


def test_a_worker_killed_between_turns_loses_nothing_of_the_chat(
    upstream: Emulator, redis_server: RedisServer
) -> None:
    if redis_server.process is None:
        redis_server.start()
    env = _env(upstream, redis_server.url)
    django = [
        "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
        "--threads", "4", "--graceful-timeout", "2", "--log-level", "warning",
        "example_projects.django_chat.wsgi:application",
    ]  # fmt: skip
    with run_servers(
        ServerSpec(["-m", "example_projects.starlette_chat"], env=env), ServerSpec(django, env=env)
    ) as (
        a,
        b,
    ):
        first = _ask(a.url, "two-workers", "Hello there.")
        assert first["chat_id"] == "two-workers" and first["threaded"] is True
        os.kill(a.pid, signal.SIGKILL)
        a.process.wait(timeout=10)
        second = _ask(b.url, "two-workers", "Tell me more.")
        third = _ask(b.url, "two-workers", "And then?")
        assert second["threaded"] is True and third["usage"]["input_tokens"] > first["usage"]["input_tokens"]
        assert _sent(upstream, 3) == [("create", 1), ("continue", 1), ("continue", 1)]
        held = httpx2.get(
            f"{b.url}/api/chat/two-workers/messages", headers={"Cookie": "firsttoken_owner=alice"}
        )
        assert [m["role"] for m in held.json()["messages"]] == ["user", "assistant"] * 3
        other = httpx2.get(
            f"{b.url}/api/chat/two-workers/messages", headers={"Cookie": "firsttoken_owner=mallory"}
        )
        assert other.status_code == 404

    with redis.Redis.from_url(redis_server.url) as store:
        keys = sorted(k.decode() for k in store.scan_iter(match=f"{PREFIX}chat:*"))
        # The chat's head and its messages, under the deployment's prefix and one hash tag,
        # expiring with the chat TTL; no chat id or owner in their names.
        assert len(keys) == 2 and keys[1] == keys[0] + ":messages"
        assert not any("two-workers" in k or "alice" in k for k in keys)
        assert all(TTL * 1000 < store.pttl(k) <= CHAT_TTL * 1000 for k in keys)
        assert store.llen(keys[1]) == 6  # appended turn by turn
