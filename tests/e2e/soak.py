"""The soak driver of issue 19, shared by `tests/e2e/test_soak.py` (quick) and `benchmarks/soak.py` (long).

One run: an emulator with injected faults, a real redis-server, one example app under its production
server (no pytest marker, a fake but recognisable key, retries off, a `chat` fallback), then many
concurrent streams from 127.0.0.1 with some clients dropping after their first token, and Redis
killed half-way through the load (restarted at three quarters). What it returns is checked by the
caller: every stream that was not dropped ends in `done` (or in an `error` event for a mid-stream
fault, which no fallback can take once text reached the browser), every completed answer is
byte-identical to a fault-free answer to the same question from the same model, the server's fds and
threads come back to their warmed-up level, and the key appears in no log line, response or Redis key.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx2
import psutil

from firsttoken.testing.emulator import Emulator
from tests.redis.server import RedisServer

from .servers import Server, run_server
from .sse import named, parse

PRIMARY = "claude-sonnet-5-5"
FALLBACK = "claude-haiku-5-5"
# Listed first so it fires on draws below 0.05; overloaded fires on 0.05..0.15 (10% of arrivals).
FAULTS = [f"midstream_overloaded:0.05@{PRIMARY}", f"overloaded:0.15@{PRIMARY}"]
# fds other than the upstream and Redis pools' sockets must come back exactly: a leak of one fd per
# dropped or failed stream shows, and the pools (whose idle connections the SDK's and redis-py's
# keep-alive bounds keep or drop as they please) do not make the check flaky.
QUESTIONS = [f"Soak question {i}: what should I check first?" for i in range(6)]
# One gthread worker: the warm-up then grows its whole pool, so a thread above the baseline is a
# leak, not a pool thread that the load happened to start (two workers accept unevenly).
GUNICORN = ("-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--worker-class", "gthread", "--workers", "1")
GUNICORN_THREADS = 16
# Each framework's production server, as `python <argv>` (see tests/e2e/test_hardening.py).
PRODUCTION: dict[str, tuple[str, ...]] = {
    "starlette": ("-m", "uvicorn", "example_projects.starlette_chat.app:app", "--port", "{port}"),
    "fastapi": ("-m", "uvicorn", "example_projects.starlette_chat.fastapi_app:app", "--port", "{port}"),
    "django-asgi": ("-m", "uvicorn", "example_projects.django_chat.asgi:application", "--port", "{port}"),
    "django-wsgi": (
        *GUNICORN,
        "--threads",
        str(GUNICORN_THREADS),
        "example_projects.django_chat.wsgi:application",
    ),
    "flask": (*GUNICORN, "--threads", str(GUNICORN_THREADS), "example_projects.flask_chat.wsgi:app"),
}


@dataclass
class Outcome:
    question: str
    dropped: bool
    status: int = 0
    headers: str = ""
    body: bytes = b""
    error: str | None = None  # a transport error, never expected

    @property
    def events(self) -> list[Any]:
        return named(parse(self.body))


@dataclass
class SoakReport:
    framework: str
    streams: int
    seconds: float
    outcomes: list[Outcome]
    references: dict[tuple[str, str], str]
    emulator_stats: dict[str, Any]
    baseline: Level  # of the server's process tree, warmed up
    after: Level
    rounds_after: list[Level]  # after each round of the load
    redis_killed_at: int  # how many streams had started when Redis was killed
    scanned: dict[str, list[str]] = field(default_factory=dict)  # where -> texts searched for the key
    api_key: str = ""
    open_streams: int = -1  # what the server's /api/metrics counts once the load is over

    def faults_fired(self, kind: str) -> int:
        return sum(1 for e in self.emulator_stats["recent_requests"] if e.get("fault") == kind)

    def leaks(self) -> list[str]:
        """Where the key (or its random half) was found."""
        secret = self.api_key.rsplit("-", 1)[-1]
        return [where for where, texts in self.scanned.items() if any(secret in t for t in texts)]


class Level(NamedTuple):
    fds: int
    threads: int
    pooled: int  # of the fds, TCP connections to the upstream or to Redis (keep-alive pools)

    @property
    def other(self) -> int:
        return self.fds - self.pooled


def _tree(pid: int, pooled_ports: frozenset[int]) -> Level:
    """fds and threads of the server and its workers (gunicorn forks)."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    fds = threads = pooled = 0
    for proc in procs:
        try:
            fds += proc.num_fds()
            threads += proc.num_threads()
            pooled += sum(1 for c in proc.net_connections("tcp") if c.raddr and c.raddr.port in pooled_ports)
        except psutil.NoSuchProcess:
            pass
    return Level(fds, threads, pooled)


def _redis_texts(redis: RedisServer) -> list[str]:
    """Every key and every value, read by type (DUMP would compress long strings)."""
    texts: list[str] = []
    with redis.client() as client:
        for key in client.scan_iter(count=1000):
            texts.append(repr(key))
            kind = client.type(key).decode()
            if kind == "none":
                continue  # expired between SCAN and TYPE (a resume lease or reader lives seconds)
            readers: dict[str, Any] = {
                "string": client.get,
                "hash": client.hgetall,
                "list": lambda k: client.lrange(k, 0, -1),
                "set": client.smembers,
                "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                "stream": client.xrange,
            }
            value = readers[kind](key)  # a type not listed here is a KeyError, not a silent skip
            texts.append(repr(value))
    return texts


async def _one(client: httpx2.AsyncClient, outcome: Outcome) -> None:
    body = {"messages": [{"role": "user", "content": outcome.question}], "profile": "chat"}
    try:
        async with client.stream("POST", "/api/chat", json=body) as response:
            outcome.status = response.status_code
            outcome.headers = repr(response.headers.multi_items())
            async for chunk in response.aiter_raw():
                outcome.body += chunk
                if outcome.dropped and b"event: token" in outcome.body:
                    break  # leaving the block closes the connection mid-stream
    except httpx2.TransportError as exc:
        outcome.error = repr(exc)


async def _load(
    url: str, outcomes: Sequence[Outcome], concurrency: int, at: Mapping[int, Any], deadline: float
) -> None:
    """Run `outcomes` `concurrency` at a time; `at[n]()` runs (in a thread) once n streams started."""
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(base_url=url, timeout=30.0, limits=limits) as client:
        queue = iter(enumerate(outcomes))

        async def worker() -> None:
            for n, outcome in queue:
                if n in at:
                    await asyncio.to_thread(at[n])
                if time.monotonic() > deadline:
                    return
                await _one(client, outcome)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def _answer(events: list[Any]) -> tuple[str, str] | None:
    """(model, text) of a completed answer; None when it did not end in `done`. A `reset` (the
    answer restarted on the fallback model) drops what came before it, as the page does."""
    if not events or events[-1].name != "done":
        return None
    text: list[str] = []
    for event in events:
        if event.name == "reset":
            text.clear()
        elif event.name == "token":
            text.append(event.data["text"])
    return events[-1].data["model"], "".join(text)


@contextmanager
def _world(
    framework: str, time_scale: float, seed: int
) -> Iterator[tuple[Emulator, RedisServer, Server, str]]:
    api_key = f"sk-ant-soak-{secrets.token_hex(16)}"
    redis = RedisServer().start()
    try:
        with Emulator(time_scale=time_scale, seed=seed, request_log_size=1_000_000) as emulator:
            env: dict[str, str | None] = {
                # A production server: no pytest marker inherited, no development switch.
                "PYTEST_VERSION": None,
                "FIRSTTOKEN_DEVELOPMENT": None,
                "DJANGO_SETTINGS_MODULE": None,
                "ANTHROPIC_API_KEY": api_key,
                "ANTHROPIC_BASE_URL": emulator.base_url,
                # No SDK retries: an injected 529 must be carried by the profile's fallback.
                "FIRSTTOKEN_MAX_RETRIES": "0",
                "FIRSTTOKEN_PROFILES": json.dumps({"chat": {"fallbacks": [FALLBACK]}}),
                "FIRSTTOKEN_REDIS_URL": redis.url,
                # One load generator is one IP: budgets high enough to pass, still kept in Redis.
                "FIRSTTOKEN_CLIENT_REQUESTS_PER_MINUTE": "1000000",
                "FIRSTTOKEN_CLIENT_TOKENS_PER_MINUTE": "1000000000",
                # The cooldown would move every call to the fallback after five 529s; keep both paths.
                "FIRSTTOKEN_BREAKER_FAILURES": "1000000",
                # Answers are resumable (Redis is set), and a dropped client's answer goes on for the
                # grace period: on a WSGI server past the thread that served it, so the upstream
                # pool would keep more connections than the warm-up's peak, which the fd check
                # counts. The clients dropped here do not come back: a short grace ends their
                # answers as promptly as before.
                "FIRSTTOKEN_RESUME_GRACE": "0.1",
            }
            if framework == "fastapi":
                env["APP"] = "fastapi"
            with run_server(PRODUCTION[framework], env=env) as server:
                yield emulator, redis, server, api_key
    finally:
        redis.close()


def _settle(emulator: Emulator, pid: int, ports: frozenset[int], level: Level, timeout: float) -> Level:
    """Wait for the emulator's streams to close and the server's fds and threads to come back."""
    deadline = time.monotonic() + timeout
    while True:
        now = _tree(pid, ports)
        idle = emulator.stats()["streams_open"] == 0
        back = now.other <= level.other and now.threads <= level.threads
        if (idle and back) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def run_soak(
    framework: str,
    *,
    streams: int,
    concurrency: int,
    drop_rate: float = 0.1,
    seconds: float = 600.0,
    time_scale: float = 0.02,
    seed: int = 19,
    chaos: bool = True,
    rounds: int = 2,
) -> SoakReport:
    """`chaos` False: the same load with no faults, no drops and Redis left alone (the baseline the
    long mode compares throughput with). The streams run in `rounds` identical rounds, Redis killed
    in the first one only, the fds and threads taken after each: growth from round to round is a
    leak, growth in the first round alone is a pool reaching its size."""
    with _world(framework, time_scale, seed) as (emulator, redis, server, api_key):
        # Fault-free answers to every question from both models: the primary directly, the fallback
        # through an overload of the primary. The emulator is deterministic for a seed and a request,
        # and the server sends the same request for the same question, so a completed answer under
        # load must carry exactly these bytes.
        warm = [Outcome(q, dropped=False) for q in QUESTIONS]
        asyncio.run(_load(server.url, warm, len(warm), {}, time.monotonic() + 120))
        emulator.set_faults([f"overloaded@{PRIMARY}"])
        fallen = [Outcome(q, dropped=False) for q in QUESTIONS]
        asyncio.run(_load(server.url, fallen, len(fallen), {}, time.monotonic() + 120))
        references: dict[tuple[str, str], str] = {}
        for outcome in warm + fallen:
            answer = _answer(outcome.events)
            assert outcome.status == 200 and answer is not None, (outcome.status, outcome.body[-500:])
            references[(outcome.question, answer[0])] = answer[1]
        assert {model for _, model in references} == {PRIMARY, FALLBACK}, references.keys()
        # Warm the pools (gunicorn's threads, upstream connections) past the load's concurrency, then
        # the baseline: a thread pool keeps the threads it grew, which is not a leak.
        emulator.set_faults([])
        # Twice the load's concurrency: FastAPI's anyio pool keeps the threads of its peak too.
        wide = max(2 * concurrency, GUNICORN_THREADS + 8)
        burst = [Outcome(QUESTIONS[i % len(QUESTIONS)], dropped=False) for i in range(wide * 2)]
        asyncio.run(_load(server.url, burst, wide, {}, time.monotonic() + 120))
        ports = frozenset(p for p in (urlsplit(emulator.base_url).port, urlsplit(redis.url).port) if p)
        _settle(emulator, server.pid, ports, Level(10**9, 10**9, 0), 5.0)
        time.sleep(0.5)
        baseline = _tree(server.pid, ports)

        emulator.reset()  # arrival-ordered fault draws start again at 0: the same faults every run
        emulator.set_faults(FAULTS if chaos else [])
        every = max(1, round(1 / drop_rate)) if drop_rate and chaos else 0
        per_round = streams // rounds
        outcomes = [
            Outcome(QUESTIONS[i % len(QUESTIONS)], dropped=bool(every) and i % every == every - 1)
            for i in range(per_round * rounds)
        ]
        scanned: dict[str, list[str]] = {}
        kill_at, restart_at = per_round // 2, per_round * 3 // 4

        killed = threading.Event()

        def kill() -> None:  # runs in a thread of the load generator, between two streams' starts
            try:
                scanned["redis before the kill"] = _redis_texts(redis)
                redis.kill()
            finally:
                killed.set()

        def restart() -> None:
            # The scan before the kill can outlast the streams between the two (resumable answers'
            # streams are many keys): a restart before the kill would start a second server.
            killed.wait(60)
            redis.start()

        started = time.monotonic()
        rounds_after: list[Level] = []
        for n in range(rounds):
            events = {kill_at: kill, restart_at: restart} if chaos and n == 0 else {}
            batch = outcomes[n * per_round : (n + 1) * per_round]
            asyncio.run(_load(server.url, batch, concurrency, events, started + seconds))
            rounds_after.append(_settle(emulator, server.pid, ports, baseline, 15.0))
        took = time.monotonic() - started
        after = rounds_after[-1]
        stats = emulator.stats()

        with httpx2.Client(base_url=server.url, timeout=10.0) as client:
            pages = [client.get(p) for p in ("/api/metrics", "/metrics")]
        scanned["redis at the end"] = _redis_texts(redis)
        scanned["server log"] = [server.output()]
        scanned["responses"] = [
            o.headers + o.body.decode(errors="replace") for o in warm + fallen + burst + outcomes
        ]
        scanned["metrics"] = [repr(p.headers.multi_items()) + p.text for p in pages]
        ran = [o for o in outcomes if o.status or o.error]
        killed_at = kill_at if "redis before the kill" in scanned else -1
        return SoakReport(
            framework,
            len(ran),
            took,
            ran,
            references,
            stats,
            baseline,
            after,
            rounds_after,
            killed_at,
            scanned,
            api_key,
            pages[0].json()["open_streams"],
        )


def problems(report: SoakReport) -> list[str]:
    """Everything the soak promises, as a list of what broke (empty when all holds)."""
    found: list[str] = []
    errors = 0
    for n, outcome in enumerate(report.outcomes):
        if outcome.error is not None:
            found.append(f"stream {n}: transport error {outcome.error}")
            continue
        if outcome.status != 200:
            found.append(f"stream {n}: HTTP {outcome.status}: {outcome.body[:300]!r}")
            continue
        if outcome.dropped:
            continue
        events = outcome.events
        answer = _answer(events)
        if answer is None:
            if events and events[-1].name == "error":
                errors += 1
                continue
            found.append(f"stream {n}: ended without done or error: {outcome.body[-300:]!r}")
            continue
        expected = report.references.get((outcome.question, answer[0]))
        if answer[1] != expected:
            found.append(f"stream {n}: answer from {answer[0]} differs from the emulator's")
    midstream = report.faults_fired("midstream_overloaded")
    # An error event is only acceptable for a mid-stream fault whose answer could not go on (a
    # restart on a newer fallback ends in `done`).
    if errors > midstream:
        found.append(f"{errors} error events for {midstream} mid-stream faults")
    if report.emulator_stats["streams_open"] != 0:
        found.append(f"{report.emulator_stats['streams_open']} upstream streams still open")
    # A relay that never finished (a task or thread stuck on a gone client) would still count as open.
    if report.open_streams != 0:
        found.append(f"the server still counts {report.open_streams} open streams")
    for n, level in enumerate(report.rounds_after):
        if level.other > report.baseline.other:
            found.append(f"after round {n + 1}: {level} above the baseline {report.baseline}")
    # Thread pools keep idle threads until a later call prunes them (anyio's after 10 s idle, up to
    # its 40), so a pool can end a round above the warmed-up count; a leak grows round after round.
    first, last = report.rounds_after[0], report.rounds_after[-1]
    if last.threads > max(first.threads, report.baseline.threads):
        found.append(f"threads grew from round to round: {[r.threads for r in report.rounds_after]}")
    found.extend(f"the API key appears in {where}" for where in report.leaks())
    return found


def summary(report: SoakReport) -> dict[str, Any]:
    by_model: dict[str, int] = {}
    for outcome in report.outcomes:
        answer = None if outcome.dropped else _answer(outcome.events)
        if answer is not None:
            by_model[answer[0]] = by_model.get(answer[0], 0) + 1
    return {
        "framework": report.framework,
        "streams": report.streams,
        "seconds": round(report.seconds, 2),
        "streams_per_second": round(report.streams / report.seconds, 1),
        "dropped": sum(o.dropped for o in report.outcomes),
        "completed_by_model": by_model,
        "overloaded_529s": report.faults_fired("overloaded"),
        "midstream_faults": report.faults_fired("midstream_overloaded"),
        "error_events": sum(
            1 for o in report.outcomes if not o.dropped and o.events and o.events[-1].name == "error"
        ),
        "baseline": report.baseline._asdict(),
        "after_each_round": [level._asdict() for level in report.rounds_after],
        "open_streams_after": report.open_streams,
        "redis_killed_after_streams": report.redis_killed_at,
        "texts_scanned": sum(len(t) for t in report.scanned.values()),
        "problems": len(problems(report)),
    }
