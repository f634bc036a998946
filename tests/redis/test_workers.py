"""Four real gunicorn workers on one Redis share cooldowns, budgets, warming, caches and metrics.

Each worker is its own process with its own engine (and its own lock directory, like a separate
machine); the emulator counts what reaches the upstream.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from firsttoken.testing.emulator import Emulator, RateLimit
from tests.e2e.servers import Server, free_port, run_server
from tests.redis.server import RedisServer

pytestmark = pytest.mark.redis

WORKERS = 4
OPUS, HAIKU, SONNET = "claude-opus-5", "claude-haiku-5", "claude-sonnet-5"
BIG_SYSTEM = "You answer questions about the firsttoken library precisely. " * 660
SONNET_RPM = 20


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with Emulator(
        time_scale=0.0, seed=5, rate_limits=[RateLimit(model="*sonnet*", requests_per_minute=SONNET_RPM)]
    ) as emu:
        yield emu


@pytest.fixture(scope="module")
def workers(upstream: Emulator, redis_server: RedisServer) -> Iterator[Server]:
    if redis_server.process is None:
        redis_server.start()
    port = free_port()
    profiles = {"chat": {"prefix_system": BIG_SYSTEM, "keep_warm": False, "model": OPUS}}
    env = {
        "ANTHROPIC_BASE_URL": upstream.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-workers-test",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_BREAKER_FAILURES": "3",
        "FIRSTTOKEN_REDIS_URL": redis_server.url,
        # What is shared is under test here, not the outage path: a loaded CI machine must not
        # push a Redis step past its timeout and into local state (tests/redis/test_outage.py).
        "FIRSTTOKEN_REDIS_TIMEOUT": "0.5",
        "FIRSTTOKEN_RESPONSE_CACHE": "true",
        "FIRSTTOKEN_PROFILES": json.dumps(profiles),
    }
    argv = [
        "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
        "--worker-class", "gthread", "--threads", "4", "--graceful-timeout", "2", "--log-level", "warning",
        "tests.redis.worker_app:app",
    ]  # fmt: skip
    with run_server(argv, env=env, port=port) as server:
        yield server


@pytest.fixture(scope="module")
def http(workers: Server) -> Iterator[httpx2.Client]:
    # No keep-alive: each request may land on any worker.
    with httpx2.Client(
        base_url=workers.url, timeout=30, limits=httpx2.Limits(max_keepalive_connections=0)
    ) as client:
        yield client


def _call(http: httpx2.Client, **body: Any) -> tuple[int, dict[str, Any]]:
    response = http.post("/call", json=body)
    return response.status_code, response.json()


def _until_other_worker(http: httpx2.Client, pid: int, send: Any) -> dict[str, Any]:
    for _ in range(200):
        answer: dict[str, Any] = send()
        if answer["pid"] != pid:
            return answer
    raise AssertionError("every request landed on one worker")


def test_overloads_seen_by_some_workers_cool_the_model_down_for_all(
    http: httpx2.Client, upstream: Emulator
) -> None:
    pids = set()
    for _ in range(3):
        status, answer = _call(http, model=OPUS, fallbacks=[HAIKU], fault="overloaded@*opus*")
        assert (status, answer["model"]) == (200, HAIKU)
    before = upstream.stats()["requests_by_model"].get(OPUS, 0)
    # Sequential calls may all land on one worker; go on until a second one has answered too.
    for calls in range(200):
        status, answer = _call(http, model=OPUS, fallbacks=[HAIKU])
        assert (status, answer["model"]) == (200, HAIKU)
        pids.add(answer["pid"])
        if calls >= 11 and len(pids) >= 2:
            break
    assert len(pids) >= 2
    assert upstream.stats()["requests_by_model"].get(OPUS, 0) == before


def test_workers_draw_on_one_rate_limit_budget(http: httpx2.Client, upstream: Emulator) -> None:
    before = upstream.stats()["requests_by_status"].get("429", 0)
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda _: _call(http, model=SONNET, on_rate_limit="fail"), range(3 * SONNET_RPM))
        )
    statuses = [status for status, _ in results]
    upstream_429 = upstream.stats()["requests_by_status"].get("429", 0) - before
    # About the budget went through; the rest were refused locally, not by the upstream (budgets
    # per worker would let ~40 of these 60 reach it and be refused there). A known race costs the
    # odd one: a call admitted before another but sent after it is not in the other's `remaining`
    # header (seen 0-2 times a run on a quiet machine, 3 and once 4 under CI's load; the fix needs
    # each call's send time, see the #8/#9 notes). The race only ever refuses locally: the upstream
    # bound stays.
    assert SONNET_RPM - 4 <= statuses.count(200) <= SONNET_RPM + 2
    assert upstream_429 <= 2, upstream_429
    assert len({answer["pid"] for _, answer in results}) >= 2


def test_exactly_one_worker_warms_the_prefix(http: httpx2.Client) -> None:
    seen: dict[int, list[str]] = {}
    for _ in range(60):
        answer = http.post("/warm").json()
        seen.setdefault(answer["pid"], []).extend(answer["statuses"])
        if len(seen) == WORKERS:
            break
    assert len(seen) >= 2
    warmers = [pid for pid, statuses in seen.items() if "warmed" in statuses]
    assert len(warmers) == 1, seen
    assert all(set(s) == {"held_elsewhere"} for pid, s in seen.items() if pid != warmers[0])


def test_classification_and_response_caches_are_shared(http: httpx2.Client) -> None:
    first = http.get("/classify", params={"text": "where is my invoice"}).json()
    assert first["source"] == "model"
    other = _until_other_worker(
        http, first["pid"], lambda: http.get("/classify", params={"text": "where is my invoice"}).json()
    )
    assert other["source"] == "cache"
    status, exact = _call(http, exact=True, prompt="Name a colour.")
    assert status == 200
    again = _until_other_worker(
        http, exact["pid"], lambda: _call(http, exact=True, prompt="Name a colour.")[1]
    )
    assert again["id"] == exact["id"]
    tenant = _until_other_worker(
        http, exact["pid"], lambda: _call(http, exact=True, prompt="Name a colour.", tenant="acme")[1]
    )
    assert tenant["id"] != exact["id"]


def test_metrics_cover_the_whole_deployment(http: httpx2.Client) -> None:
    # A worker publishes once it has recorded a call: make sure every one has, rather than count on
    # the earlier tests' requests having reached all of them (a loaded host's accepts can skip one).
    served: set[int] = set()
    for _ in range(200):
        status, answer = _call(http, prompt="Count me in.")
        assert status == 200
        served.add(answer["pid"])
        if len(served) == WORKERS:
            break
    assert len(served) == WORKERS, served
    time.sleep(1.3)
    before = http.get("/metrics").json()
    assert before["workers"] == WORKERS
    for _ in range(12):
        assert _call(http, prompt="Count me.")[0] == 200
    time.sleep(1.3)
    after = http.get("/metrics").json()
    assert after["workers"] == WORKERS
    assert after["total"]["count"] == before["total"]["count"] + 12


def test_killing_redis_mid_load_loses_no_request_and_a_restart_restores_sharing(
    http: httpx2.Client, redis_server: RedisServer
) -> None:
    done = threading.Event()
    count = 0
    lock = threading.Lock()

    def one(_: int) -> int:
        nonlocal count
        status, _answer = _call(http, prompt="Keep going.")
        with lock:
            count += 1
            if count == 20:
                done.set()
        return status

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(80)]
        assert done.wait(30)
        redis_server.kill()
        statuses = [f.result() for f in futures]
    assert statuses == [200] * 80
    redis_server.start()
    time.sleep(1.2)
    for _ in range(WORKERS * 3):
        assert _call(http, prompt="Back again.")[0] == 200
    first = http.get("/classify", params={"text": "after the restart"}).json()
    assert first["source"] == "model"
    other = _until_other_worker(
        http, first["pid"], lambda: http.get("/classify", params={"text": "after the restart"}).json()
    )
    assert other["source"] == "cache"


def test_a_turn_paused_on_one_worker_goes_on_on_another(http: httpx2.Client) -> None:
    # Each pause is answered by whichever worker takes the next request: go on until one pair
    # crossed workers. With the paused turn in one worker's memory the crossing one would be a 409.
    prompt = 'Please set_reminder({"text": "water the plants", "at": "2026\\u002d12\\u002d24T18:00"}).'
    crossed = 0
    for _ in range(40):
        paused = http.post("/turn", json={"prompt": prompt}).json()
        assert len(paused["awaiting"]) == 1 and paused["outputs"] == []
        answer = {"prompt": prompt, "approvals": [{"id": paused["awaiting"][0], "approved": True}]}
        response = http.post("/turn", json=answer)
        assert response.status_code == 200, response.text
        resumed = response.json()
        assert resumed["awaiting"] == [] and resumed["outputs"] == [
            "reminder set for 2026-12-24T18:00:00: water the plants"
        ]
        crossed += resumed["pid"] != paused["pid"]
        if crossed >= 2:
            break
    assert crossed >= 2
    # Taken once, wherever it is answered.
    assert http.post("/turn", json=answer).status_code == 409
