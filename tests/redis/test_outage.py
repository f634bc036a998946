"""Redis down or slow never takes a request down; the fallback is logged once, flagged, and heals."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable

import pytest

from firsttoken import Engine
from tests.redis.server import RedisServer

pytestmark = pytest.mark.redis

USER = [{"role": "user", "content": "Still there?"}]
BILLING = {"extra_headers": {"x-emulator-reply": "billing"}}
LABELS = {"labels": ["billing", "other"], "default": "other"}


def _outage_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "firsttoken.state"]


def test_killing_redis_loses_no_call_and_restarting_it_restores_sharing(
    make_engine: Callable[..., Engine], redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="firsttoken.state")
    a, b = make_engine(), make_engine()
    a.create(messages=USER)
    redis_server.kill()
    for _ in range(20):
        assert a.create(messages=USER).content
        with a.stream(messages=USER) as stream:
            assert "".join(stream)
    assert a.classification("refund", **LABELS, **BILLING).label == "billing"
    state = a.metrics_snapshot()["state"]
    assert state["degraded"] is True and state["outages"] == 1
    assert len(_outage_logs(caplog)) == 1
    assert "unreachable" in _outage_logs(caplog)[0]
    redis_server.start()
    # The guard tries Redis again a second after its last failure.
    time.sleep(1.1)
    a.create(messages=USER)
    assert a.metrics_snapshot()["state"]["degraded"] is False
    assert "answers again" in _outage_logs(caplog)[-1]
    time.sleep(1.1)
    b.create(messages=USER)
    # Shared again: what A learns now, B reads from Redis.
    assert a.classification("chargeback", **LABELS, **BILLING).source == "model"
    assert b.classification("chargeback", **LABELS, **BILLING).source == "cache"


def test_a_hung_redis_costs_one_short_timeout_not_one_per_call(
    make_engine: Callable[..., Engine], redis_server: RedisServer
) -> None:
    engine = make_engine(redis_timeout=0.05)
    engine.create(messages=USER)
    assert redis_server.process is not None
    pid = redis_server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.perf_counter()
        for _ in range(10):
            engine.create(messages=USER)
        took = time.perf_counter() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    # Ten calls at 0 time-scale; a timeout on every Redis step would be 10 x ~4 x 50 ms = 2 s.
    assert took < 1.0, took
    assert engine.metrics_snapshot()["state"]["outages"] == 1
