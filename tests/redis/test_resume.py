"""Resumable answers across two real workers on one real Redis (#17).

Each pair is two separate server processes of one example (two uvicorn Starlette apps; two
gunicorn Django WSGI apps, whose producers are threads; two uvicorn Django ASGI apps), sharing
only Redis and the emulator, which counts what was generated. A connection dropped on one worker
is resumed on the other.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
import redis

from firsttoken.console import OWNER_COOKIE
from firsttoken.testing.emulator import Emulator
from tests.e2e.servers import Server, ServerSpec, run_servers
from tests.redis.server import RedisServer

pytestmark = pytest.mark.redis

PREFIX = "resume-test:"
GRACE = 1.0
TTL = 6.0
PROMPT = "Describe Redis streams."  # about 230 tokens from the seeded emulator: a few seconds


@dataclass
class Pair:
    name: str
    a: Server
    b: Server


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    # Real-time pace: an answer takes a couple of seconds, room to cut it halfway.
    with Emulator(time_scale=1.0, seed=3) as emu:
        yield emu


def _env(upstream: Emulator, redis_url: str) -> dict[str, str | None]:
    return {
        "ANTHROPIC_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-resume-test",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_REDIS_URL": redis_url,
        "FIRSTTOKEN_REDIS_PREFIX": PREFIX,
        "FIRSTTOKEN_REDIS_TIMEOUT": "0.5",
        "FIRSTTOKEN_RESUME_GRACE": str(GRACE),
        "FIRSTTOKEN_RESUME_TTL": str(TTL),
        "FIRSTTOKEN_DEVELOPMENT": "1",
    }


def _starlette(env: dict[str, str | None]) -> ServerSpec:
    return ServerSpec(["-m", "example_projects.starlette_chat"], env=env)


def _gunicorn_django(env: dict[str, str | None]) -> ServerSpec:
    argv = [
        "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
        "--threads", "8", "--graceful-timeout", "2", "--log-level", "warning",
        "example_projects.django_chat.wsgi:application",
    ]  # fmt: skip
    return ServerSpec(argv, env=env)


def _uvicorn_django(env: dict[str, str | None]) -> ServerSpec:
    argv = [
        "-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
        "example_projects.django_chat.asgi:application",
    ]  # fmt: skip
    return ServerSpec(argv, env=env)


PAIRS = {"starlette": _starlette, "django-gunicorn": _gunicorn_django, "django-asgi": _uvicorn_django}


@pytest.fixture(scope="module", params=list(PAIRS))
def pair(request: pytest.FixtureRequest, upstream: Emulator, redis_server: RedisServer) -> Iterator[Pair]:
    """Two workers of one app: uvicorn Starlette (task producers), gunicorn gthread Django WSGI
    (thread producers), uvicorn Django ASGI (task producers on Django's async views)."""
    if redis_server.process is None:
        redis_server.start()
    env = _env(upstream, redis_server.url)
    start = PAIRS[request.param]
    with run_servers(start(env), start(env)) as (a, b):
        yield Pair(request.param, a, b)


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis_server.client() as client:
        yield client


def _blocks(raw: bytes) -> list[bytes]:
    return [block + b"\n\n" for block in raw.split(b"\n\n") if block]


def _events(blocks: list[bytes]) -> list[tuple[int | None, str, dict[str, object]]]:
    found = []
    for block in blocks:
        if block.startswith(b":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.decode().strip().split("\n"))
        seq = int(fields["id"]) if "id" in fields else None
        found.append((seq, fields.get("event", "message"), json.loads(fields["data"])))
    return found


def _text(blocks: list[bytes]) -> str:
    return "".join(str(data["text"]) for _, name, data in _events(blocks) if name == "token")


def _read_some(server: Server, events: int) -> tuple[str, list[bytes]]:
    """POST a chat, read `events` events (comments aside), drop the connection."""
    got: list[bytes] = []
    buffer = b""
    body = {"messages": [{"role": "user", "content": PROMPT}]}
    with httpx2.Client(timeout=30) as client, client.stream("POST", server.url + "/api/chat", json=body) as r:
        assert r.status_code == 200
        rid = r.headers["x-response-id"]
        for chunk in r.iter_raw():
            buffer += chunk
            *complete, buffer = buffer.split(b"\n\n")
            got += [b + b"\n\n" for b in complete if b and not b.startswith(b":")]
            if len(got) >= events:
                break
    return rid, got[:events]


def _resume(server: Server, rid: str, last: int | None) -> httpx2.Response:
    headers = {} if last is None else {"Last-Event-ID": str(last)}
    with httpx2.Client(timeout=30) as client:
        return client.get(f"{server.url}/api/chat/{rid}/stream", headers=headers)


def _unbroken(server: Server) -> list[bytes]:
    with httpx2.Client(timeout=30) as client:
        r = client.post(server.url + "/api/chat", json={"messages": [{"role": "user", "content": PROMPT}]})
    assert r.status_code == 200
    return _blocks(r.content)


def _wait_closed(upstream: Emulator, timeout: float) -> float:
    start = time.monotonic()
    while upstream.stats()["streams_open"] > 0:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"the upstream stream was still open after {timeout}s")
        time.sleep(0.005)
    return time.monotonic() - start


def test_a_dropped_answer_resumes_on_the_other_worker_generated_once(pair: Pair, upstream: Emulator) -> None:
    reference = _text(_unbroken(pair.a))
    before = upstream.stats()["requests_total"]
    rid, first = _read_some(pair.a, 6)
    events = _events(first)
    assert events[0][1] == "start" and events[0][2] == {"response_id": rid}
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    resumed = _resume(pair.b, rid, events[-1][0])
    assert resumed.status_code == 200
    assert resumed.headers["x-response-id"] == rid
    rest = [b for b in _blocks(resumed.content) if not b.startswith(b":")]
    assert _events(rest)[0][0] == events[-1][0] + 1
    assert _events(rest)[-1][1] == "done"
    assert _text(first) + _text(rest) == reference
    # The whole stream, read again from the start, is exactly the bytes the two connections got.
    again = _resume(pair.b, rid, 0)
    assert [b for b in _blocks(again.content) if not b.startswith(b":")] == first + rest
    assert upstream.stats()["requests_total"] - before == 1
    # Everything read: nothing to resume.
    assert _resume(pair.a, rid, _events(rest)[-1][0]).status_code == 204
    # Counted where it was resumed (the dashboard's and the scrape's `resumed`), twice on b.
    with httpx2.Client(timeout=30) as client:
        scrape = client.get(pair.b.url + "/metrics").text
    assert re.search(r"^firsttoken_streams_resumed_total [2-9]", scrape, re.M), scrape[-2000:]


def test_resume_is_scoped_to_its_owner(pair: Pair) -> None:
    with httpx2.Client(timeout=30, cookies={OWNER_COOKIE: "alice"}) as alice:
        r = alice.post(pair.a.url + "/api/chat", json={"messages": [{"role": "user", "content": "hi"}]})
        rid = r.headers["x-response-id"]
        assert alice.get(f"{pair.b.url}/api/chat/{rid}/stream").status_code == 200
    with httpx2.Client(timeout=30, cookies={OWNER_COOKIE: "mallory"}) as mallory:
        assert mallory.get(f"{pair.b.url}/api/chat/{rid}/stream").status_code == 204
        assert mallory.post(f"{pair.b.url}/api/chat/{rid}/stop").status_code == 404
    assert _resume(pair.b, "not-a-real-id-but-long-enough", None).status_code == 204
    bad = httpx2.get(f"{pair.b.url}/api/chat/{rid}/stream", headers={"Last-Event-ID": "x"}, timeout=30)
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]


def test_stop_from_the_other_worker_ends_generation_at_once(pair: Pair, upstream: Emulator) -> None:
    rid, first = _read_some(pair.a, 3)
    assert upstream.stats()["streams_open"] == 1
    with httpx2.Client(timeout=30) as client:
        started = time.monotonic()
        stopped = client.post(f"{pair.b.url}/api/chat/{rid}/stop")
    assert stopped.status_code == 200 and stopped.json() == {"stopped": True}
    took = time.monotonic() - started
    took += _wait_closed(upstream, 2.0)
    assert took < 0.2, took
    # The stream ends with the stop, for whoever resumes it.
    tail = _events(_blocks(_resume(pair.b, rid, _events(first)[-1][0]).content))
    assert tail[-1][1:] == ("error", {"type": "stopped", "message": "the answer was stopped"})


def test_an_answer_nobody_reads_is_cancelled_after_the_grace_period(pair: Pair, upstream: Emulator) -> None:
    disconnects = upstream.stats()["client_disconnects"]
    _read_some(pair.a, 2)
    time.sleep(GRACE / 2)
    assert upstream.stats()["streams_open"] == 1  # still generating, within the grace period
    _wait_closed(upstream, GRACE + 1.0)
    assert upstream.stats()["client_disconnects"] == disconnects + 1


def test_a_killed_producer_gives_the_resumer_an_error_event(
    upstream: Emulator, redis_server: RedisServer
) -> None:
    env = _env(upstream, redis_server.url)
    with run_servers(_starlette(env), _starlette(env)) as (a, b):
        rid, first = _read_some(a, 4)
        os.kill(a.pid, signal.SIGKILL)
        a.process.wait(timeout=10)
        started = time.monotonic()
        resumed = _resume(b, rid, _events(first)[-1][0])
        assert resumed.status_code == 200
        events = _events(_blocks(resumed.content))
        assert events[-1][1] == "error" and events[-1][2]["type"] == "interrupted"
        assert time.monotonic() - started < 6.0
        _wait_closed(upstream, 5.0)


def test_keys_carry_the_prefix_and_expire(pair: Pair, store: redis.Redis) -> None:
    with httpx2.Client(timeout=30) as client:
        r = client.post(pair.a.url + "/api/chat", json={"messages": [{"role": "user", "content": "hi"}]})
    rid = r.headers["x-response-id"]
    keys = [k.decode() for k in store.scan_iter(match=f"*{rid}*")]
    assert keys and all(k.startswith(PREFIX) for k in keys)
    assert all(0 < store.pttl(k) <= TTL * 1000 for k in keys), {k: store.pttl(k) for k in keys}
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", rid)
    time.sleep(TTL + 0.5)
    assert list(store.scan_iter(match=f"*{rid}*")) == []
    assert _resume(pair.b, rid, 0).status_code == 204
